"""Who performs an action, passed from views, the API, the CLI or jobs into services."""

from __future__ import annotations

from dataclasses import dataclass

from core.models import User
from core.plugins.events import Origin

ORIGIN_OF_VIA = {"web": "user", "api": "api", "import": "import", "demo": "demo", "automation": "automation",
                 "provider": "provider", "system": "system"}
"""How each ``via`` shows in an event's origin; ``cli``, ``job`` and ``install`` (and anything unknown) count as
``system`` unless a user acts, then as ``user`` with the via as the detail."""


@dataclass(frozen=True)
class Actor:
    """Who acts and through what: ``via`` is ``web``, ``api`` (``detail``: the token id), ``import`` (the batch
    id), ``demo``, ``automation`` (what rule), ``provider`` (the plugin name), ``system``, ``cli``, ``job``..."""

    user: User | None
    ip: str | None = None
    via: str = "web"
    detail: str = ""

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user is not None else None

    @property
    def origin(self) -> Origin:
        """Where the events this actor causes come from."""
        kind = ORIGIN_OF_VIA.get(self.via)
        detail = self.detail
        if kind is None:
            kind = "user" if self.user is not None else "system"
            detail = detail or self.via
        return Origin(kind, user_id=self.user_id, detail=detail)

    @property
    def label(self) -> str:
        return self.user.email if self.user is not None else self.via


SYSTEM = Actor(user=None, ip=None, via="system")
