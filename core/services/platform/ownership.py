"""Who owns a record: the one way an owner changes (kept in ``owner_change``, emitted as ``<entity>_reassigned``,
and on a client's timeline), and whether someone may make a person the owner. Clients and work both use it, so it
sits below them both."""

from __future__ import annotations

from dataclasses import dataclass

from core.db import db
from core.models import Activity, OwnerChange, User
from core.plugins.events import CompanyReassigned, ContactReassigned, DealReassigned, Event, TaskReassigned
from core.services.platform import events
from core.services.platform.access import can
from core.services.platform.context import Actor

REASSIGNED: dict[str, type[Event]] = {"task": TaskReassigned, "deal": DealReassigned, "contact": ContactReassigned,
                                      "company": CompanyReassigned}


def record(actor: Actor, entity: str, record_id: int, old: int | None, new: int | None, reason: str) -> None:
    """Write one change of owner into the item's history and emit its ``<entity>_reassigned`` event (joins the
    caller's transaction)."""
    db.session.add(OwnerChange(entity=entity, record_id=record_id, from_owner_id=old, to_owner_id=new,
                               actor_id=actor.user_id, reason=reason))
    events.emit(REASSIGNED[entity](subject_id=record_id, origin=actor.origin,  # type: ignore[call-arg]
                                   from_owner_id=old, to_owner_id=new))
    if entity in ("contact", "company"):
        names = {u.id: u.display_name for u in (db.session.get(User, i) for i in (old, new) if i) if u}
        db.session.add(Activity(kind="owner", author_id=actor.user_id, source="core",
                                data={"from": old, "to": new, "reason": reason, "from_name": names.get(old, ""),
                                      "to_name": names.get(new, "")},
                                **{f"{entity}_id": record_id}))


@dataclass(frozen=True)
class _OwnedBy:
    owner_id: int | None


def may_assign_to(actor: Actor, entity: str, owner_id: int | None) -> bool:
    """May ``actor`` make ``owner_id`` the owner of a ``entity``? Always themselves; others as the scope of their
    assign right says (own: nobody else, team: their teammates, all: anyone)."""
    if owner_id is not None and owner_id == actor.user_id:
        return True
    return can(actor.user, "assign", entity, _OwnedBy(owner_id))
