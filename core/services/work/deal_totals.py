"""Per stage and owner: how many live deals and their sum, maintained on every flush that changes a deal.

The board reads these few rows instead of counting and summing the deals themselves (a pipeline may hold hundreds
of thousands). Every change made through the ORM is caught in ``before_flush``: a new deal, a deal moved to
another stage, given to another owner, re-priced, deleted or restored. Each change is applied as an atomic
``INSERT … ON CONFLICT DO UPDATE`` of the difference, so concurrent transactions add up correctly. Bulk loads that
bypass the ORM (the benchmark seeder) call :func:`recount`.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, event, func, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.db import db
from core.models import Deal, StageTotal

Key = tuple[int, int]  # (stage_id, owner_id or 0)


def _now(deal: Deal) -> tuple[Key, Decimal] | None:
    if deal.deleted_at is not None or deal.stage_id is None:
        return None
    return (deal.stage_id, deal.owner_id or 0), Decimal(deal.amount or 0)


TRACKED = ("stage_id", "owner_id", "amount", "deleted_at")


def _before(deal: Deal, session: Session) -> tuple[Key, Decimal] | None:
    """The deal as the database holds it now (before this flush). A value set without the old one loaded (an
    attribute never read since the insert or since it expired) has no history: that row is read back."""
    state = inspect(deal)
    histories = {name: state.attrs[name].history for name in TRACKED}
    stored: dict[str, Any] = {}
    if any(h.added and not h.deleted for h in histories.values()):
        row = session.connection().execute(select(*(getattr(Deal, n) for n in TRACKED))
                                           .where(Deal.id == deal.id)).one()
        stored = dict(zip(TRACKED, row, strict=True))

    def old(name: str) -> Any:
        history = histories[name]
        if history.deleted:
            return history.deleted[0]
        return stored[name] if name in stored else getattr(deal, name)

    if old("deleted_at") is not None or old("stage_id") is None:
        return None
    return (old("stage_id"), old("owner_id") or 0), Decimal(old("amount") or 0)


def _collect(session: Session, _context: Any, _instances: Any) -> None:
    changes: dict[Key, list[Any]] = defaultdict(lambda: [0, Decimal("0")])

    def add(entry: tuple[Key, Decimal] | None, sign: int) -> None:
        if entry is not None:
            key, amount = entry
            changes[key][0] += sign
            changes[key][1] += sign * amount

    for deal in session.new:
        if isinstance(deal, Deal):
            add(_now(deal), +1)
    for deal in session.dirty:
        if isinstance(deal, Deal) and session.is_modified(deal, include_collections=False):
            add(_before(deal, session), -1)
            add(_now(deal), +1)
    for deal in session.deleted:
        if isinstance(deal, Deal):
            add(_before(deal, session), -1)
    pending = {key: value for key, value in changes.items() if value[0] or value[1]}
    if pending:
        _apply(session, pending)


def _apply(session: Session, changes: dict[Key, list[Any]]) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for (stage_id, owner_id), (count, amount) in changes.items():
        stmt = insert(StageTotal).values(stage_id=stage_id, owner_id=owner_id, count=count, amount=amount)
        stmt = stmt.on_conflict_do_update(index_elements=["stage_id", "owner_id"], set_={
            "count": StageTotal.count + stmt.excluded.count, "amount": StageTotal.amount + stmt.excluded.amount})
        session.connection().execute(stmt)  # the flush's own connection, without flushing again


def install() -> None:
    """Keep the totals from now on in every session of this process (once, however many apps are made)."""
    if not event.contains(Session, "before_flush", _collect):
        event.listen(Session, "before_flush", _collect)


def recount() -> int:
    """Rebuild every total from the deals themselves (after a bulk load, or to check the running totals)."""
    db.session.execute(delete(StageTotal))
    owner = func.coalesce(Deal.owner_id, 0)
    rows = db.session.execute(select(Deal.stage_id, owner, func.count(Deal.id), func.coalesce(func.sum(Deal.amount), 0))
                              .where(Deal.deleted_at.is_(None)).group_by(Deal.stage_id, owner)).all()
    if rows:
        db.session.execute(StageTotal.__table__.insert(), [
            {"stage_id": stage_id, "owner_id": owner_id, "count": count, "amount": amount}
            for stage_id, owner_id, count, amount in rows])
    db.session.flush()
    return len(rows)
