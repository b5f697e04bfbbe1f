"""Hand work to someone else: one record, or all open work of a person (vacation, sickness, dismissal).

Every change of owner is kept in ``owner_change`` (who, from whom, to whom, when, why) and, for clients, on
their timeline, so each item's history shows how it moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.db import db
from core.models import Activity, Company, Contact, Deal, OwnerChange, Stage, Task, User, utcnow
from core.services import audit, client_fields, notifications
from core.services.access import can, require
from core.services.context import Actor
from core.services.errors import InvalidInput
from core.services.text import N_, clean

ENTITIES = ("task", "deal", "contact", "company")
MODELS: dict[str, Any] = {"task": Task, "deal": Deal, "contact": Contact, "company": Company}


def record(actor: Actor, entity: str, record_id: int, old: int | None, new: int | None, reason: str) -> None:
    """Write one change of owner into the item's history (joins the caller's transaction)."""
    db.session.add(OwnerChange(entity=entity, record_id=record_id, from_owner_id=old, to_owner_id=new,
                               actor_id=actor.user_id, reason=reason))
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


def assignable(actor: Actor, entity: str, users: list[User]) -> list[User]:
    """Of ``users``, those the owner pickers offer to ``actor`` for a ``entity``."""
    return [u for u in users if may_assign_to(actor, entity, u.id)]


def history(entity: str, record_id: int) -> list[OwnerChange]:
    return list(db.session.scalars(select(OwnerChange).where(OwnerChange.entity == entity,
                                                             OwnerChange.record_id == record_id)
                                   .order_by(OwnerChange.id)))


def _open_work(entity: str, owner_id: int) -> Any:
    model = MODELS[entity]
    stmt = select(model).where(model.owner_id == owner_id, model.deleted_at.is_(None))
    if entity == "task":
        stmt = stmt.where(Task.status == "open")
    elif entity == "deal":
        stmt = stmt.join(Stage, Stage.id == Deal.stage_id).where(Stage.kind == "open")
    return stmt


def count_open_work(owner_id: int) -> dict[str, int]:
    from sqlalchemy import func

    counts = {}
    for entity in ENTITIES:
        stmt = _open_work(entity, owner_id)
        counts[entity] = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    return counts


def reassign(actor: Actor, *, from_user_id: int, to_user_id: Any, reason: str = "",
             entities: tuple[str, ...] = ENTITIES, ids: dict[str, list[int]] | None = None) -> dict[str, int]:
    """Give ``from_user_id``'s open work (or only the records in ``ids``) to ``to_user_id``.

    Needs the ``assign`` right on each kind; records the actor may not edit are left as they are. Returns how many
    of each kind moved. All or nothing: one transaction.
    """
    errors: dict[str, Any] = {}
    try:
        target = db.session.get(User, int(to_user_id))
    except (TypeError, ValueError):
        target = None
    if target is None or not target.is_active:
        errors["to_user_id"] = _l("Choose an active user to give the work to.")
    elif target.id == from_user_id:
        errors["to_user_id"] = _l("Choose someone other than the current owner.")
    unknown = [e for e in entities if e not in ENTITIES]
    if unknown or not entities:
        errors["entities"] = _l("Choose what to hand over: tasks, deals, contacts or companies.")
    if errors:
        raise InvalidInput(errors)
    assert target is not None
    for entity in entities:
        require(actor.user, "assign", entity)
    why = clean(reason, 200)
    team_id = client_fields.team_of(target.id)
    moved: dict[str, int] = {}
    for entity in entities:
        stmt = _open_work(entity, from_user_id)
        if ids is not None:
            stmt = stmt.where(MODELS[entity].id.in_(ids.get(entity, [])))
        count = 0
        for item in db.session.scalars(stmt):
            if not can(actor.user, "edit", entity, item):
                continue
            record(actor, entity, item.id, item.owner_id, target.id, why)
            item.owner_id, item.team_id = target.id, team_id
            if hasattr(item, "updated_at"):
                item.updated_at = utcnow()
            count += 1
        moved[entity] = count
    if any(moved.values()):
        audit.record(actor, "work.reassigned", "user", from_user_id,
                     {"to": target.id, "reason": why, **moved})
        notifications.notify([target.id], N_("%(actor)s handed you work: %(tasks)s task(s), %(deals)s deal(s), "
                                             "%(contacts)s contact(s), %(companies)s company(ies)"),
                             params={"actor": actor.label, "tasks": moved.get("task", 0),
                                     "deals": moved.get("deal", 0), "contacts": moved.get("contact", 0),
                                     "companies": moved.get("company", 0)}, link="/tasks/")
    db.session.commit()
    return moved
