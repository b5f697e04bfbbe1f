"""Task pages (issue 4): my day with overdue in red, the form's errors, done with htmx, comments, recurring,
the team view and handing over work."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.db import db, unit_of_work
from core.models import Task, TaskRecurrence, User
from core.services.platform.context import Actor
from core.services.work import reassign, tasks
from core.testing.fixtures import csrf_token, post_form


def test_my_day_form_done_and_comment(app, admin, admin_client):
    page = admin_client.get("/tasks/")
    assert page.status_code == 200 and "My day" in page.text
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    bad = post_form(admin_client, "/tasks/new", {"title": "", "due_date": "2001-01-01", "due_time": "10:00"})
    assert bad.status_code == 422 and "before the task was created" in bad.text
    made = post_form(admin_client, "/tasks/new", {"title": "Позвонить <b>клиенту</b>", "due_date": tomorrow,
                                                  "due_time": "10:00", "priority": "high",
                                                  "remind_minutes": "15", "remind_via": "app"})
    assert made.status_code == 302
    with app.app_context(), unit_of_work():
        task = db.session.scalar(select(Task))
        task_id = task.id
        assert task.remind_at == task.due_at - timedelta(minutes=15)
        actor = Actor(db.session.get(User, admin.id))
        late = tasks.save(actor, None, {"title": "Просрочено", "due_at": datetime.now(UTC) + timedelta(minutes=5)})
        db.session.execute(Task.__table__.update().where(Task.id == late.id)
                           .values(due_at=datetime.now(UTC) - timedelta(hours=2)))
        db.session.commit()
    page = admin_client.get("/tasks/")
    assert "Позвонить &lt;b&gt;клиенту&lt;/b&gt;" in page.text and "task-overdue" in page.text
    done = admin_client.post(f"/tasks/{task_id}/status", headers={"HX-Request": "true"},
                             data={"status": "done", "csrf_token": csrf_token(admin_client)})
    assert done.status_code == 200 and "text-decoration-line-through" in done.text
    assert "HX-Trigger" in done.headers
    post_form(admin_client, f"/tasks/{task_id}/comments", {"body": "Перезвонил, ждёт КП"})
    card = admin_client.get(f"/tasks/{task_id}")
    assert "Перезвонил, ждёт КП" in card.text


def test_one_task_form_sets_a_repeating_task_with_client_deal_assignee_and_reminder(app, admin, admin_client,
                                                                                     make_user):
    from core.models import Task
    from core.services.clients import contacts
    from core.services.work import deals

    helper = make_user("helper@example.com", full_name="Гена Помощник")
    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, admin.id))
        client = contacts.save(actor, None, {"first_name": "Ольга", "last_name": "Клиентова"})
        deal = deals.save(actor, None, {"title": "Годовой договор", "pipeline_id": deals.ensure_default_pipeline().id,
                                        "contact_id": client.id})
        client_id, deal_id = client.id, deal.id
    form = admin_client.get("/tasks/new?repeat=monthly").text
    for field in ('name="contact_id"', 'name="company_id"', 'name="deal_id"', 'name="owner_id"',
                  'name="remind_minutes"', 'name="repeat"', 'name="month_day"', 'name="count"', 'name="until"'):
        assert field in form, field
    assert 'name="rrule"' not in form and "FREQ=" not in form  # nobody types RRULE text
    # the series starts on the 1st of next month, so its first task (the 5th) is 5–35 days away, within the 40 days
    # shown ahead, whatever today's date (starting tomorrow, a quarter on the 5th was months away after the 5th)
    start = ((datetime.now(UTC).replace(day=1) + timedelta(days=32)).replace(day=1)).strftime("%Y-%m-%d")
    fields = {"title": "Сверка актов", "due_date": start, "due_time": "10:00", "owner_id": helper.id,
              "contact_id": client_id, "deal_id": deal_id, "remind_minutes": "60", "remind_via": ["app", "email"],
              "repeat": "quarterly", "month_day": "5", "ends": "count", "count": "8", "lead_days": "40"}
    endless = post_form(admin_client, "/tasks/new", {**fields, "count": ""}, headers={"Accept-Language": "ru"})
    assert endless.status_code == 422 and 'name="count"' in endless.text
    saved = post_form(admin_client, "/tasks/new", fields, headers={"Accept-Language": "ru"})
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/tasks/recurring")
    with app.app_context(), unit_of_work():
        rule = db.session.scalar(select(TaskRecurrence))
        assert rule.rrule == "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=5;COUNT=8" and rule.owner_id == helper.id
        assert rule.template["contact_id"] == client_id and rule.template["deal_id"] == deal_id
        assert rule.template["remind_minutes"] == 60 and rule.template["remind_via"] == ["app", "email"]
        made = db.session.scalars(select(Task).where(Task.recurrence_id == rule.id)).all()
        assert made, "the first task appears at once"  # due on the 5th, within the 40 days shown ahead
        assert all(t.contact_id == client_id and t.deal_id == deal_id and t.owner_id == helper.id for t in made)
        assert all(t.remind_at == t.due_at - timedelta(minutes=60) and t.remind_via == ["app", "email"]
                   for t in made)
        first_id = made[0].id
    shown = admin_client.get(f"/tasks/{first_id}", headers={"Accept-Language": "ru"}).text
    assert "каждый квартал, 5-го числа, 8 раз" in shown  # each task says how it repeats
    page = admin_client.get("/tasks/recurring", headers={"Accept-Language": "ru"}).text
    assert "Каждый квартал, 5-го числа, 8 раз" in page and "FREQ=" not in page
    assert "Ольга Клиентова" in page and "Годовой договор" in page and "за 1 час" in page


def test_repeat_words_follow_the_choices_as_they_change(app, admin, admin_client):
    words = admin_client.get("/tasks/repeat-words?repeat=weekly&by_day=MO&by_day=TH&ends=count&count=4",
                             headers={"Accept-Language": "ru", "HX-Request": "true"}).text
    assert "каждую неделю по понедельникам и четвергам, 4 раза" in words
    wrong = admin_client.get("/tasks/repeat-words?repeat=monthly&month_day=40&count=4").text
    assert "text-danger" in wrong and "day of the month" in wrong


def test_team_view_and_handover_shows_what_moves_then_moves_exactly_that_then_undoes(app, admin, admin_client,
                                                                                     make_user):
    from core.models import Contact, Deal
    from core.services.clients import contacts
    from core.services.work import deals

    leaving = make_user("leaving@example.com", full_name="Уходящий")
    taking = make_user("taking@example.com", full_name="Принимающий")
    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, admin.id))
        pipeline_id = deals.ensure_default_pipeline().id
        for i in range(3):
            tasks.save(actor, None, {"title": f"Дело {i}", "owner_id": leaving.id})
        deals.save(actor, None, {"title": "Сделка Уходящего", "pipeline_id": pipeline_id, "owner_id": leaving.id})
        contacts.save(actor, None, {"first_name": "Клиент", "last_name": "Уходящего", "owner_id": leaving.id})
    team = admin_client.get("/tasks/team")
    assert team.status_code == 200 and "Уходящий" in team.text
    preview = admin_client.get(f"/tasks/handover?from_user_id={leaving.id}").text
    assert "Open tasks: 3" in preview and "Open deals: 1" in preview and "Contacts: 1" in preview
    for name in ("Дело 0", "Дело 2", "Сделка Уходящего", "Клиент Уходящего"):
        assert name in preview, name  # every record that will move, by name
    with app.app_context(), unit_of_work():
        task_ids = list(db.session.scalars(select(Task.id).order_by(Task.id)))
        deal_id, contact_id = db.session.scalar(select(Deal.id)), db.session.scalar(select(Contact.id))
        late = tasks.save(Actor(db.session.get(User, admin.id)), None, {"title": "Позже", "owner_id": leaving.id})
        late_id = late.id
    moved = post_form(admin_client, "/tasks/handover", {
        "from_user_id": leaving.id, "to_user_id": taking.id, "entities": ["task", "deal"], "reason": "Увольнение",
        "ids.task": task_ids, "ids.deal": [deal_id], "ids.contact": [contact_id]})
    assert moved.status_code == 302 and "handed=" in moved.headers["Location"]
    with app.app_context(), unit_of_work():
        owners = dict(db.session.execute(select(Task.id, Task.owner_id)).all())
        assert all(owners[i] == taking.id for i in task_ids)
        assert owners[late_id] == leaving.id  # not in the list shown: it stays
        assert db.session.scalar(select(Deal.owner_id)) == taking.id
        assert db.session.scalar(select(Contact.owner_id)) == leaving.id  # contacts were not chosen
    done_page = admin_client.get(moved.headers["Location"]).text
    handed = re.search(r'name="handed" value="(\d+)"', done_page).group(1)
    undone = post_form(admin_client, "/tasks/handover/undo", {"handed": handed, "from_user_id": leaving.id})
    assert undone.status_code == 302
    with app.app_context(), unit_of_work():
        assert set(db.session.scalars(select(Task.owner_id))) == {leaving.id}
        assert db.session.scalar(select(Deal.owner_id)) == leaving.id
        history = reassign.history("task", task_ids[0])
        assert [h.to_owner_id for h in history] == [taking.id, leaving.id]  # both moves are in the history
    again = post_form(admin_client, "/tasks/handover/undo", {"handed": handed}, follow_redirects=True)
    assert "Nothing to give back" in again.text
    for bad in ("", "x", "²", "99999999999999999999"):
        assert post_form(admin_client, "/tasks/handover/undo", {"handed": bad}).status_code == 302
        assert admin_client.get(f"/tasks/handover?from_user_id={bad}").status_code in (200, 400)


def test_sales_cannot_see_a_colleagues_day(app, make_user, client, login):
    sales = make_user("sales@example.com", grants={("task", "view"): "own"})
    other = make_user("other@example.com")
    login(sales)
    assert client.get("/tasks/").status_code == 200
    assert client.get(f"/tasks/?owner={other.id}").status_code == 403
    assert client.get("/tasks/team").status_code == 403
    assert client.get("/tasks/handover").status_code == 403


@pytest.mark.parametrize("section", ["overdue", "today", "upcoming", "undated"])
def test_my_day_names_what_each_task_is_about_in_every_section(app, admin, admin_client, section):
    """The names of a task's contact, company and deal are read with the section's own statement (no second
    statement per page), and each is a link, in whichever section the task falls."""
    from core.services.clients import companies, contacts
    from core.services.work import deals

    now = datetime.now(UTC)
    due = {"overdue": None, "today": None, "upcoming": now + timedelta(days=2), "undated": None}[section]
    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, admin.id))
        firm = companies.save(actor, None, {"name": "ООО «Северный ветер»"})
        person = contacts.save(actor, None, {"first_name": "Глеб", "last_name": "Ершов"})
        pipeline = deals.ensure_default_pipeline()
        deal = deals.save(actor, None, {"title": "Поставка турбин", "pipeline_id": pipeline.id, "amount": "10"})
        task = tasks.save(actor, None, {"title": "Обсудить сроки", "contact_id": person.id, "company_id": firm.id,
                                        "deal_id": deal.id, "due_at": due.isoformat() if due else None})
        if section in ("overdue", "today"):
            moment = now - timedelta(minutes=30) if section == "overdue" else now + timedelta(minutes=1)
            db.session.execute(Task.__table__.update().where(Task.id == task.id).values(due_at=moment))
        ids = (person.id, firm.id, deal.id)
        zone = tasks.zone_of(actor.user)
    if section == "today" and (now + timedelta(minutes=1)).astimezone(zone).date() != now.astimezone(zone).date():
        pytest.skip("the day ends within the minute")
    with app.app_context():
        day = tasks.my_day(Actor(db.session.get(User, admin.id)))
        assert [row.title for row in getattr(day, section)] == ["Обсудить сроки"]
    page = admin_client.get("/tasks/").text
    assert f'href="/contacts/{ids[0]}">Ершов Глеб</a>' in page or f'href="/contacts/{ids[0]}">Глеб Ершов</a>' in page
    assert f'href="/companies/{ids[1]}">ООО «Северный ветер»</a>' in page
    assert f'href="/deals/{ids[2]}">Поставка турбин</a>' in page
