"""Tasks (issue 4): validation, my day in the owner's time zone, reminders, overdue events, recurrence without
duplicates, and handing all open work to a colleague with history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.db import db, unit_of_work
from core.models import Notification, OutboxEvent, OwnerChange, Task, Team, User
from core.services.clients import contacts
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.services.work import deals, reassign, recurrence, tasks


def _actor(user_id: int) -> Actor:
    return Actor(db.session.get(User, user_id))


def test_task_validation_names_each_field(app, admin):
    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        with pytest.raises(InvalidInput) as info:
            tasks.save(actor, None, {"title": "", "due_at": "01.01.2020 10:00", "priority": "urgent!!",
                                     "remind_minutes": "-5", "remind_via": ["pigeon"]})
        assert set(info.value.errors) == {"title", "due_at", "priority", "remind_minutes", "remind_via"}
        with pytest.raises(InvalidInput) as info:
            tasks.save(actor, None, {"title": "Позвонить", "due_at": "31.02.2027"})
        assert "due_at" in info.value.errors
        assert db.session.scalar(select(func.count(Task.id))) == 0


def test_my_day_groups_by_the_owners_day(app, make_user):
    user = make_user("sales@example.com", grants={("task", "view"): "own", ("task", "create"): "own",
                                                  ("task", "edit"): "own"})
    with app.app_context(), unit_of_work():
        owner = db.session.get(User, user.id)
        owner.timezone = "Asia/Vladivostok"  # UTC+10: "today" there is not today in UTC
        db.session.commit()
        actor = _actor(user.id)
        now = datetime.now(UTC)
        local = now.astimezone(tasks.zone_of(owner))
        today_late = local.replace(hour=23, minute=50, second=0, microsecond=0)
        overdue = tasks.save(actor, None, {"title": "Просрочено", "due_at": now + timedelta(minutes=2)})
        db.session.execute(Task.__table__.update().where(Task.id == overdue.id)
                           .values(due_at=now - timedelta(hours=1)))
        db.session.commit()
        today = tasks.save(actor, None, {"title": "Сегодня", "due_at": today_late.strftime("%Y-%m-%d %H:%M")}) \
            if today_late > local + timedelta(minutes=1) else None
        upcoming = tasks.save(actor, None, {"title": "Потом", "due_at": (now + timedelta(days=3)).isoformat()})
        undated = tasks.save(actor, None, {"title": "Когда-нибудь"})
        day = tasks.my_day(actor)
        assert [t.id for t in day.overdue] == [overdue.id]
        assert [t.id for t in day.today] == ([today.id] if today else [])
        assert upcoming.id in [t.id for t in day.upcoming] and [t.id for t in day.undated] == [undated.id]


def test_reminder_is_sent_once_and_overdue_event_once(app, admin):
    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        due = datetime.now(UTC) + timedelta(minutes=30)
        task = tasks.save(actor, None, {"title": "Отправить КП", "due_at": due, "remind_minutes": "30",
                                        "remind_via": ["app", "email"]})
        assert task.remind_at == due - timedelta(minutes=30)
        later = due + timedelta(minutes=1)
        assert tasks.send_reminders(later) == 1
        assert tasks.send_reminders(later) == 0
        reminders = db.session.scalars(select(Notification).where(Notification.message.like("Reminder%"))).all()
        assert len(reminders) == 1 and reminders[0].params["title"] == "Отправить КП"
        assert tasks.flag_overdue(later) == 1 and tasks.flag_overdue(later) == 0
        names = list(db.session.scalars(select(OutboxEvent.name).order_by(OutboxEvent.id)))
        assert names.count("task_overdue") == 1 and "task_created" in names
        tasks.set_status(actor, task, "done")
        assert task.completed_at is not None
        assert "task_completed" in db.session.scalars(select(OutboxEvent.name)).all()


@pytest.mark.parametrize("rule, message_fragment", [
    ("FREQ=WEEKLY", "never ends"),
    ("FREQ=SOMETIMES;COUNT=3", "cannot be read"),
    ("FREQ=HOURLY;COUNT=3", "daily at most"),
    ("FREQ=DAILY;COUNT=5000", "at most"),
    ("FREQ=DAILY;UNTIL=20200101T000000", "no date after"),
])
def test_bad_rules_are_refused_with_the_reason(app, admin, rule, message_fragment):
    with app.app_context(), unit_of_work():
        with pytest.raises(InvalidInput) as info:
            recurrence.create(_actor(admin.id), {"title": "Отчёт", "rrule": rule,
                                                 "starts_at": "2027-01-10 10:00"})
        assert message_fragment in str(info.value.errors["rrule"])


def test_quarterly_rule_creates_each_occurrence_once(app, admin):
    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        rule = recurrence.create(actor, {"title": "Квартальный отчёт", "lead_days": "5",
                                         "rrule": "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=5;COUNT=4",
                                         "starts_at": "2027-01-05 10:00"})
        start = rule.starts_at
        assert recurrence.generate(start - timedelta(days=10)) == 0
        assert recurrence.generate(start - timedelta(days=4)) == 1
        assert recurrence.generate(start - timedelta(days=4)) == 0  # a restarted scheduler runs it again
        assert recurrence.generate(start + timedelta(days=400)) == 3
        due = sorted(db.session.scalars(select(Task.due_at).where(Task.recurrence_id == rule.id)))
        assert [d.month for d in due] == [1, 4, 7, 10] and len(set(due)) == 4
        assert db.session.get(type(rule), rule.id).active is False  # finished after COUNT


def test_duplicate_occurrence_is_refused_by_the_database(app, admin):
    with app.app_context(), unit_of_work():
        rule = recurrence.create(_actor(admin.id), {"title": "Планёрка", "rrule": "FREQ=DAILY;COUNT=2",
                                                    "starts_at": datetime.now(UTC) + timedelta(hours=1)})
        recurrence.generate()
        first = db.session.scalar(select(Task).where(Task.recurrence_id == rule.id).order_by(Task.id))
        from sqlalchemy.exc import IntegrityError

        with pytest.raises(IntegrityError):
            db.session.add(Task(title="dup", recurrence_id=rule.id, occurrence_at=first.occurrence_at))
            db.session.flush()
        db.session.rollback()


def test_reassign_all_open_work_with_history(app, admin, make_user):
    leaving = make_user("leaving@example.com")
    taking = make_user("taking@example.com")
    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        team = Team(name="Продажи")
        db.session.add(team)
        db.session.commit()
        pipeline = deals.ensure_default_pipeline()
        client = contacts.save(actor, None, {"first_name": "Клиент", "owner_id": leaving.id})
        deal = deals.save(actor, None, {"title": "Сделка", "pipeline_id": pipeline.id, "owner_id": leaving.id,
                                        "contact_id": client.id})
        won = deals.save(actor, None, {"title": "Закрыта", "pipeline_id": pipeline.id, "owner_id": leaving.id})
        deals.move(actor, won, next(s.id for s in pipeline.stages if s.kind == "won"))
        task = tasks.save(actor, None, {"title": "Позвонить", "owner_id": leaving.id})
        done = tasks.save(actor, None, {"title": "Готово", "owner_id": leaving.id})
        tasks.set_status(actor, done, "done")
        assert reassign.count_open_work(leaving.id) == {"task": 1, "deal": 1, "contact": 1, "company": 0}
        with pytest.raises(InvalidInput):
            reassign.reassign(actor, from_user_id=leaving.id, to_user_id=leaving.id)
        moved = reassign.reassign(actor, from_user_id=leaving.id, to_user_id=taking.id, reason="Отпуск")
        assert moved == {"task": 1, "deal": 1, "contact": 1, "company": 0}
        assert db.session.get(Task, task.id).owner_id == taking.id
        assert db.session.get(Task, done.id).owner_id == leaving.id  # finished work stays with who did it
        assert db.session.get(type(won), won.id).owner_id == leaving.id
        changes = reassign.history("deal", deal.id)
        assert changes[-1].reason == "Отпуск" and changes[-1].to_owner_id == taking.id
        assert db.session.scalar(select(func.count(OwnerChange.id)).where(OwnerChange.reason == "Отпуск")) == 3
        deal_id = deal.id
    from core.testing.fixtures import sign_in

    browser = app.test_client()
    sign_in(browser, "admin@example.com")
    assert "Отпуск" in browser.get(f"/deals/{deal_id}").text  # the deal's page shows who handed it over and why


def test_team_load_counts_each_person_up_to_the_cap(app, admin, make_user, monkeypatch):
    busy = make_user("busy@example.com", full_name="Занятой")
    gone = make_user("gone@example.com", full_name="Уволенный")
    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        soon = datetime.now(UTC) + timedelta(minutes=10)
        for n in range(4):
            tasks.save(actor, None, {"title": f"Дело {n}", "owner_id": busy.id, "due_at": soon})
        tasks.save(actor, None, {"title": "Осталось", "owner_id": gone.id})
        db.session.get(User, gone.id).is_active = False
        db.session.commit()
        monkeypatch.setattr(tasks, "TEAM_COUNT_CAP", 2)
        rows = {row["user"].email: row for row in tasks.team_load(actor)}
        assert rows["busy@example.com"]["open"] == 3  # 2 counted, the third says "more"
        assert rows["gone@example.com"]["open"] == 1  # left, but still owns open work: shown for handover
        assert rows["admin@example.com"]["open"] == 0
