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


REACH: dict[str, tuple[str, ...]] = {"own": ("self",), "team": ("self", "teammates"), "all": ("everyone",)}
"""The one definition of what a scope reaches: whose records (by their owner) a grant of that scope covers. Both
:func:`can` (one loaded record) and :func:`filter_query` (a list, as SQL) read it; each only says what the three
words mean for it (:func:`_owner_reached` and :func:`_owner_clause`). A record without an owner is reached by
``all`` only."""


def _owner_reached(user: User, scope: str, owner_id: Any) -> bool:
    """Does ``scope`` reach a record owned by ``owner_id`` (a loaded record)?"""
    reach = REACH[scope]
    if "everyone" in reach:
        return True
    if owner_id is None:
        return False
    if "self" in reach and owner_id == user.id:
        return True
    return "teammates" in reach and any(owner_id == m.id for team in user.teams for m in team.members)


def _owner_clause(user: User, scope: str, owner_column: InstrumentedAttribute[Any]) -> Any:
    """The same reach as a WHERE clause on ``owner_column`` (``None``: every row)."""
    reach = REACH[scope]
    if "everyone" in reach:
        return None
    terms = []
    if "self" in reach:
        terms.append(owner_column == user.id)
    if "teammates" in reach and user.team_ids:
        terms.append(owner_column.in_(_teammate_ids(user)))
    return or_(*terms) if len(terms) > 1 else terms[0]


def _teammate_ids(user: User) -> Select[tuple[int]]:
    return select(team_members.c.user_id).where(team_members.c.team_id.in_(user.team_ids))


def can(user: User | None, action: str, entity: str, obj: Owned | None = None) -> bool:
    """May ``user`` do ``action`` on ``entity`` (on ``obj`` in particular, when given)?"""
    scope = scope_for(user, action, entity)
    if scope is None:
        return False
    if obj is None:
        return True
    assert user is not None
    return _owner_reached(user, scope, getattr(obj, "owner_id", None))


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
    assert user is not None
    clause = _owner_clause(user, scope, owner_column)
    return stmt if clause is None else stmt.where(clause)


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
