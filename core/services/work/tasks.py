"""Tasks: create and change them, complete, comment; "my day" and the team view; reminders and overdue alerts.

Due times are stored in UTC and read in the user's time zone. A task belongs to its owner (the person who has to
do it); permissions on entity ``task`` use that owner like any other record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, func, literal, or_, select, true, union_all, update
from sqlalchemy.orm import Bundle, lazyload

from core.db import db, savepoint
from core.models import Company, Contact, Deal, Task, TaskComment, User, utcnow
from core.models.tasks import PRIORITIES, REMINDER_CHANNELS
from core.models.users import team_members
from core.plugins.events import SYSTEM_ORIGIN, TaskCompleted, TaskCreated, TaskDeleted, TaskOverdue, TaskUpdated
from core.services.clients import client_fields, custom_fields, timeline
from core.services.platform import audit, events, ownership
from core.services.platform.access import filter_query, require, scope_for
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.services.platform.text import N_, clean
from core.services.users.zones import day_bounds, local_today, zone_of

ENTITY = "task"
UPCOMING_DAYS = 7


def get(actor: Actor, task_id: int, action: str = "view") -> Task:
    task = db.session.get(Task, task_id)
    if task is None or task.deleted_at is not None:
        raise LookupError(task_id)
    require(actor.user, action, ENTITY, task)
    return task


def parse_due(value: Any, user: User | None) -> datetime | None:
    """``2026-11-24 15:30``, ``24.11.2026 15:30``, ``2026-11-24T15:30`` or a date alone (end of the working day,
    18:00) in the user's time zone; an aware datetime as it is."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=zone_of(user)).astimezone(UTC)
        return value.astimezone(UTC)
    text = str(value).strip().replace("T", " ")
    if text.endswith("Z") or "+" in text[10:]:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    day_text, _, time_text = text.partition(" ")
    day = custom_fields.parse_date(day_text)
    hour, minute = (18, 0)
    if time_text:
        hours, _, minutes = time_text.strip().partition(":")
        hour, minute = int(hours), int(minutes[:2] or 0)
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone_of(user))
    return local.astimezone(UTC)



def save(actor: Actor, task: Task | None, values: dict[str, Any], *, partial: bool = False) -> Task:
    """Create a task (for oneself, or for a colleague with the ``assign`` right) or change one."""
    if task is None:
        require(actor.user, "create", ENTITY)
    else:
        require(actor.user, "edit", ENTITY, task)
    with savepoint():  # refused input undoes this save only, not the caller's work
        errors: dict[str, Any] = {}
        target = task or Task(remind_via=["app"])
        before = events.column_values(task) if task is not None else {}
        now = utcnow()
        if not partial or "title" in values:
            target.title = clean(str(values.get("title") or ""), 300)
            if not target.title:
                errors["title"] = _l("Say what has to be done, such as 'Call back about the delivery'.")
        if "notes" in values:
            target.notes = str(values.get("notes") or "")[:20000]
        if "due_at" in values:
            try:
                target.due_at = parse_due(values.get("due_at"), actor.user)
            except (ValueError, TypeError):
                errors["due_at"] = _l("Enter the due date as DD.MM.YYYY and the time as HH:MM.")
            else:
                created = target.created_at or now
                if target.due_at is not None and target.due_at < created - timedelta(minutes=1) and (
                        task is None or target.due_at != task.due_at):
                    errors["due_at"] = _l("The due time is before the task was created; choose a later time.")
        if "priority" in values:
            priority = str(values.get("priority") or "normal")
            if priority not in PRIORITIES:
                errors["priority"] = _l("Choose a priority: low, normal or high.")
            target.priority = priority
        if "remind_minutes" in values or "remind_at" in values:
            _reminder(target, values, actor, errors)
        if "remind_via" in values:
            via = values.get("remind_via") or ["app"]
            via = [via] if isinstance(via, str) else list(via)
            if any(v not in REMINDER_CHANNELS for v in via):
                errors["remind_via"] = _l("Remind in the app, by email or by SMS.")
            target.remind_via = [v for v in REMINDER_CHANNELS if v in via] or ["app"]
        for name, model, entity in (("contact_id", Contact, "contact"), ("company_id", Company, "company"),
                                    ("deal_id", Deal, "deal")):
            if name in values:
                setattr(target, name, client_fields.visible_link(model, entity, values[name], name, actor, errors,
                                                                 _l("Choose a record you can see.")))
        if target.deal_id and not (target.contact_id or target.company_id) and task is None:
            deal = db.session.get(Deal, target.deal_id)
            if deal is not None:
                target.contact_id, target.company_id = deal.contact_id, deal.company_id
        previous_owner = task.owner_id if task else None
        if not partial or "owner_id" in values:
            target.owner_id = client_fields.resolve_owner(actor, ENTITY, values.get("owner_id"),
                                                          previous_owner, errors)
            target.team_id = client_fields.team_of(target.owner_id)
        if errors:
            raise InvalidInput(errors)
        target.updated_at = now
        if task is None:
            target.author_id = actor.user_id
            db.session.add(target)
            db.session.flush()
            _created(actor, target)
        else:
            if previous_owner != target.owner_id:
                ownership.record(actor, ENTITY, target.id, previous_owner, target.owner_id, "")
            audit.record(actor, "task.updated", ENTITY, target.id, {k: str(v)[:200] for k, v in values.items()})
            changed = events.changed_since(before, target)
            if changed:
                events.emit(TaskUpdated(subject_id=target.id, origin=actor.origin, changed=changed,
                                        owner_id=target.owner_id, status=target.status))
    return target


