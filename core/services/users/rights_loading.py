"""How a user is read together with their rights: every request checks them, so one statement reads all four."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import joinedload

from core.models import Role, Team, User


def with_rights(through: Any = None) -> tuple[Any, Any]:
    """Loader options reading a user's teams, roles and grants in the statement that reads the user:
    ``select(User).options(*with_rights())``, or through a relationship, ``with_rights(ApiToken.user)``. A team's
    other members are not read (the team's own ``selectin`` default would read them, and their teams, in turn)."""
    def path(attribute: Any) -> Any:
        return joinedload(through).joinedload(attribute) if through is not None else joinedload(attribute)

    return path(User.teams).lazyload(Team.members), path(User.roles).joinedload(Role.grants)
