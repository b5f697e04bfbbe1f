"""The home page: a manager's day in a few statements.

Overdue and today's tasks, new inbox items, my open deals by stage with their sums, recent activity on my clients
and, for someone who sees a team's work, the team's figures per person. Every block asks the access module
(:func:`core.services.platform.access.filter_query`) for its rows and for the names it shows, so a record the reader may
not see is never named; each block is one statement whatever the number of rows (no query per row).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, String, cast, func, literal, or_, select, union, union_all
from sqlalchemy.orm import selectinload

from core.db import db
from core.models import Activity, Company, Contact, Deal, Pipeline, Stage, StageTotal, Task, User, utcnow
from core.models.users import team_members
from core.services.platform.access import filter_query, scope_for
from core.services.platform.context import Actor
from core.services.users.zones import day_bounds, local_today, zone_of
from core.services.work import inbox

TASK_LIMIT = 30
INBOX_LIMIT = 5
ACTIVITY_LIMIT = 10
RECENT_CLIENTS = 20  # recent activity is read among the clients touched last, so it costs the same for any book
TEAM_LIMIT = 100
NEW_TODAY_CAP = 10_000  # deals created today that the team figures count, at most


@dataclass
class StageSum:
    pipeline: str
    stage_id: int
    stage: str
    count: int
    amount: Decimal
    currency: str


@dataclass
class Entry:
    """A timeline entry with the client it belongs to (named only when the reader may see that client)."""

    activity: Activity
    contact_id: int | None
    company_id: int | None
    client: str


@dataclass
class Person:
    id: int
    name: str
    open_deals: int = 0
    sums: dict[str, Decimal] = field(default_factory=dict)  # currency -> sum of open deals
    overdue: int = 0
    new_today: int = 0


@dataclass
class Day:
    """What the home page shows; ``None`` for a block the reader has no right to."""

    overdue: list[Task] | None = None
    today: list[Task] | None = None
    more_tasks: bool = False
    links: dict[str, dict[int, str]] = field(default_factory=lambda: {"contact": {}, "company": {}, "deal": {}})
    inbox: list[Any] | None = None
    inbox_as_submitter: bool = False
    stages: list[StageSum] | None = None
    activity: list[Entry] | None = None
    team: list[Person] | None = None
    team_deals: bool = False
    team_tasks: bool = False

    @property
    def deal_total(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for s in self.stages or []:
            totals[s.currency] += s.amount
        return dict(totals)


def _contact_name(parts: Any) -> str:
    return Contact.name_of(*parts) if any(parts) else ""


def _visible_contacts(user: User | None) -> Any:
    stmt = select(Contact.id, Contact.first_name, Contact.middle_name, Contact.last_name).where(
        Contact.deleted_at.is_(None))
    return filter_query(user, "view", "contact", stmt, Contact.owner_id).subquery()


def _visible_companies(user: User | None) -> Any:
    stmt = select(Company.id, Company.name).where(Company.deleted_at.is_(None))
    return filter_query(user, "view", "company", stmt, Company.owner_id).subquery()


def _visible_deals(user: User | None) -> Any:
    stmt = select(Deal.id, Deal.title).where(Deal.deleted_at.is_(None))
    return filter_query(user, "view", "deal", stmt, Deal.owner_id).subquery()


def _tasks(day: Day, user: User, now: datetime, end: datetime) -> None:
    """My open tasks due before the end of my day, soonest first, with the names of what they are about."""
    contacts, companies, deals = _visible_contacts(user), _visible_companies(user), _visible_deals(user)
    stmt = (select(Task, contacts.c.first_name, contacts.c.middle_name, contacts.c.last_name,
                   companies.c.name, deals.c.title)
            .outerjoin(contacts, contacts.c.id == Task.contact_id)
            .outerjoin(companies, companies.c.id == Task.company_id)
            .outerjoin(deals, deals.c.id == Task.deal_id)
            .where(Task.owner_id == user.id, Task.status == "open", Task.deleted_at.is_(None), Task.due_at < end))
    stmt = filter_query(user, "view", "task", stmt, Task.owner_id)
    rows = db.session.execute(stmt.order_by(Task.due_at, Task.id).limit(TASK_LIMIT + 1)).all()
    day.more_tasks = len(rows) > TASK_LIMIT
    day.overdue, day.today = [], []
    for task, first, middle, last, company, deal in rows[:TASK_LIMIT]:
        (day.overdue if task.due_at < now else day.today).append(task)
        if first is not None:
            day.links["contact"][task.contact_id] = _contact_name((first, middle, last)) or "—"
        if company is not None:
            day.links["company"][task.company_id] = company
        if deal is not None:
            day.links["deal"][task.deal_id] = deal


def _stages(user: User) -> list[StageSum]:
    """My open deals per stage, counted and summed from the running totals (never by reading the deals)."""
    stmt = (select(Pipeline.name, Pipeline.currency, Stage.id, Stage.name, StageTotal.count, StageTotal.amount)
            .join(Stage, Stage.id == StageTotal.stage_id).join(Pipeline, Pipeline.id == Stage.pipeline_id)
            .where(StageTotal.owner_id == user.id, StageTotal.count > 0, Stage.kind == "open",
                   Pipeline.archived.is_(False)))
    stmt = filter_query(user, "view", "deal", stmt, StageTotal.owner_id)
    rows = db.session.execute(stmt.order_by(Pipeline.position, Pipeline.id, Stage.position, Stage.id)).all()
    return [StageSum(pipeline, stage_id, stage, count, Decimal(amount or 0), currency)
            for pipeline, currency, stage_id, stage, count, amount in rows]


def _activity(user: User) -> list[Entry]:
    """The latest timeline entries of the clients I own, among those touched last."""
    contacts, companies = _visible_contacts(user), _visible_companies(user)
    recent_people = filter_query(user, "view", "contact", select(Contact.id).where(
        Contact.owner_id == user.id, Contact.deleted_at.is_(None), Contact.last_activity_at.is_not(None)),
        Contact.owner_id).order_by(Contact.last_activity_at.desc()).limit(RECENT_CLIENTS)
    recent_companies = filter_query(user, "view", "company", select(Company.id).where(
        Company.owner_id == user.id, Company.deleted_at.is_(None)), Company.owner_id).order_by(
        Company.updated_at.desc()).limit(RECENT_CLIENTS)
    newest = (Activity.occurred_at.desc(), Activity.id.desc())
    # each side read along its (client, time) index, then merged: an OR of the two would scan every entry
    people_side = (select(Activity.id).where(Activity.contact_id.in_(select(recent_people.subquery().c.id)))
                   .order_by(*newest).limit(ACTIVITY_LIMIT).subquery())
    company_side = (select(Activity.id).where(Activity.company_id.in_(select(recent_companies.subquery().c.id)))
                    .order_by(*newest).limit(ACTIVITY_LIMIT).subquery())
    stmt = (select(Activity, contacts.c.first_name, contacts.c.middle_name, contacts.c.last_name,
                   companies.c.name)
            .outerjoin(contacts, contacts.c.id == Activity.contact_id)
            .outerjoin(companies, companies.c.id == Activity.company_id)
            .where(Activity.id.in_(union(select(people_side.c.id), select(company_side.c.id))))
            .options(selectinload(Activity.attachments))
            .order_by(*newest).limit(ACTIVITY_LIMIT))
    entries = []
    for activity, first, middle, last, company in db.session.execute(stmt).all():
        person = _contact_name((first, middle, last)) if first is not None else ""
        entries.append(Entry(activity, activity.contact_id if first is not None else None,
                             activity.company_id if company is not None else None, person or company or ""))
    return entries


def _people(user: User, scope: str) -> list[Person]:
    """Who the reader sees the work of: their teams (themselves included), or everyone active."""
    stmt = select(User.id, User.full_name, User.email).where(User.is_active.is_(True))
    if scope != "all":
        teammates = select(team_members.c.user_id).where(team_members.c.team_id.in_(user.team_ids))
        stmt = stmt.where(or_(User.id == user.id, User.id.in_(teammates)))
    rows = db.session.execute(stmt.order_by(User.full_name, User.email).limit(TEAM_LIMIT)).all()
    return [Person(uid, name or email) for uid, name, email in rows]


def _team(day: Day, user: User, now: datetime, start: datetime) -> None:
    """Per person: open deals and their sums, overdue tasks, deals created today — one statement for all three."""
    scope = scope_for(user, "view", "task") or scope_for(user, "view", "deal")
    people = _people(user, scope or "own")
    ids = [p.id for p in people]
    parts = []
    day.team_deals = scope_for(user, "view", "deal") is not None
    day.team_tasks = scope_for(user, "view", "task") is not None
    if day.team_deals:
        parts.append(filter_query(user, "view", "deal", select(
            StageTotal.owner_id, literal("open"), func.sum(StageTotal.count), cast(func.sum(StageTotal.amount),
                                                                                   Numeric(16, 2)),
            Pipeline.currency).join(Stage, Stage.id == StageTotal.stage_id).join(
            Pipeline, Pipeline.id == Stage.pipeline_id).where(
            StageTotal.owner_id.in_(ids), Stage.kind == "open"), StageTotal.owner_id)
            .group_by(StageTotal.owner_id, Pipeline.currency))
        # today's deals read along the creation-time index (capped), not every deal of each person
        today = (select(Deal.owner_id).where(Deal.created_at >= start, Deal.deleted_at.is_(None))
                 .limit(NEW_TODAY_CAP).subquery())
        parts.append(filter_query(user, "view", "deal", select(
            today.c.owner_id, literal("new"), func.count(), cast(literal(0), Numeric(16, 2)),
            cast(literal(""), String)).where(today.c.owner_id.in_(ids)), today.c.owner_id)
            .group_by(today.c.owner_id))
    if day.team_tasks:
        parts.append(filter_query(user, "view", "task", select(
            Task.owner_id, literal("overdue"), func.count(Task.id), cast(literal(0), Numeric(16, 2)),
            cast(literal(""), String)).where(
            Task.owner_id.in_(ids), Task.status == "open", Task.deleted_at.is_(None), Task.due_at < now),
            Task.owner_id).group_by(Task.owner_id))
    by_id = {p.id: p for p in people}
    if parts and ids:
        for owner_id, kind, count, amount, currency in db.session.execute(union_all(*parts)).all():
            person = by_id.get(owner_id)
            if person is None:
                continue
            if kind == "open":
                person.open_deals += int(count or 0)
                person.sums[currency] = person.sums.get(currency, Decimal(0)) + Decimal(amount or 0)
            elif kind == "new":
                person.new_today = int(count or 0)
            else:
                person.overdue = int(count or 0)
    day.team = people


def leads_a_team(user: User | None) -> bool:
    """Does the reader see colleagues' work (a manager's team scope, or everyone's)? Same test as the task team
    page."""
    return scope_for(user, "view", "task") in ("team", "all")


def build(actor: Actor, now: datetime | None = None) -> Day:
    user = actor.user
    day = Day()
    if user is None:
        return day
    now = now or utcnow()
    start, end = day_bounds(local_today(user, now), zone_of(user))
    if scope_for(user, "view", "task"):
        _tasks(day, user, now, end)
    if inbox.may_view(actor):
        day.inbox_as_submitter = inbox.shows_as_submitted(actor)
        day.inbox = inbox.listing(actor, "new", limit=INBOX_LIMIT)
    if scope_for(user, "view", "deal"):
        day.stages = _stages(user)
    if scope_for(user, "view", "contact") or scope_for(user, "view", "company"):
        day.activity = _activity(user)
    if leads_a_team(user):
        _team(day, user, now, start)
    return day

