"""The central access module: every list, card, export, API call and plugin view asks here.

Roles grant ``action`` on ``entity`` with a scope: ``own`` (records the user owns), ``team`` (records owned by
anyone in one of the user's teams) or ``all``. Administrators may do everything. A user's effective scope for an
action is the widest any of their roles grants.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from core.models import Role, User
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


# --- rights over rights: nobody raises their own, nobody changes an account with more than theirs ----------

Grant = tuple[str, str, str]  # (entity, action, scope)


def grants_of(roles: Iterable[Role]) -> set[Grant]:
    return {(g.entity, g.action, g.scope) for role in roles for g in role.grants}


def holds(user: User | None, grants: Iterable[Grant]) -> bool:
    """Does ``user`` hold every grant in ``grants``, each at least as wide? Administrators hold everything."""
    if user is None or not user.is_active:
        return False
    if user.is_admin:
        return True
    for entity, action, scope in grants:
        mine = scope_for(user, action, entity)
        if mine is None or SCOPE_RANK[mine] < SCOPE_RANK.get(scope, len(SCOPES)):
            return False
    return True


def may_change_account(user: User | None, target: User) -> bool:
    """Only administrators change administrators; others change only accounts whose rights they hold all of
    (themselves included)."""
    if user is None or not user.is_active:
        return False
    if user.is_admin:
        return True
    return not target.is_admin and holds(user, grants_of(target.roles))


def require_change_account(user: User | None, target: User) -> None:
    if not may_change_account(user, target):
        raise AccessDenied("edit", "admin" if target.is_admin else "user")


def require_grantable(user: User | None, *, roles: Iterable[Role] = (), make_admin: bool = False) -> None:
    """Refuse giving rights ``user`` does not hold: the administrator flag, or roles carrying more than theirs."""
    if make_admin and not (user is not None and user.is_active and user.is_admin):
        raise AccessDenied("grant", "admin")
    if not holds(user, grants_of(roles)):
        raise AccessDenied("grant", "role")


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


class Submitted(Protocol):
    submitted_by_id: Any


class _SubmittedBy:
    """A record seen through its submitter, for the owner-based checks of :func:`can`."""

    def __init__(self, user_id: Any) -> None:
        self.owner_id = user_id


def as_submitter(user: User | None, entity: str, submitted: str, obj: Submitted | None = None) -> bool:
    """Does ``user`` see ``entity`` records (``obj`` in particular) only as their submitter?

    External contact centres hold a grant on ``submitted`` (``lead``) instead of ``entity`` (``inbox``): they see
    what they sent, as they sent it, and nothing the product learned after (the client it matched, the open deal,
    the manager, the outcome). Callers show such a record through its submitted fields only, whatever the page,
    partial, status filter or API route; a user who may view ``entity`` itself sees the full record.
    """
    if obj is None:
        return scope_for(user, "view", entity) is None and scope_for(user, "view", submitted) is not None
    if can(user, "view", entity, obj):
        return False
    return can(user, "view", submitted, _SubmittedBy(obj.submitted_by_id))


def filter_submitted(user: User | None, submitted: str, stmt: Select[Any],
                     submitter_column: InstrumentedAttribute[Any]) -> Select[Any]:
    """Narrow ``stmt`` to the records ``user`` may view as their submitter (see :func:`as_submitter`)."""
    return filter_query(user, "view", submitted, stmt, submitter_column)
