"""The central access module: every list, card, export, API call and plugin view asks here.

Roles grant ``action`` on ``entity`` with a scope: ``own`` (records the user owns), ``team`` (records owned by
anyone in one of the user's teams) or ``all``. Administrators may do everything. A user's effective scope for an
action is the widest any of their roles grants.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from core.models import User
from core.models.users import SCOPES, team_members

SCOPE_RANK = {scope: rank for rank, scope in enumerate(SCOPES)}


class AccessDenied(Exception):
    """Raised by :func:`require`; the web layer turns it into a 403 page, the API into a JSON 403."""

    def __init__(self, action: str, entity: str) -> None:
        super().__init__(f"{action} {entity} denied")
        self.action = action
        self.entity = entity


class Owned(Protocol):
    owner_id: Any


def scope_for(user: User | None, action: str, entity: str) -> str | None:
    """The widest scope ``user`` has for ``action`` on ``entity``, or ``None`` when not granted."""
    if user is None or not user.is_active:
        return None
    if user.is_admin:
        return "all"
    best: str | None = None
    for role in user.roles:
        for grant in role.grants:
            if grant.entity == entity and grant.action == action and (
                best is None or SCOPE_RANK[grant.scope] > SCOPE_RANK[best]
            ):
                best = grant.scope
    return best


def _teammate_ids(user: User) -> Select[tuple[int]]:
    return select(team_members.c.user_id).where(team_members.c.team_id.in_(user.team_ids))


def can(user: User | None, action: str, entity: str, obj: Owned | None = None) -> bool:
    """May ``user`` do ``action`` on ``entity`` (on ``obj`` in particular, when given)?"""
    scope = scope_for(user, action, entity)
    if scope is None:
        return False
    if obj is None or scope == "all":
        return True
    assert user is not None
    owner_id = getattr(obj, "owner_id", None)
    if owner_id == user.id:
        return True
    if scope == "team" and owner_id is not None:
        return any(owner_id in {m.id for m in team.members} for team in user.teams)
    return False


def require(user: User | None, action: str, entity: str, obj: Owned | None = None) -> None:
    if not can(user, action, entity, obj):
        raise AccessDenied(action, entity)


def filter_query(
    user: User | None,
    action: str,
    entity: str,
    stmt: Select[Any],
    owner_column: InstrumentedAttribute[Any],
) -> Select[Any]:
    """Narrow a list query to the rows ``user`` may ``action``; every list, search and export goes through here."""
    scope = scope_for(user, action, entity)
    if scope is None:
        return stmt.where(false())
    if scope == "all":
        return stmt
    assert user is not None
    if scope == "team" and user.team_ids:
        return stmt.where(or_(owner_column == user.id, owner_column.in_(_teammate_ids(user))))
    return stmt.where(owner_column == user.id)
