"""The home page is the manager's day (issue 10, item 15): tasks ticked off in place, new inbox items, open deals by
stage with sums, recent activity on my clients and, for a manager, the team's figures; only what the reader may see,
within the query budget."""

from __future__ import annotations

import re
from datetime import timedelta

from core.db import db, unit_of_work
from core.models import Team, User, utcnow
from core.services.clients import contacts, timeline
from core.services.platform.context import Actor
from core.services.users.zones import day_bounds, local_today, zone_of
from core.services.work import deals, inbox, tasks
from core.testing.fixtures import create_user, post_form, sign_in
from tests.test_query_budget import BUDGET, counted

CLIENT = ("view", "create", "edit")
SALES = {**{(e, a): "own" for e in ("contact", "company", "deal", "task") for a in CLIENT},
         ("inbox", "view"): "own", ("inbox", "edit"): "own"}
MANAGER = {**{(e, a): "team" for e in ("contact", "company", "deal", "task") for a in (*CLIENT, "assign")},
           ("inbox", "view"): "team", ("inbox", "edit"): "team"}


def _book(app, owner_id: int, tag: str, *, amount: str = "150000") -> dict[str, int]:
    """A contact with a note, a deal, an overdue task, a task due later today and one due next week."""
    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, owner_id))
        person = contacts.save(actor, None, {"first_name": f"Клиент{tag}", "last_name": "Тестов", "owner_id": owner_id,
                                             "phones": [{"raw": "+7 916 555-00-11"}]})
        timeline.record(kind="note", contact_id=person.id, author_id=owner_id, body=f"Заметка {tag}")
        pipeline = deals.ensure_default_pipeline()
        deal = deals.save(actor, None, {"title": f"Сделка {tag}", "pipeline_id": pipeline.id, "amount": amount,
                                        "contact_id": person.id, "owner_id": owner_id})
        now = utcnow()
        user = db.session.get(User, owner_id)
        _start, end = day_bounds(local_today(user, now), zone_of(user))
        soon = (now + (end - now) / 2).strftime("%Y-%m-%d %H:%M")
        overdue = tasks.save(actor, None, {"title": f"Просрочено {tag}", "owner_id": owner_id,
                                           "contact_id": person.id, "deal_id": deal.id, "due_at": soon})
        overdue.due_at = now - timedelta(days=1)  # tasks cannot be set in the past: it became overdue
        today = tasks.save(actor, None, {"title": f"Сегодня {tag}", "owner_id": owner_id, "due_at": soon})
        later = tasks.save(actor, None, {"title": f"Позже {tag}", "owner_id": owner_id,
                                         "due_at": (now + timedelta(days=9)).strftime("%Y-%m-%d %H:%M")})
        db.session.commit()
        return {"contact": person.id, "deal": deal.id, "overdue": overdue.id, "today": today.id, "later": later.id,
                "pipeline": pipeline.id}


def _shows_amount(html: str, thousands: str) -> bool:
    """Whether the page shows `thousands` 000 in any grouping ("777,000", "777 000"); digits inside a timestamp's
    microseconds or a token do not count."""
    return re.search(rf"(?<![\d.]){thousands}\D?000(?!\d)", html) is not None


def _client(app, user):
    client = app.test_client()
    sign_in(client, user.email)
    return client


def test_a_salesperson_sees_their_day_and_nothing_of_a_colleague(app, admin):
    anna = create_user(app, "anna@example.com", grants=SALES, full_name="Анна")
    boris = create_user(app, "boris@example.com", grants=SALES, full_name="Борис")
    mine = _book(app, anna.id, "А")
    theirs = _book(app, boris.id, "Б", amount="777000")
    with app.app_context(), unit_of_work():
        inbox.receive(inbox.IncomingItem(channel="phone", name="Звонящий Новый", phone="+7 903 111-22-33"))
    html = _client(app, anna).get("/").get_data(as_text=True)
    assert f'id="task-{mine["overdue"]}"' in html and "task-overdue" in html
    assert f'id="task-{mine["today"]}"' in html
    assert f'id="task-{mine["later"]}"' not in html  # next week is not today
    assert "КлиентА Тестов" in html and "Сделка А" in html  # what the task is about, named
    assert "Заметка А" in html  # recent activity on my clients
    assert "150" in html and "My open deals" in html
    for foreign in ("КлиентБ", "Сделка Б", "Просрочено Б", "Заметка Б"):
        assert foreign not in html, foreign
    assert not _shows_amount(html, "777")
    assert f"/contacts/{theirs['contact']}\"" not in html
    assert "My team today" not in html  # a salesperson has no team block
    assert "Звонящий Новый" not in html  # an unassigned call is for those who sort for a team


