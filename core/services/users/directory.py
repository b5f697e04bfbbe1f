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
    extension: str = ""

    @property
    def display_name(self) -> str:
        return self.full_name or self.email


def _load() -> tuple[Person, ...]:
    with detached_session() as session:
        rows = session.execute(select(User.id, User.full_name, User.email, User.extension)
                               .where(User.is_active.is_(True)).order_by(User.full_name, User.email))
        return tuple(Person(id=row.id, full_name=row.full_name or "", email=row.email, extension=row.extension or "")
                     for row in rows)


def active_people() -> list[Person]:
    """Active users by name (a new list each call: callers may extend it)."""
    return list(cached(PEOPLE, "active", _load))


def by_id() -> dict[int, Person]:
    """Active users by id: a name to show, or whether someone may still be given work (absent: not active)."""
    return dict(cached(PEOPLE, "by_id", lambda: {p.id: p for p in _people()}))


def by_extension() -> dict[str, Person]:
    """Active users by their PBX extension ("101" → the person): whom a call to an extension is for."""
    return dict(cached(PEOPLE, "by_extension", lambda: {p.extension: p for p in _people() if p.extension}))


def _people() -> tuple[Person, ...]:
    return cached(PEOPLE, "active", _load)