def reminder_choice(values: dict[str, Any], errors: dict[str, Any]) -> dict[str, Any]:
    """The reminder of a repeating task, as its rule keeps it for every task it creates: ``remind_minutes``
    before each due time (``None``: none) and ``remind_via`` (app, email, SMS)."""
    minutes = values.get("remind_minutes")
    before: int | None = None
    if minutes not in (None, ""):
        try:
            before = int(str(minutes)) if str(minutes).isascii() else -1
            if not 0 <= before <= 60 * 24 * 30:
                raise ValueError
        except (TypeError, ValueError):
            errors["remind_minutes"] = _l("Remind from 0 minutes to 30 days before the due time.")
            before = None
    via = values.get("remind_via") or ["app"]
    via = [via] if isinstance(via, str) else list(via) if isinstance(via, list | tuple) else []
    if not via or any(v not in REMINDER_CHANNELS for v in via):
        errors["remind_via"] = _l("Remind in the app, by email or by SMS.")
    return {"remind_minutes": before, "remind_via": [v for v in REMINDER_CHANNELS if v in via] or ["app"]}


def _reminder(target: Task, values: dict[str, Any], actor: Actor, errors: dict[str, Any]) -> None:
    target.reminded_at = None
    if values.get("remind_at"):
        try:
            target.remind_at = parse_due(values["remind_at"], actor.user)
        except (ValueError, TypeError):
            errors["remind_at"] = _l("Enter the reminder as DD.MM.YYYY HH:MM.")
        return
    minutes = values.get("remind_minutes")
    if minutes in (None, ""):
        target.remind_at = None
        return
    try:
        before = int(minutes)
        if not 0 <= before <= 60 * 24 * 30:
            raise ValueError
    except (TypeError, ValueError):
        errors["remind_minutes"] = _l("Remind from 0 minutes to 30 days before the due time.")
        return
    if target.due_at is None:
        errors["remind_minutes"] = _l("Set a due time to be reminded before it.")
        return
    target.remind_at = target.due_at - timedelta(minutes=before)


def _created(actor: Actor, task: Task) -> None:
    if task.contact_id or task.company_id:
        timeline.record(kind="task", contact_id=task.contact_id, company_id=task.company_id,
                        author_id=actor.user_id, title=task.title,
                        data={"task_id": task.id, "status": "open", "title": task.title,
                              "due_at": task.due_at.isoformat() if task.due_at else None,
                              "owner": _name_of(task.owner_id)})
    audit.record(actor, "task.created", ENTITY, task.id, {"title": task.title, "owner_id": task.owner_id})
    events.emit(TaskCreated(subject_id=task.id, origin=actor.origin, owner_id=task.owner_id, due_at=task.due_at,
                            deal_id=task.deal_id, contact_id=task.contact_id, company_id=task.company_id))
    if task.owner_id and task.owner_id != actor.user_id:
        from core.services.platform import notifications

        notifications.notify([task.owner_id], N_("%(author)s gave you a task: %(title)s"),
                             params={"author": notifications.person(actor), "title": task.title},
                             link=f"/tasks/{task.id}")


