"""Request helpers for views: the acting user as a service :class:`Actor`, and the client address."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from core.models import User
from core.services.platform.context import Actor


def client_ip() -> str:
    # Behind nginx, ProxyFix (enabled by MAYAK_BEHIND_PROXY) has already put the real address here.
    return request.remote_addr or "unknown"


def user() -> User | None:
    return current_user if getattr(current_user, "is_authenticated", False) else None  # type: ignore[return-value]


def actor() -> Actor:
    return Actor(user=user(), ip=client_ip(), via="web")


def safe_next(target: str | None, default: str) -> str:
    """``target`` when it is an address within Mayak (never another site: no open redirects, no control
    characters in the ``Location`` header), else ``default``."""
    from core.web.security import local_path

    return local_path(target) or default