def test_ticking_a_task_off_on_the_home_page_swaps_its_row(app, admin):
    anna = create_user(app, "anna@example.com", grants=SALES)
    mine = _book(app, anna.id, "А")
    client = _client(app, anna)
    assert f'hx-post="/tasks/{mine["overdue"]}/status"' in client.get("/").get_data(as_text=True)
    response = post_form(client, f"/tasks/{mine['overdue']}/status", {"status": "done"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    row = response.get_data(as_text=True)
    assert row.lstrip().startswith("<li") and f'id="task-{mine["overdue"]}"' in row and "line-through" in row
    assert f'id="task-{mine["overdue"]}"' not in client.get("/").get_data(as_text=True)


def test_a_manager_sees_the_team_figures_of_their_team_only(app, admin):
    with app.app_context(), unit_of_work():
        team = Team(name="Продажи Москва")
        db.session.add(team)
        db.session.commit()
        db.session.refresh(team)
        db.session.expunge(team)
    boss = create_user(app, "boss@example.com", grants=MANAGER, teams=[team], full_name="Мария Руководитель")
    member = create_user(app, "member@example.com", grants=SALES, teams=[team], full_name="Пётр Участник")
    stranger = create_user(app, "stranger@example.com", grants=SALES, full_name="Чужой Продавец")
    _book(app, member.id, "М", amount="200000")
    _book(app, member.id, "М2", amount="50000")
    _book(app, stranger.id, "Ч", amount="999000")
    html = _client(app, boss).get("/").get_data(as_text=True)
    assert "My team today" in html
    row = re.search(rf'<tr id="team-{member.id}">(.*?)</tr>', html, re.S)
    assert row, html
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    text = [re.sub(r"<[^>]+>", "", c).strip() for c in cells]
    assert text[0] == "Пётр Участник"
    assert text[1] == "2" and "250" in text[2]  # two open deals, 250 000
    assert text[3] == "2"  # two overdue tasks
    assert text[4] == "2"  # two deals created today
    assert f'id="team-{boss.id}"' in html
    assert "Чужой Продавец" not in html and not _shows_amount(html, "999") and f'id="team-{stranger.id}"' not in html


def test_a_contact_centre_sees_only_what_it_submitted(app, admin):
    centre = create_user(app, "centre@example.com", grants={("lead", "submit"): "own", ("lead", "view"): "own"})
    with app.app_context(), unit_of_work():
        inbox.receive(inbox.IncomingItem(channel="phone", name="Чужой звонок", phone="+7 903 111-22-33"))
    html = _client(app, centre).get("/").get_data(as_text=True)
    assert "Leads you submitted" in html and "Чужой звонок" not in html
    assert "My open deals" not in html and "My tasks for today" not in html and "My team today" not in html


def test_empty_states_explain_and_offer_the_first_action(app, admin):
    anna = create_user(app, "anna@example.com", grants=SALES)
    html = _client(app, anna).get("/").get_data(as_text=True)
    assert "Nothing due today" in html and 'href="/tasks/new"' in html
    assert "No open deals" in html and 'href="/deals/new"' in html
    assert "Nothing has happened yet" in html and 'href="/contacts/new"' in html
    assert "The inbox is empty" in html


def test_an_operator_without_a_team_sees_no_team_block(app, admin):
    operator = create_user(app, "op@example.com", grants={("contact", "view"): "all", ("deal", "view"): "all",
                                                          ("task", "view"): "own", ("task", "assign"): "all",
                                                          ("inbox", "view"): "all"})
    with app.app_context(), unit_of_work():
        inbox.receive(inbox.IncomingItem(channel="phone", name="Звонок оператору", phone="+7 903 111-22-33"))
    html = _client(app, operator).get("/").get_data(as_text=True)
    assert "My team today" not in html and "Звонок оператору" in html


def test_the_home_page_stays_within_the_query_budget(app, admin):
    with app.app_context(), unit_of_work():
        team = Team(name="Бюджет")
        db.session.add(team)
        db.session.commit()
        db.session.refresh(team)
        db.session.expunge(team)
    boss = create_user(app, "boss@example.com", grants=MANAGER, teams=[team])
    people = [create_user(app, f"p{i}@example.com", grants=SALES, teams=[team]) for i in range(4)]
    for person in [boss, *people]:
        for n in range(8):
            _book(app, person.id, f"{person.id}-{n}")
    with app.app_context(), unit_of_work():
        for n in range(10):
            inbox.receive(inbox.IncomingItem(channel="phone", name=f"Звонок {n}", phone=f"+7 903 000-{n:04d}"))
    for user in (boss, people[0], admin):
        client = _client(app, user)
        client.get("/")
        with counted(app) as statements:
            assert client.get("/").status_code == 200
        assert len(statements) <= BUDGET, f"{user.email}: {len(statements)} statements:\n" + "\n".join(statements)


def test_the_home_page_in_russian(app, admin):
    with app.app_context(), unit_of_work():
        team = Team(name="Команда")
        db.session.add(team)
        db.session.commit()
        db.session.refresh(team)
        db.session.expunge(team)
    boss = create_user(app, "boss@example.com", grants=MANAGER, teams=[team], locale="ru", full_name="Мария")
    _book(app, boss.id, "Р", amount="1250000.5")
    html = _client(app, boss).get("/").get_data(as_text=True)
    for text in ("Мои задачи на сегодня", "Просрочено", "Мои открытые сделки", "Недавние события по моим клиентам",
                 "Моя команда сегодня", "Новые лиды за сегодня", "1\u00a0250\u00a0000,50\u00a0₽"):
        assert text in html, text
    assert "My open deals" not in html


def test_a_record_given_to_someone_else_is_no_longer_named(app, admin):
    """My task about a client who now belongs to a colleague: the task stays mine, the client's name goes."""
    from core.models import Contact, Deal

    anna = create_user(app, "anna@example.com", grants=SALES)
    boris = create_user(app, "boris@example.com", grants=SALES)
    mine = _book(app, anna.id, "А")
    with app.app_context(), unit_of_work():
        db.session.get(Contact, mine["contact"]).owner_id = boris.id
        db.session.get(Deal, mine["deal"]).owner_id = boris.id
        db.session.commit()
    html = _client(app, anna).get("/").get_data(as_text=True)
    assert f'id="task-{mine["overdue"]}"' in html
    assert "КлиентА" not in html and "Сделка А" not in html and "Заметка А" not in html
    assert f'/contacts/{mine["contact"]}"' not in html and f'/deals/{mine["deal"]}"' not in html