def _name_of(user_id: int | None) -> str:
    """A person's name as timelines and notifications show it (full name, else email)."""
    person = db.session.get(User, user_id) if user_id else None
    return person.display_name if person is not None else ""


def create_system_task(*, title: str, owner_id: int | None, due_at: datetime, contact_id: int | None = None,
                       company_id: int | None = None, deal_id: int | None = None, notes: str = "",
                       priority: str = "normal", author_id: int | None = None, recurrence_id: int | None = None,
                       occurrence_at: datetime | None = None, actor: Actor | None = None,
                       remind_minutes: int | None = 0, remind_via: list[str] | None = None) -> Task:
    """A task the system sets (a follow-up for a new lead, an occurrence of a rule), without permission checks;
    joins the caller's transaction. It reminds ``remind_minutes`` before it is due (``None``: no reminder)."""
    from core.services.platform.context import SYSTEM

    remind_at = due_at - timedelta(minutes=remind_minutes) if remind_minutes is not None else None
    via = [v for v in REMINDER_CHANNELS if v in (remind_via or ["app"])] or ["app"]
    task = Task(title=clean(title, 300), owner_id=owner_id, team_id=client_fields.team_of(owner_id),
                due_at=due_at, remind_at=remind_at, remind_via=via, contact_id=contact_id,
                company_id=company_id, deal_id=deal_id, notes=notes, author_id=author_id,
                priority=priority if priority in PRIORITIES else "normal", recurrence_id=recurrence_id,
                occurrence_at=occurrence_at)
    db.session.add(task)
    db.session.flush()
    _created(actor or SYSTEM, task)
    return task


def set_status(actor: Actor, task: Task, status: str) -> Task:
    """Complete, cancel or reopen a task."""
    require(actor.user, "edit", ENTITY, task)
    return change_status(actor, task, status)


def change_status(actor: Actor, task: Task, status: str) -> Task:
    """:func:`set_status` without the permission check, for the system (a call-back task closed by the call that
    reached the client); joins the caller's transaction."""
    if status not in ("open", "done", "cancelled"):
        raise InvalidInput({"status": _l("Choose open, done or cancelled.")})
    if status == task.status:
        return task
    task.status = status
    task.completed_at = utcnow() if status == "done" else None
    task.updated_at = utcnow()
    if status == "done":
        events.emit(TaskCompleted(subject_id=task.id, origin=actor.origin, owner_id=task.owner_id,
                                  deal_id=task.deal_id, contact_id=task.contact_id, company_id=task.company_id))
        if task.contact_id or task.company_id:
            timeline.record(kind="task", contact_id=task.contact_id, company_id=task.company_id,
                            author_id=actor.user_id, title=task.title,
                            data={"task_id": task.id, "status": "done", "title": task.title})
    else:  # reopened or cancelled
        events.emit(TaskUpdated(subject_id=task.id, origin=actor.origin, changed=("status",),
                                owner_id=task.owner_id, status=status))
    audit.record(actor, f"task.{status}", ENTITY, task.id, {})
    db.session.flush()
    return task


def comment(actor: Actor, task: Task, body: str) -> TaskComment:
    require(actor.user, "view", ENTITY, task)
    text = str(body or "").strip()
    if not text:
        raise InvalidInput({"body": _l("Write a comment first.")})
    entry = TaskComment(task_id=task.id, author_id=actor.user_id, body=text[:10000])
    db.session.add(entry)
    task.updated_at = utcnow()
    db.session.flush()
    audit.record(actor, "task.commented", ENTITY, task.id, {"comment": entry.id})
    events.emit(TaskUpdated(subject_id=task.id, origin=actor.origin, changed=("comments",), owner_id=task.owner_id,
                            status=task.status))
    return entry


def delete(actor: Actor, task: Task) -> None:
    require(actor.user, "delete", ENTITY, task)
    task.deleted_at = utcnow()
    audit.record(actor, "task.deleted", ENTITY, task.id, {"title": task.title})
    events.emit(TaskDeleted(subject_id=task.id, origin=actor.origin, owner_id=task.owner_id))
    db.session.flush()


# --- views -----------------------------------------------------------------------------------------------


# What a task row shows (tasks/_row.html): a page of them is read as rows, not entities
TASK_ROW = Bundle("task", Task.id, Task.title, Task.status, Task.priority, Task.due_at, Task.contact_id,
                  Task.company_id, Task.deal_id)


