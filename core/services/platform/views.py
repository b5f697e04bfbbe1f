"""Saved list views: a name for a set of filters, sort, grouping and columns; private or shared with everyone."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from core.db import db
from core.models import SavedView
from core.reference_cache import SAVED_VIEWS, cached, detached_session
from core.services.platform import audit
from core.services.platform.access import can
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.services.platform.text import clean

ENTITIES = ("contact", "company", "deal")
ALLOWED_KEYS = 40


def for_user(actor: Actor, entity: str) -> list[SavedView]:
    """``actor``'s own and the shared views of ``entity``: shared, read-only objects from the process's memory."""
    def load() -> tuple[SavedView, ...]:
        with detached_session() as session:
            return tuple(session.scalars(
                select(SavedView).where(SavedView.entity == entity,
                                        or_(SavedView.owner_id == actor.user_id, SavedView.shared.is_(True)))
                .order_by(SavedView.shared, SavedView.name)))

    return list(cached(SAVED_VIEWS, (entity, actor.user_id), load))


def save(actor: Actor, entity: str, name: str, params: dict[str, Any], shared: bool) -> SavedView:
    name = clean(name, 120)
    if entity not in ENTITIES or actor.user is None:
        raise InvalidInput({"entity": _l("Choose contacts, companies or deals.")})
    if not name:
        raise InvalidInput({"name": _l("Give the view a name.")})
    # only people who hand out work may publish views for everyone
    shared = shared and (actor.user.is_admin or can(actor.user, "assign", entity))
    clean_params = {str(k)[:60]: [str(v)[:200] for v in (vs if isinstance(vs, list) else [vs])][:50]
                    for k, vs in list(params.items())[:ALLOWED_KEYS] if k not in ("after", "csrf_token", "name",
                                                                                   "shared")}
    view = SavedView(entity=entity, name=name, owner_id=actor.user.id, shared=shared, params=clean_params)
    db.session.add(view)
    db.session.flush()
    audit.record(actor, "view.saved", "saved_view", view.id, {"name": name, "shared": shared})
    db.session.flush()
    return view


def delete(actor: Actor, view_id: int) -> None:
    view = db.session.get(SavedView, view_id)
    if view is None or (view.owner_id != actor.user_id and not (actor.user and actor.user.is_admin)):
        raise LookupError(view_id)
    audit.record(actor, "view.deleted", "saved_view", view.id, {"name": view.name})
    db.session.delete(view)
    db.session.flush()
