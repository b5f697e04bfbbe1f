"""Recurring tasks: an RFC 5545 RRULE ("every quarter on the 5th") and the task to create for each occurrence.

The scheduler calls :func:`generate` every few minutes. Occurrences already created are skipped, and the unique
key ``(recurrence_id, occurrence_at)`` refuses a second copy even if two runs overlap (the losing run rolls back
and its retry finds the tasks there), so a restarted scheduler never creates a task twice, and an occurrence
missed while the scheduler was down is created when it comes back.
"""

from __future__ import annotations

import re
from datetime import MAXYEAR, UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.db import db
from core.models import Company, Contact, Deal, Task, TaskRecurrence, utcnow
from core.models.tasks import PRIORITIES
from core.services.clients import client_fields
from core.services.platform import audit
from core.services.platform.access import require
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.services.platform.text import clean
from core.services.users.zones import zone_of
from core.services.work.repeat_rules import MAX_INTERVAL

MAX_YEARS = 10
MAX_OCCURRENCES = 1000
# Second guard behind the once-a-day rule: one run creates at most this many tasks of one rule and of all rules;
# what is left (a rule started long ago, a scheduler down for weeks) is created by the next runs.
MAX_PER_RULE_RUN = 100
MAX_PER_RUN = 1000
_RULE_TEXT = re.compile(r"[A-Za-z0-9=;,+\-]+")  # one RRULE line: no DTSTART, no second rule, no line breaks
ALLOWED_FREQS = {DAILY, WEEKLY, MONTHLY, YEARLY}
PRESETS = {  # what the form offers; an RRULE typed by hand works too
    "daily": "FREQ=DAILY",
    "weekdays": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
    "weekly": "FREQ=WEEKLY",
    "monthly": "FREQ=MONTHLY",
    "quarterly": "FREQ=MONTHLY;INTERVAL=3",
    "yearly": "FREQ=YEARLY",
}


def parse_rule(text: str, starts_at: datetime, zone: ZoneInfo) -> rrule:
    """The rule for ``text`` (``FREQ=...`` with an ``UNTIL`` or ``COUNT``) starting at ``starts_at``; raises
    :class:`InvalidInput` naming what to fix."""
    body = str(text or "").strip().removeprefix("RRULE:")
    if not body:
        raise InvalidInput({"rrule": _l("Choose how often the task repeats.")})
    local_start = starts_at.astimezone(zone).replace(tzinfo=None)
    unreadable = InvalidInput({"rrule": _l("This repeat rule cannot be read; use for example "
                                           "FREQ=MONTHLY;BYMONTHDAY=5;COUNT=12.")})
    if len(body) > 400 or not _RULE_TEXT.fullmatch(body):
        raise unreadable
    try:
        rule = rrulestr(body, dtstart=local_start, ignoretz=True)
    except (ValueError, TypeError, OverflowError):
        raise unreadable from None
    if not isinstance(rule, rrule):
        raise InvalidInput({"rrule": _l("Give one repeat rule, not a set of rules.")})
    if rule._freq not in ALLOWED_FREQS:  # dateutil keeps the parts private
        raise InvalidInput({"rrule": _l("Tasks repeat daily at most often.")})
    if not 1 <= rule._interval <= MAX_INTERVAL:  # dateutil takes INTERVAL=0 or -5 and fails only when iterating
        raise InvalidInput({"rrule": _l("Repeat every 1 to %(max)s periods.", max=MAX_INTERVAL)})
    if not at_most_daily(body, rule):
        raise InvalidInput({"rrule": _l("Tasks repeat at most once a day: give one time of day (one BYHOUR and "
                                        "one BYMINUTE value) and no BYSECOND.")})
    if rule._count is None and rule._until is None:
        raise InvalidInput({"rrule": _l("The rule never ends; add an end date (UNTIL) or a number of "
                                        "repetitions (COUNT).")})
    if rule._count is not None and rule._count > MAX_OCCURRENCES:
        raise InvalidInput({"rrule": _l("Repeat at most %(count)s times.", count=MAX_OCCURRENCES)})
    if rule._until is not None and rule._until > local_start + timedelta(days=366 * MAX_YEARS):
        raise InvalidInput({"rrule": _l("End the repetitions within %(years)s years.", years=MAX_YEARS)})
    try:  # evaluating can still fail inside dateutil on a combination it parsed (a ValueError, never a 500)
        gives_dates = _gives_dates(rule, local_start)
        first = rule.after(local_start, inc=True) if gives_dates else None
    except (ValueError, TypeError, OverflowError):
        raise unreadable from None
    if not gives_dates:
        raise InvalidInput({"rrule": _l("The rule gives no date within %(years)s years; check the days and months "
                                        "it names.", years=MAX_YEARS)})
    if first is None:
        raise InvalidInput({"rrule": _l("The rule gives no date after the start; check the end date.")})
    return rule


