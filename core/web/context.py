"""Request helpers for views: the acting user as a service :class:`Actor`, and the client address."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from core.models import User
from core.services.context import Actor


def client_ip() -> str:
    # Behind nginx, ProxyFix (enabled by MAYAK_BEHIND_PROXY) has already put the real address here.
    return request.remote_addr or "unknown"


def user() -> User | None:
    return current_user if getattr(current_user, "is_authenticated", False) else None  # type: ignore[return-value]


def actor() -> Actor:
    return Actor(user=user(), ip=client_ip(), via="web")
