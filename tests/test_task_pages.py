"""Task pages (issue 4): my day with overdue in red, the form's errors, done with htmx, comments, recurring,
the team view and handing over work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from core.db import db
from core.models import Task, TaskRecurrence, User
from core.services import tasks
from core.services.context import Actor
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
    with app.app_context():
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


def test_recurring_form_refuses_an_endless_rule_and_saves_a_weekly_one(app, admin, admin_client):
    start = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d")
    endless = post_form(admin_client, "/tasks/recurring", {"title": "Планёрка", "due_date": start, "due_time": "10:00",
                                                           "preset": "weekly", "by_day": ["MO", "TH"]})
    assert endless.status_code == 422 and "never ends" in endless.text
    until = (datetime.now(UTC) + timedelta(days=60)).strftime("%Y-%m-%d")
    saved = post_form(admin_client, "/tasks/recurring", {"title": "Планёрка", "due_date": start, "due_time": "10:00",
                                                         "preset": "weekly", "by_day": ["MO", "TH"], "until": until})
    assert saved.status_code == 302
    with app.app_context():
        rule = db.session.scalar(select(TaskRecurrence))
        assert rule.rrule.startswith("FREQ=WEEKLY;BYDAY=MO,TH;UNTIL=")


def test_team_view_and_handover(app, admin, admin_client, make_user):
    leaving = make_user("leaving@example.com", full_name="Уходящий")
    taking = make_user("taking@example.com", full_name="Принимающий")
    with app.app_context():
        actor = Actor(db.session.get(User, admin.id))
        tasks.save(actor, None, {"title": "Дело", "owner_id": leaving.id})
    team = admin_client.get("/tasks/team")
    assert team.status_code == 200 and "Уходящий" in team.text
    preview = admin_client.get(f"/tasks/handover?from_user_id={leaving.id}")
    assert "open tasks: 1" in preview.text
    moved = post_form(admin_client, "/tasks/handover", {"from_user_id": leaving.id, "to_user_id": taking.id,
                                                        "entities": ["task", "deal"], "reason": "Увольнение"})
    assert moved.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Task.owner_id)) == taking.id


def test_sales_cannot_see_a_colleagues_day(app, make_user, client, login):
    sales = make_user("sales@example.com", grants={("task", "view"): "own"})
    other = make_user("other@example.com")
    login(sales)
    assert client.get("/tasks/").status_code == 200
    assert client.get(f"/tasks/?owner={other.id}").status_code == 403
    assert client.get("/tasks/team").status_code == 403
    assert client.get("/tasks/handover").status_code == 403
