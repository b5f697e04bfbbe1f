"""API tokens: ``mk_<random>``; only the SHA-256 is stored, so a leaked database leaks no usable token."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select, update

from core.db import db
from core.models import ApiToken, User, utcnow
from core.services import audit
from core.services.context import Actor

PREFIX = "mk_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(actor: Actor, user: User, name: str = "") -> str:
    """Create a token for ``user`` and return it (shown once; it cannot be recovered later)."""
    token = PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, name=name[:120], prefix=token[:10], token_hash=_digest(token)))
    audit.record(actor, "api_token.created", "user", user.id, {"name": name, "prefix": token[:10]})
    db.session.commit()
    return token


def authenticate(token: str) -> User | None:
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token),
                                                   ApiToken.revoked_at.is_(None)))
    if row is None or not row.user.is_active:
        return None
    db.session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=utcnow()))
    db.session.commit()
    return row.user


def revoke(actor: Actor, token_id: int) -> None:
    db.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=utcnow()))
    audit.record(actor, "api_token.revoked", "api_token", token_id)
    db.session.commit()