@dataclass
class Day:
    """One person's open tasks by section, as rows of :data:`TASK_ROW` (entities when asked for), with the names
    of the contacts, companies and deals they are about (:func:`core.services.clients.labels.linked_names`' shape)
    read in the same statements."""

    overdue: list[Any]
    today: list[Any]
    upcoming: list[Any]
    undated: list[Any]
    done_today: int
    limit: int = 50
    links: dict[str, dict[int, str]] = field(default_factory=lambda: {"contact": {}, "company": {}, "deal": {}})


def _open_tasks(actor: Actor) -> Any:
    stmt = select(Task).where(Task.deleted_at.is_(None), Task.status == "open")
    return filter_query(actor.user, "view", ENTITY, stmt, Task.owner_id)


def my_day(actor: Actor, owner_id: int | None = None, now: datetime | None = None, limit: int = 50, *,
           entities: bool = False) -> Day:
    """The open tasks of ``owner_id`` (the actor by default): overdue, due today, the next days, undated — up to
    ``limit`` in each, every section one range of the (owner, due time) index, with the names of what each task is
    about joined in. Rows of :data:`TASK_ROW` for the page; ``entities`` for whole tasks (the export)."""
    now = now or utcnow()
    owner_id = owner_id or actor.user_id
    owner = db.session.get(User, owner_id) if owner_id != actor.user_id else actor.user
    start, end = day_bounds(local_today(owner, now), zone_of(owner))
    horizon = end + timedelta(days=UPCOMING_DAYS)
    links: dict[str, dict[int, str]] = {"contact": {}, "company": {}, "deal": {}}
    columns = (Task if entities else TASK_ROW, Contact.first_name, Contact.middle_name, Contact.last_name,
               Company.name, Deal.title)
    base = (filter_query(actor.user, "view", ENTITY, select(*columns), Task.owner_id)
            .where(Task.deleted_at.is_(None), Task.status == "open", Task.owner_id == owner_id)
            .outerjoin(Contact, Contact.id == Task.contact_id).outerjoin(Company, Company.id == Task.company_id)
            .outerjoin(Deal, Deal.id == Task.deal_id))

    def section(*conditions: Any, order: tuple[Any, ...] = (Task.due_at, Task.id)) -> list[Any]:
        shown = []
        for task, first, middle, last, company, deal in db.session.execute(
                base.where(*conditions).order_by(*order).limit(limit)):
            shown.append(task)
            if task.contact_id:
                links["contact"][task.contact_id] = Contact.name_of(first or "", middle or "", last or "")
            if task.company_id and company is not None:
                links["company"][task.company_id] = company
            if task.deal_id and deal is not None:
                links["deal"][task.deal_id] = deal
        return shown

    done_today = db.session.scalar(select(func.count(Task.id)).where(
        Task.owner_id == owner_id, Task.status == "done", Task.completed_at >= start)) or 0
    return Day(overdue=section(Task.due_at < now), today=section(Task.due_at >= now, Task.due_at < end),
               upcoming=section(Task.due_at >= end, Task.due_at < horizon),
               undated=section(Task.due_at.is_(None), order=(Task.id,)),
               done_today=done_today, limit=limit, links=links)


TEAM_COUNT_CAP = 999
USERS_PER_STATEMENT = 100  # SQLite allows 500 parts in one compound SELECT; each person takes three