def _gives_dates(rule: rrule, local_start: datetime) -> bool:
    """Does the rule's pattern give any date within :data:`MAX_YEARS` of the start?

    dateutil looks for the next date up to the year 9999 when the parts can never meet (``BYMONTH=2;
    BYMONTHDAY=30``, ``FREQ=DAILY;INTERVAL=7;BYDAY=TU`` from a Monday) and ``UNTIL`` does not stop it: seven seconds
    of one request. The Gregorian calendar repeats every 400 years to the weekday, so the same pattern started
    whole cycles later, close to 9999, is searched in well under a second with the same answer.
    """
    cycles = max(0, (MAXYEAR - MAX_YEARS - 1 - local_start.year) // 400)
    shifted = local_start.replace(year=local_start.year + 400 * cycles)
    probe = rule.replace(dtstart=shifted, count=None, until=None)
    first = probe.after(shifted, inc=True)
    return first is not None and first <= shifted + timedelta(days=366 * MAX_YEARS)


def at_most_daily(body: str, rule: rrule) -> bool:
    """Does ``rule`` give at most one occurrence a day? With a daily or rarer frequency, each day it picks
    contributes the product of its hours, minutes and seconds (dateutil fills each from the start when absent),
    so one value of each means one time a day; seconds are never a task's business."""
    if any(part.split("=", 1)[0].strip().upper() == "BYSECOND" for part in body.split(";")):
        return False
    return all(len(values or ()) <= 1 for values in (rule._byhour, rule._byminute, rule._bysecond))


def rule_text(preset: str, until: str = "", count: str = "", by_day: list[str] | None = None,
              month_day: str = "") -> str:
    """The RRULE for the form's choices (a preset, weekdays, a day of the month, an end)."""
    parts = [PRESETS.get(preset, "")]
    if by_day and preset == "weekly":
        parts.append("BYDAY=" + ",".join(d for d in by_day if d in ("MO", "TU", "WE", "TH", "FR", "SA", "SU")))
    if month_day and preset in ("monthly", "quarterly"):
        digits = month_day.lstrip("-")  # ASCII only: "²".isdigit() is true but int("²") fails
        parts.append(f"BYMONTHDAY={int(month_day)}" if digits.isascii() and digits.isdigit() and len(digits) < 4
                     else "BYMONTHDAY=x")
    if count:
        parts.append(f"COUNT={count}")
    elif until:
        parts.append("UNTIL=" + until.replace("-", "").replace(".", "") + "T235959")
    return ";".join(p for p in parts if p)


def create(actor: Actor, values: dict[str, Any]) -> TaskRecurrence:
    """Save a repeating task: ``title``, ``rrule``, ``starts_at`` (first due time), ``owner_id``, ``priority``,
    links to a client or deal, ``lead_days`` (how many days ahead each task appears)."""
    from core.services.work.tasks import parse_due

    require(actor.user, "create", "task")
    errors: dict[str, Any] = {}
    title = clean(str(values.get("title") or ""), 300)
    if not title:
        errors["title"] = _l("Say what has to be done, such as 'Prepare the quarterly report'.")
    try:
        starts_at = parse_due(values.get("starts_at"), actor.user)
    except (ValueError, TypeError):
        starts_at = None
    if starts_at is None:
        errors["starts_at"] = _l("Enter the first due date as DD.MM.YYYY and the time as HH:MM.")
    owner_id = client_fields.resolve_owner(actor, "task", values.get("owner_id"), None, errors)
    try:
        lead_days = int(values.get("lead_days") or 3)
        if not 0 <= lead_days <= 60:
            raise ValueError
    except (TypeError, ValueError):
        errors["lead_days"] = _l("Show each task from 0 to 60 days before it is due.")
        lead_days = 3
    if starts_at is not None:
        try:
            parse_rule(str(values.get("rrule") or ""), starts_at, zone_of(actor.user))
        except InvalidInput as exc:
            errors.update(exc.errors)
    priority = str(values.get("priority") or "normal")
    if priority not in PRIORITIES:
        errors["priority"] = _l("Choose a priority: low, normal or high.")
    links = {name: client_fields.visible_link(model, entity, values.get(name), name, actor, errors,
                                              _l("Choose a record you can see."))
             for name, model, entity in (("contact_id", Contact, "contact"), ("company_id", Company, "company"),
                                         ("deal_id", Deal, "deal"))}
    from core.services.work.tasks import reminder_choice

    reminder = reminder_choice(values, errors)  # every task of the rule reminds the same way
    if errors:
        raise InvalidInput(errors)
    assert starts_at is not None
    template = {"title": title, "notes": str(values.get("notes") or ""), "priority": priority, **reminder,
                **{name: value for name, value in links.items() if value is not None}}
    recurrence = TaskRecurrence(rrule=str(values["rrule"]).strip().removeprefix("RRULE:"), starts_at=starts_at,
                                timezone=zone_of(actor.user).key, owner_id=owner_id, author_id=actor.user_id,
                                template=template, lead_days=lead_days)
    db.session.add(recurrence)
    db.session.flush()
    audit.record(actor, "task.recurrence_created", "task", recurrence.id, {"rrule": recurrence.rrule})
    db.session.flush()
    return recurrence


def stop(actor: Actor, recurrence: TaskRecurrence) -> None:
    require(actor.user, "edit", "task", recurrence)
    recurrence.active = False
    audit.record(actor, "task.recurrence_stopped", "task", recurrence.id, {})
    db.session.flush()


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    """``moment`` as the wall-clock time in ``zone`` (rules count days in the owner's zone, not in UTC)."""
    return moment.astimezone(zone).replace(tzinfo=None)


def generate(now: datetime | None = None, *, only: int | None = None) -> int:
    """Create the tasks of every active rule whose occurrences come within their ``lead_days``; returns how many
    were created. Each run looks from where the last one stopped (``generated_until``) to the new horizon."""
    from core.services.work.tasks import create_system_task

    now = now or utcnow()
    created = 0
    rules = select(TaskRecurrence).where(TaskRecurrence.active.is_(True))
    if only is not None:  # a rule just saved: its first tasks appear at once, not at the scheduler's next run
        rules = rules.where(TaskRecurrence.id == only)
    for recurrence in db.session.scalars(rules.order_by(TaskRecurrence.id)):
        if created >= MAX_PER_RUN:
            break  # the rest waits for the next run, which starts where each rule stopped
        zone = ZoneInfo(recurrence.timezone)
        try:
            rule = parse_rule(recurrence.rrule, recurrence.starts_at, zone)
        except InvalidInput:
            recurrence.active = False
            continue
        since = recurrence.generated_until or recurrence.starts_at
        horizon = now + timedelta(days=recurrence.lead_days)
        if horizon < since:
            continue  # nothing is due to appear yet
        existing = set(db.session.scalars(select(Task.occurrence_at).where(
            Task.recurrence_id == recurrence.id, Task.occurrence_at >= since)))
        template = recurrence.template or {}
        budget = min(MAX_PER_RULE_RUN, MAX_PER_RUN - created)
        reached = horizon
        for local in rule.xafter(_local(since, zone).replace(microsecond=0), inc=True):  # as dateutil's start
            if local > _local(horizon, zone):
                break
            moment = local.replace(tzinfo=zone).astimezone(UTC)
            if moment in existing:
                continue
            if budget == 0:
                reached = moment  # the next run starts at this occurrence (inclusive)
                break
            create_system_task(
                title=template.get("title", ""), owner_id=recurrence.owner_id, due_at=moment,
                contact_id=template.get("contact_id"), company_id=template.get("company_id"),
                deal_id=template.get("deal_id"), notes=template.get("notes", ""),
                priority=template.get("priority", "normal"), author_id=recurrence.author_id,
                recurrence_id=recurrence.id, occurrence_at=moment,
                remind_minutes=template.get("remind_minutes", 0), remind_via=template.get("remind_via"),
                actor=Actor(None, via="automation", detail=f"recurrence:{recurrence.id}"))
            created += 1
            budget -= 1
        recurrence.generated_until = reached
        if reached == horizon and rule.after(_local(horizon, zone)) is None:
            recurrence.active = False  # every occurrence is created: the rule is finished
    db.session.flush()
    return created

