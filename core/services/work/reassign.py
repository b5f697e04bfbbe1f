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
from core.models import AuditEntry, Company, Contact, Deal, OwnerChange, Stage, Task, User, utcnow
from core.services.clients import client_fields
from core.services.platform import audit, notifications, ownership
from core.services.platform.access import can, filter_query, require
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.services.platform.text import N_, clean

ENTITIES = ("task", "deal", "contact", "company")
MODELS: dict[str, Any] = {"task": Task, "deal": Deal, "contact": Contact, "company": Company}


def assignable(actor: Actor, entity: str, users: list[User]) -> list[User]:
    """Of ``users``, those the owner pickers offer to ``actor`` for a ``entity``."""
    return [u for u in users if ownership.may_assign_to(actor, entity, u.id)]


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


PREVIEW_LIMIT = 1000  # records of each kind one handover shows and moves (the rest: hand over again)
LABELS: dict[str, Any] = {
    "task": (Task.title,), "deal": (Deal.title,), "company": (Company.name,),
    "contact": (Contact.first_name, Contact.middle_name, Contact.last_name),
}


@dataclass(frozen=True)
class Pending:
    """One kind of work a handover will move: how many there are, and the records (up to the limit) by name."""

    entity: str
    total: int
    items: list[tuple[int, str]]

    @property
    def more(self) -> int:
        return self.total - len(self.items)


def preview(actor: Actor, owner_id: int, limit: int = PREVIEW_LIMIT) -> dict[str, Pending]:
    """What handing over ``owner_id``'s open work would move, per kind the actor may assign: exactly the records
    :func:`reassign` moves (those the actor may edit), counted and listed by name, two statements per kind."""
    from sqlalchemy import func

    result: dict[str, Pending] = {}
    for entity in ENTITIES:
        if not can(actor.user, "assign", entity):
            continue
        model = MODELS[entity]
        movable = filter_query(actor.user, "edit", entity, _open_work(entity, owner_id), model.owner_id)
        total = db.session.scalar(select(func.count()).select_from(movable.subquery())) or 0
        rows = db.session.execute(movable.with_only_columns(model.id, *LABELS[entity])
                                  .order_by(model.id).limit(limit)).all()
        items = [(row[0], Contact.name_of(*(v or "" for v in row[1:])) if entity == "contact" else row[1])
                 for row in rows]
        result[entity] = Pending(entity, total, items)
    return result


def hand_over(actor: Actor, *, from_user_id: int, to_user_id: Any, reason: str = "",
              ids: dict[str, list[int]]) -> tuple[dict[str, int], int | None]:
    """Move exactly the records ``ids`` (what the preview showed) that are still ``from_user_id``'s open work;
    returns how many of each kind moved and the audit entry that :func:`undo_handover` takes back."""
    entities = tuple(e for e in ENTITIES if ids.get(e))
    if not entities:
        raise InvalidInput({"entities": _l("Choose what to hand over: tasks, deals, contacts or companies.")})
    moved, entry = _reassign(actor, from_user_id=from_user_id, to_user_id=to_user_id, reason=reason,
                             entities=entities, ids=ids)
    db.session.flush()
    audit_id = entry.id if entry is not None else None
    db.session.flush()
    return moved, audit_id


def undo_handover(actor: Actor, audit_id: int) -> dict[str, int]:
    """Give back what the handover ``audit_id`` moved: each record still owned by the colleague who received it
    returns to its previous owner, with its own line in the owner history. Records moved on since stay."""
    entry = db.session.get(AuditEntry, audit_id)
    if entry is None or entry.action != "work.reassigned" or not isinstance(entry.changes.get("ids"), dict):
        raise InvalidInput({"handover": _l("There is no handover to undo.")})
    changes = entry.changes
    back_to, taken_by = int(entry.target_id or 0), int(changes.get("to") or 0)
    why = clean(str(_l("Undo of the handover")), 200)
    team_id = client_fields.team_of(back_to)
    returned: dict[str, int] = {}
    for entity, record_ids in changes["ids"].items():
        if entity not in MODELS:
            continue
        require(actor.user, "assign", entity)
        model = MODELS[entity]
        count = 0
        for item in db.session.scalars(select(model).where(model.id.in_([int(i) for i in record_ids]),
                                                          model.owner_id == taken_by)):
            if not can(actor.user, "edit", entity, item):
                continue
            ownership.record(actor, entity, item.id, item.owner_id, back_to, why)
            item.owner_id, item.team_id = back_to, team_id
            if hasattr(item, "updated_at"):
                item.updated_at = utcnow()
            count += 1
        returned[entity] = count
    if not any(returned.values()):
        raise InvalidInput({"handover": _l("Nothing to give back: the work has been moved on or given back "
                                           "already.")})
    audit.record(actor, "work.reassign_undone", "user", back_to, {"undo_of": audit_id, "from": taken_by,
                                                                   **returned})
    db.session.flush()
    return returned


def reassign(actor: Actor, *, from_user_id: int, to_user_id: Any, reason: str = "",
             entities: tuple[str, ...] = ENTITIES, ids: dict[str, list[int]] | None = None) -> dict[str, int]:
    """Give ``from_user_id``'s open work (or only the records in ``ids``) to ``to_user_id``.

    Needs the ``assign`` right on each kind; records the actor may not edit are left as they are. Returns how many
    of each kind moved. All or nothing: one transaction.
    """
    moved, _entry = _reassign(actor, from_user_id=from_user_id, to_user_id=to_user_id, reason=reason,
                              entities=entities, ids=ids)
    db.session.flush()
    return moved


def _reassign(actor: Actor, *, from_user_id: int, to_user_id: Any, reason: str, entities: tuple[str, ...],
              ids: dict[str, list[int]] | None) -> tuple[dict[str, int], AuditEntry | None]:
    """:func:`reassign` without the commit; also returns its audit entry (which lists the moved ids)."""
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
    moved_ids: dict[str, list[int]] = {}  # kept in the audit entry: what an undo gives back
    for entity in entities:
        ids_of_entity: list[int] = []
        stmt = _open_work(entity, from_user_id)
        if ids is not None:
            stmt = stmt.where(MODELS[entity].id.in_(ids.get(entity, [])))
        count = 0
        for item in db.session.scalars(stmt):
            if not can(actor.user, "edit", entity, item):
                continue
            ownership.record(actor, entity, item.id, item.owner_id, target.id, why)
            ids_of_entity.append(item.id)
            item.owner_id, item.team_id = target.id, team_id
            if hasattr(item, "updated_at"):
                item.updated_at = utcnow()
            count += 1
        moved[entity] = count
        moved_ids[entity] = ids_of_entity
    entry = None
    if any(moved.values()):
        entry = audit.record(actor, "work.reassigned", "user", from_user_id,
                             {"to": target.id, "reason": why, **moved, "ids": moved_ids})
        notifications.notify([target.id], N_("%(actor)s handed you work: %(tasks)s task(s), %(deals)s deal(s), "
                                             "%(contacts)s contact(s), %(companies)s company(ies)"),
                             params={"actor": notifications.person(actor), "tasks": moved.get("task", 0),
                                     "deals": moved.get("deal", 0), "contacts": moved.get("contact", 0),
                                     "companies": moved.get("company", 0)}, link="/tasks/")
    return moved, entry
