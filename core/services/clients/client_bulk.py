"""What a client list does with the selected rows, the same for contacts and companies: give them to another
owner, add tags. Each record is checked on its own (rows the actor may not edit are skipped) and the change is
audited as one line; deleting and restoring are :func:`core.services.clients.client_fields.set_deleted`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.db import db
from core.plugins.events import EVENTS
from core.services.clients import client_fields
from core.services.platform import audit, events, ownership
from core.services.platform.access import can, require
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput


def give_to(actor: Actor, model: Any, entity: str, ids: Sequence[int], owner_id: int) -> list[int]:
    """Give the records to another owner (needs ``assign``); each record's history records the change."""
    require(actor.user, "assign", entity)
    errors: dict[str, Any] = {}
    new_owner = client_fields.resolve_owner(actor, entity, owner_id, -1, errors)
    if errors or new_owner in (None, -1):
        raise InvalidInput(errors or {"owner_id": _l("Choose an active user as the owner.")})
    team_id = client_fields.team_of(new_owner)
    done = []
    for record in db.session.scalars(select(model).where(model.id.in_(list(ids)), model.deleted_at.is_(None))):
        if record.owner_id == new_owner or not can(actor.user, "edit", entity, record):
            continue
        ownership.record(actor, entity, record.id, record.owner_id, new_owner, "")
        record.owner_id, record.team_id = new_owner, team_id
        done.append(record.id)
    if done:
        audit.record(actor, f"{entity}.reassigned", entity, ",".join(map(str, done[:50])),
                     {"ids": done, "owner_id": new_owner})
    db.session.flush()
    return done


def add_tags(actor: Actor, model: Any, entity: str, ids: Sequence[int], names: Sequence[str]) -> list[int]:
    """Add the tags ``names`` to the records the actor may edit; returns the ids that gained a tag."""
    tags = client_fields.tags_named(names)
    done = []
    for record in db.session.scalars(select(model).where(model.id.in_(list(ids)), model.deleted_at.is_(None))):
        if not can(actor.user, "edit", entity, record):
            continue
        missing = [t for t in tags if t not in record.tags]
        if missing:
            record.tags = [*record.tags, *missing]
            done.append(record.id)
            events.emit(EVENTS[f"{entity}_tagged"](subject_id=record.id, origin=actor.origin,  # type: ignore[call-arg]
                                                   tags=tuple(t.name for t in missing)))
    if done:
        audit.record(actor, f"{entity}.tagged", entity, ",".join(map(str, done[:50])),
                     {"ids": done, "tags": [t.name for t in tags]})
    db.session.flush()
    return done
