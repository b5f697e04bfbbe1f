"""Issue 10, item 8: a repeating task makes at most one task a day, whatever RRULE is typed, and one scheduler run
creates at most a bounded number of tasks (one rule with ``FREQ=DAILY;BYHOUR=…;BYMINUTE=…`` made 593)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from core.db import db, unit_of_work
from core.models import Task, TaskRecurrence
from core.services.platform.errors import InvalidInput
from core.services.work import recurrence
from core.testing.fixtures import post_form

START = datetime(2027, 3, 8, 6, 30, tzinfo=UTC)
ZONES = ("UTC", "Europe/Moscow", "Asia/Vladivostok", "America/New_York")
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _numbers(low: int, high: int, most: int) -> st.SearchStrategy[str]:
    return st.lists(st.integers(low, high), min_size=1, max_size=most).map(lambda v: ",".join(map(str, v)))


@st.composite
def rules(draw: st.DrawFn) -> str:
    """RRULE text from every part dateutil reads, in any mix, with an end (COUNT or UNTIL) or without."""
    parts = ["FREQ=" + draw(st.sampled_from(("SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY",
                                             "YEARLY")))]
    optional = {
        "INTERVAL": st.integers(1, 12).map(str),
        "BYHOUR": _numbers(0, 23, 4),
        "BYMINUTE": _numbers(0, 59, 4),
        "BYSECOND": _numbers(0, 59, 3),
        "BYDAY": st.lists(st.sampled_from(DAYS), min_size=1, max_size=7, unique=True).map(",".join),
        "BYMONTHDAY": _numbers(-31, 31, 3).filter(lambda v: "0" not in v.split(",")),
        "BYMONTH": _numbers(1, 12, 3),
        "BYSETPOS": st.sampled_from(("1", "-1", "1,2", "2,-1")),
        "BYYEARDAY": _numbers(1, 366, 3),
        "BYWEEKNO": _numbers(1, 53, 2),
    }
    for name, values in optional.items():
        if draw(st.booleans()) and draw(st.booleans()):
            parts.append(f"{name}={draw(values)}")
    end = draw(st.sampled_from(("count", "until", "none")))
    if end == "count":
        parts.append(f"COUNT={draw(st.integers(1, 1200))}")
    elif end == "until":
        until = START + timedelta(days=draw(st.integers(-10, 365 * 12)))
        parts.append("UNTIL=" + until.strftime("%Y%m%dT%H%M%S"))
    return ";".join(draw(st.permutations(parts)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=rules(), zone=st.sampled_from(ZONES))
@example(text="FREQ=DAILY;BYHOUR=" + ",".join(map(str, range(24))) + ";BYMINUTE=0,15,30,45;COUNT=1000",
         zone="UTC")
@example(text="FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0,30;COUNT=10", zone="UTC")
@example(text="FREQ=DAILY;BYSECOND=5;COUNT=10", zone="UTC")
@example(text="FREQ=WEEKLY;BYDAY=MO;BYHOUR=9,18;COUNT=10", zone="UTC")
@example(text="FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;COUNT=3", zone="UTC")
def test_every_accepted_rule_gives_at_most_one_task_a_day(app, text, zone):
    started = time.monotonic()
    with app.app_context(), unit_of_work():
        try:
            rule = recurrence.parse_rule(text, START, ZoneInfo(zone))
        except InvalidInput as exc:
            assert str(exc.errors["rrule"]), text  # refused with a reason
            return
        finally:
            assert time.monotonic() - started < 2, f"{text} took {time.monotonic() - started:.1f} s to check"
    occurrences = list(islice(rule, 400))
    assert occurrences, text
    days = [moment.date() for moment in occurrences]
    assert len(days) == len(set(days)), f"{text} gives several tasks a day: {occurrences[:5]}"


@pytest.mark.parametrize("text", [
    "FREQ=DAILY;BYHOUR=9,10;COUNT=5", "FREQ=DAILY;BYHOUR=9;BYMINUTE=0,30;COUNT=5", "FREQ=DAILY;BYSECOND=0;COUNT=5",
    "FREQ=HOURLY;COUNT=5", "FREQ=MINUTELY;COUNT=5", "FREQ=SECONDLY;COUNT=5",
])
def test_rules_more_often_than_daily_are_refused_in_words_on_the_form(app, admin, admin_client, text):
    for language, words in (("en", ("once a day", "daily at most")), ("ru", ("раз в день", "не чаще"))):
        response = post_form(admin_client, "/tasks/recurring", {
            "title": "Планёрка", "rrule": text, "due_date": "10.01.2030", "due_time": "09:00"},
            headers={"Accept-Language": language})
        assert response.status_code == 422, text
        assert any(word in response.get_data(as_text=True) for word in words), (text, language)
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(func.count(TaskRecurrence.id))) == 0


def _store(owner_id: int, text: str, starts_at: datetime, lead_days: int = 3) -> int:
    """A rule as stored (also as an older version may have stored it, before the checks)."""
    rule = TaskRecurrence(rrule=text, starts_at=starts_at, timezone="Europe/Moscow", owner_id=owner_id,
                          author_id=owner_id, template={"title": "Отчёт"}, lead_days=lead_days)
    db.session.add(rule)
    db.session.commit()
    return rule.id


def test_a_flood_rule_stored_earlier_creates_nothing_and_stops(app, admin):
    with app.app_context(), unit_of_work():
        rule_id = _store(admin.id, "FREQ=DAILY;BYHOUR=" + ",".join(map(str, range(24))) +
                         ";BYMINUTE=0,10,20,30,40,50;COUNT=1000", datetime.now(UTC) - timedelta(days=30))
        assert recurrence.generate() == 0
        assert db.session.get(TaskRecurrence, rule_id).active is False


def test_one_run_creates_at_most_the_cap_and_later_runs_catch_up_exactly(app, admin):
    total = recurrence.MAX_PER_RULE_RUN * 2 + 17
    with app.app_context(), unit_of_work():
        rule_id = _store(admin.id, f"FREQ=DAILY;COUNT={total}", datetime.now(UTC) - timedelta(days=total + 30))
        runs = []
        while (made := recurrence.generate()) and len(runs) < 10:
            runs.append(made)
        assert runs == [recurrence.MAX_PER_RULE_RUN, recurrence.MAX_PER_RULE_RUN, 17]
        due = list(db.session.scalars(select(Task.occurrence_at).where(Task.recurrence_id == rule_id)))
        assert len(due) == total == len({d.date() for d in due})
        assert db.session.get(TaskRecurrence, rule_id).active is False


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=rules(), lead_days=st.integers(0, 60), days_back=st.integers(0, 800))
def test_the_generator_never_makes_more_than_the_cap(app, admin, text, lead_days, days_back):
    with app.app_context(), unit_of_work():
        starts_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=days_back)
        rule_id = _store(admin.id, text, starts_at, lead_days)
        try:
            made = recurrence.generate()
            assert made <= recurrence.MAX_PER_RULE_RUN
            due = list(db.session.scalars(select(Task.due_at).where(Task.recurrence_id == rule_id)))
            zone = ZoneInfo("Europe/Moscow")
            assert len(due) == made == len({d.astimezone(zone).date() for d in due}), text
        finally:
            db.session.execute(delete(Task).where(Task.recurrence_id == rule_id))
            db.session.execute(delete(TaskRecurrence).where(TaskRecurrence.id == rule_id))
            db.session.commit()


def test_one_run_creates_at_most_the_overall_cap_over_all_rules(app, admin):
    rules_needed = recurrence.MAX_PER_RUN // recurrence.MAX_PER_RULE_RUN + 1
    with app.app_context(), unit_of_work():
        ids = [_store(admin.id, f"FREQ=DAILY;COUNT={recurrence.MAX_PER_RULE_RUN}",
                      datetime.now(UTC) - timedelta(days=recurrence.MAX_PER_RULE_RUN + 10))
               for _ in range(rules_needed)]
        assert recurrence.generate() == recurrence.MAX_PER_RUN
        assert recurrence.generate() == rules_needed * recurrence.MAX_PER_RULE_RUN - recurrence.MAX_PER_RUN
        counts = [db.session.scalar(select(func.count(Task.id)).where(Task.recurrence_id == i)) for i in ids]
        assert counts == [recurrence.MAX_PER_RULE_RUN] * rules_needed