def team_load(actor: Actor, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per person whose tasks the actor may see (people who left but still own open tasks included): open tasks,
    overdue ones and those due today, each counted up to ``TEAM_COUNT_CAP`` along the (owner, due time) index,
    so the view costs the same with a thousand tasks or a million."""
    now = now or utcnow()
    start, end = day_bounds(local_today(actor.user, now), zone_of(actor.user))
    scope = scope_for(actor.user, "view", ENTITY)
    if scope is None or actor.user is None:
        return []
    owns_open = exists().where(Task.owner_id == User.id, Task.status == "open", Task.deleted_at.is_(None))
    people_stmt = select(User).where(or_(User.is_active.is_(True), owns_open))
    if scope != "all":
        teammates = select(team_members.c.user_id).where(team_members.c.team_id.in_(actor.user.team_ids))
        people_stmt = people_stmt.where(or_(User.id == actor.user.id, User.id.in_(teammates)))
    people = list(db.session.scalars(people_stmt.options(lazyload(User.teams), lazyload(User.roles))
                                     .order_by(User.full_name, User.email)))
    kinds = {"open": true(), "overdue": Task.due_at < now, "today": and_(Task.due_at >= start, Task.due_at < end)}
    counts: dict[tuple[int, str], int] = {}
    for first in range(0, len(people), USERS_PER_STATEMENT):
        parts = []
        for person in people[first:first + USERS_PER_STATEMENT]:
            for kind, condition in kinds.items():
                capped = (select(Task.id).where(Task.owner_id == person.id, Task.status == "open",
                                                Task.deleted_at.is_(None), condition)
                          .limit(TEAM_COUNT_CAP + 1).subquery())
                parts.append(select(literal(person.id), literal(kind), func.count()).select_from(capped))
        counts.update({(uid, kind): n for uid, kind, n in db.session.execute(union_all(*parts))})
    return [{"user": p, **{kind: counts.get((p.id, kind), 0) for kind in kinds}} for p in people]


def for_record(actor: Actor, *, contact_id: int | None = None, company_id: int | None = None,
               deal_id: int | None = None, limit: int = 20) -> list[Task]:
    """Open tasks about a client or a deal, soonest first."""
    stmt = _open_tasks(actor)
    if deal_id is not None:
        stmt = stmt.where(Task.deal_id == deal_id)
    elif contact_id is not None:
        stmt = stmt.where(Task.contact_id == contact_id)
    else:
        stmt = stmt.where(Task.company_id == company_id)
    return list(db.session.scalars(stmt.order_by(Task.due_at.is_(None), Task.due_at, Task.id).limit(limit)))


# --- reminders and overdue alerts (scheduled jobs) ------------------------------------------------------------


def _claim(stamp: Any, *conditions: Any, now: datetime, batch: int) -> list[Any]:
    """Stamp up to ``batch`` open tasks matching ``conditions`` whose ``stamp`` column is empty, in one statement,
    and return them; a task claimed by a concurrent run is not returned twice."""
    waiting = (select(Task.id).where(Task.status == "open", Task.deleted_at.is_(None), stamp.is_(None), *conditions)
               .limit(batch).scalar_subquery())
    claimed = (update(Task).where(Task.id.in_(waiting), stamp.is_(None)).values({stamp: now})
               .returning(Task.id, Task.owner_id, Task.title, Task.remind_via, Task.due_at)
               .execution_options(synchronize_session=False))
    return list(db.session.execute(claimed).all())


def send_reminders(now: datetime | None = None, batch: int = 500) -> int:
    """Remind owners of tasks whose reminder time has come: in the app, and by email/SMS through the plugins
    that deliver those channels. The claim and the in-app notifications commit together before anything is sent
    out, so each task is reminded once: this scheduled job owns its transaction on purpose (an email or SMS
    cannot be rolled back, so the claim must be durable before the first one leaves)."""
    from core.plugins.facades import deliver_notification
    from core.services.platform import notifications

    now = now or utcnow()
    rows = _claim(Task.reminded_at, Task.remind_at <= now, Task.owner_id.is_not(None), now=now, batch=batch)
    message = N_("Reminder: %(title)s")
    for row in rows:
        notifications.notify([row.owner_id], message, params={"title": row.title}, link=f"/tasks/{row.id}",
                             level="warning")
    db.session.commit()
    outside = [row for row in rows if set(row.remind_via or []) - {"app"}]
    if outside:
        owners = {u.id: u for u in db.session.scalars(select(User).where(
            User.id.in_({row.owner_id for row in outside}), User.is_active.is_(True)))}
        for row in outside:
            for channel in row.remind_via:
                if channel != "app" and row.owner_id in owners:
                    deliver_notification(channel, owners[row.owner_id], message, {"title": row.title},
                                         f"/tasks/{row.id}")
    return len(rows)


def flag_overdue(now: datetime | None = None, batch: int = 1000) -> int:
    """Emit ``task_overdue`` once for each open task whose due time has passed."""
    now = now or utcnow()
    rows = _claim(Task.overdue_at, Task.due_at < now, now=now, batch=batch)
    for row in rows:
        events.emit(TaskOverdue(subject_id=row.id, origin=SYSTEM_ORIGIN, owner_id=row.owner_id, due_at=row.due_at))
    db.session.flush()
    return len(rows)
