"""The people work can be given to, by name: owner pickers, filters and the names beside every record."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from core.models import User
from core.reference_cache import PEOPLE, cached, detached_session


@dataclass(frozen=True, slots=True)
class Person:
    """A user as pickers and lists show them; not an ORM object (it is shared by the process's requests)."""

    id: int
    full_name: str
    email: str

    @property
    def display_name(self) -> str:
        return self.full_name or self.email


def _load() -> tuple[Person, ...]:
    with detached_session() as session:
        rows = session.execute(select(User.id, User.full_name, User.email).where(User.is_active.is_(True))
                               .order_by(User.full_name, User.email))
        return tuple(Person(id=row.id, full_name=row.full_name or "", email=row.email) for row in rows)


def active_people() -> list[Person]:
    """Active users by name (a new list each call: callers may extend it)."""
    return list(cached(PEOPLE, "active", _load))
