"""Who performs an action, passed from views, the API, the CLI or jobs into services."""

from __future__ import annotations

from dataclasses import dataclass

from core.models import User


@dataclass(frozen=True)
class Actor:
    user: User | None
    ip: str | None = None
    via: str = "web"

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user is not None else None

    @property
    def label(self) -> str:
        return self.user.email if self.user is not None else self.via


SYSTEM = Actor(user=None, ip=None, via="system")
