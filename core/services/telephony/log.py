"""The call log and each manager's call figures, as the role allows (``call`` ``view``: own, team or all).

The log puts the missed calls nobody has called back yet first — the ones a manager must act on — then every call,
newest first, a page at a time by id. The figures are one grouped statement over the same filters; the reports
will read them from :func:`figures`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, case, func, select

from core.db import db
from core.models import Call, Company, Contact
from core.models.calls import CALL_DIRECTIONS, CALL_OUTCOMES
from core.services.platform import params
from core.services.platform.access import filter_query, require
from core.services.platform.context import Actor

ENTITY = "call"
PAGE = 50


@dataclass(frozen=True)
class Filters:
    """What the log is narrowed to; every field optional. ``since``/``until`` are moments (UTC), the web layer
    turns the reader's dates into them in the reader's zone."""

    user_id: int | None = None
    direction: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def parse(cls, args: dict[str, str], since: datetime | None, until: datetime | None) -> Filters:
        """Filters from an address's parameters; a value that is not of its kind is refused (``BadParameter``)."""
        user_id = params.record_id("manager", args["manager"]) if args.get("manager") else None
        direction = params.choice("direction", args["direction"], CALL_DIRECTIONS) if args.get("direction") else None
        outcome = params.choice("outcome", args["outcome"], CALL_OUTCOMES) if args.get("outcome") else None
        return cls(user_id, direction, outcome, since, until)


def _visible(actor: Actor, stmt: Select, filters: Filters) -> Select:
    stmt = filter_query(actor.user, "view", ENTITY, stmt, Call.user_id)
    if filters.user_id is not None:
        stmt = stmt.where(Call.user_id == filters.user_id)
    if filters.direction:
        stmt = stmt.where(Call.direction == filters.direction)
    if filters.outcome:
        stmt = stmt.where(Call.outcome == filters.outcome)
    if filters.since is not None:
        stmt = stmt.where(Call.started_at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(Call.started_at < filters.until)
    return stmt


@dataclass(frozen=True)
class Row:
    """One line of the log: the call and whom it was with (names read in the same statement)."""

    call: Call
    contact_name: str | None
    company_name: str | None


def _rows(stmt: Select) -> list[Row]:
    named = (stmt.add_columns(Contact.first_name, Contact.middle_name, Contact.last_name, Company.name)
             .outerjoin(Contact, Contact.id == Call.contact_id).outerjoin(Company, Company.id == Call.company_id))
    return [Row(call, Contact.name_of(first or "", middle or "", last or "") if first or middle or last else None,
                company) for call, first, middle, last, company in db.session.execute(named)]


def to_call_back(actor: Actor, filters: Filters, limit: int = PAGE) -> list[Row]:
    """Missed calls from clients not yet called back, newest first (one per client: the latest attempt)."""
    require(actor.user, "view", ENTITY)
    latest = _visible(actor, select(func.max(Call.id)), filters).where(
        Call.outcome == "missed", Call.called_back_at.is_(None), Call.client_number.is_not(None),
        Call.direction == "in").group_by(Call.client_number)
    return _rows(select(Call).where(Call.id.in_(latest)).order_by(Call.id.desc()).limit(limit))


def listing(actor: Actor, filters: Filters, before_id: int | None = None, limit: int = PAGE) -> list[Row]:
    """Every call the actor may see, newest first, ``limit`` at a time before ``before_id``."""
    require(actor.user, "view", ENTITY)
    stmt = _visible(actor, select(Call), filters).order_by(Call.id.desc()).limit(limit)
    if before_id is not None:
        params.record_id("before", before_id)
        stmt = stmt.where(Call.id < before_id)
    return _rows(stmt)


def next_before(rows: list[Row], limit: int = PAGE) -> int | None:
    return rows[-1].call.id if len(rows) == limit else None


@dataclass(frozen=True)
class Figures:
    """One manager's calls in the period. ``answered_share`` is the share of incoming calls answered (``None``
    without incoming calls); waits are of answered incoming calls, talk of every answered call."""

    user_id: int | None
    calls: int
    incoming: int
    outgoing: int
    missed: int
    answered_share: float | None
    average_wait: float | None
    average_talk: float | None


def figures(actor: Actor, filters: Filters) -> list[Figures]:
    """Per-manager figures over ``filters`` (a manager filter narrows them to one), most calls first."""
    require(actor.user, "view", ENTITY)
    inbound = Call.direction == "in"
    answered = Call.outcome == "answered"
    stmt = _visible(actor, select(
        Call.user_id, func.count(Call.id),
        func.sum(case((inbound, 1), else_=0)),
        func.sum(case((Call.direction == "out", 1), else_=0)),
        func.sum(case((Call.outcome == "missed", 1), else_=0)),
        func.sum(case((inbound & answered, 1), else_=0)),
        func.avg(case((inbound & answered, Call.wait_seconds))),
        func.avg(case((answered, Call.talk_seconds))),
    ), filters).where(Call.direction != "internal").group_by(Call.user_id).order_by(func.count(Call.id).desc())
    result = []
    for user_id, total, incoming, outgoing, missed, answered_in, wait, talk in db.session.execute(stmt):
        result.append(Figures(user_id, int(total), int(incoming or 0), int(outgoing or 0), int(missed or 0),
                              (int(answered_in or 0) / int(incoming)) if incoming else None,
                              float(wait) if wait is not None else None, float(talk) if talk is not None else None))
    return result


def get(actor: Actor, call_id: int) -> Call:
    """One call the actor may see: ``LookupError`` when there is none, ``AccessDenied`` when it is another's."""
    call = db.session.get(Call, call_id)
    if call is None:
        raise LookupError(call_id)
    require(actor.user, "view", ENTITY, call)
    return call


