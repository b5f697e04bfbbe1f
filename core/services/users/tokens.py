"""API tokens: ``mk_<random>``; only the SHA-256 is stored, so a leaked database leaks no usable token.

A token acts as its user, narrowed by its scopes: ``read`` and ``write`` for every part of the API, or per part
(``contacts:read``, ``deals:write``, …). ``write`` includes ``read``. It ends at its expiry, when revoked (by its
user or an administrator), when its user's password changes and when its user is disabled.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from core.db import db
from core.models import ApiToken, User, utcnow
from core.services.platform import access, audit
from core.services.platform.context import Actor
from core.services.platform.errors import ValidationError
from core.services.users import principals, throttle

PREFIX = "mk_"
MAX_LENGTH = 100
# The parts of the API a scope can name: the first path segment after /api/v1/.
ENTITIES = ("contacts", "companies", "deals", "pipelines", "tasks", "inbox")
LEVELS = ("read", "write")
SCOPES = (*LEVELS, *(f"{entity}:{level}" for entity in ENTITIES for level in LEVELS))
LAST_USED_EVERY = timedelta(minutes=1)
# refusals audited per client address and minute; the rest are counted, not written one by one
AUDITED_REFUSALS_PER_MINUTE = 10


ENTITY_LABELS = {"contacts": _l("Contacts"), "companies": _l("Companies"), "deals": _l("Deals"),
                 "pipelines": _l("Pipelines"), "tasks": _l("Tasks"), "inbox": _l("Incoming requests")}
LEVEL_LABELS = {"read": _l("read"), "write": _l("read and change")}


def part_label(entity: str | None) -> str:
    """The part of the API a scope names, in words (``None``: all of it)."""
    return str(ENTITY_LABELS.get(entity, entity) if entity else _l("Everything"))


def label(scope: str) -> str:
    """A scope in words: ``Deals: read and change``, ``Everything: read``."""
    entity, _sep, level = scope.rpartition(":")
    return f"{part_label(entity or None)}: {LEVEL_LABELS.get(level, level)}"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes in catalogue order, or a ValidationError naming the unknown one (or asking for one)."""
    chosen = set(scopes)
    unknown = sorted(chosen - set(SCOPES))
    if unknown:
        raise ValidationError("scopes", _l("Unknown scope %(scope)s.", scope=unknown[0][:60]))
    if not chosen:
        raise ValidationError("scopes", _l("Choose at least one scope."))
    return [scope for scope in SCOPES if scope in chosen]


def allows(scopes: Iterable[str], entity: str, write: bool) -> bool:
    """May a token with ``scopes`` read (or write) ``entity``? Parts outside the catalogue need the global scope."""
    have = set(scopes)
    levels = ("write",) if write else ("read", "write")
    if any(level in have for level in levels):
        return True
    return entity in ENTITIES and any(f"{entity}:{level}" in have for level in levels)


def issue(actor: Actor, user: User, name: str = "", *, scopes: Iterable[str] = LEVELS,
          expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the row and the token, which is shown once and cannot be recovered.

    People create tokens for themselves (the command line, run by whoever owns the server, for anyone): a token
    made by someone else would be a way into the account that its owner never saw the secret of."""
    if actor.user is not None and actor.user.id != user.id:
        raise access.AccessDenied("create", "api_token")
    chosen = check_scopes(scopes)
    name = (name or "").strip()[:120]
    if not name:
        raise ValidationError("name", _l("Say what the token is for, such as “1C exchange”."))
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationError("expires_at", _l("Choose an expiry date in the future."))
    if not user.is_active:
        raise ValidationError("user", _l("This user is disabled."))
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, prefix=token[:10], token_hash=_digest(token), scopes=chosen,
                   expires_at=expires_at)
    db.session.add(row)
    db.session.flush()
    audit.record(actor, "api_token.created", "user", user.id,
                 {"token_id": row.id, "name": name, "prefix": row.prefix, "scopes": chosen,
                  "expires_at": expires_at.isoformat() if expires_at else None})
    db.session.flush()
    return row, token


def create(actor: Actor, user: User, name: str = "api", *, scopes: Iterable[str] = LEVELS,
           expires_at: datetime | None = None) -> str:
    """:func:`issue`, returning only the token."""
    return issue(actor, user, name or "api", scopes=scopes, expires_at=expires_at)[1]


@dataclass(frozen=True)
class Check:
    """The outcome of presenting a token: the row when it may be used, else why not."""

    token: ApiToken | None = None
    reason: str | None = None  # missing, malformed, unknown, expired, revoked, user_disabled

    @property
    def user(self) -> User | None:
        return self.token.user if self.token is not None else None


def authenticate(token: str) -> Check:
    """Look a presented token up. Notes its use (at most once a minute, so busy clients cost no write each)."""
    if not token:
        return Check(reason="missing")
    if not token.startswith(PREFIX) or len(token) > MAX_LENGTH or not token.isascii():
        return Check(reason="malformed")
    row = principals.token(_digest(token))
    now = utcnow()
    if row is None:
        return Check(reason="unknown")
    if row.revoked_at is not None:
        return Check(reason="revoked")
    if row.expires_at is not None and row.expires_at <= now:
        return Check(reason="expired")
    if not row.user.is_active:
        return Check(reason="user_disabled")
    if row.last_used_at is None or row.last_used_at <= now - LAST_USED_EVERY:
        db.session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now)
                           .execution_options(synchronize_session=False))
        db.session.flush()
    return Check(token=row)


def visible(actor_user: User, *, everyone: bool = False) -> list[ApiToken]:
    """Tokens of ``actor_user`` (or of everyone, for an administrator), newest first."""
    return listing(None if everyone and actor_user.is_admin else actor_user)


def listing(owner: User | None) -> list[ApiToken]:
    """Tokens of ``owner`` (of everyone when ``None``), newest first."""
    stmt = select(ApiToken).order_by(ApiToken.id.desc())
    if owner is not None:
        stmt = stmt.where(ApiToken.user_id == owner.id)
    return list(db.session.scalars(stmt))


def find(token_id: int) -> ApiToken | None:
    return db.session.get(ApiToken, token_id)


def revoke(actor: Actor, token: ApiToken, reason: str = "revoked") -> None:
    """End one token. Its user may; administrators may end anyone's (the command line too)."""
    if actor.user is not None and actor.user.id != token.user_id and not actor.user.is_admin:
        raise access.AccessDenied("revoke", "api_token")
    if token.revoked_at is not None:
        return
    token.revoked_at = utcnow()
    token.revoked_reason = reason
    audit.record(actor, "api_token.revoked", "api_token", token.id,
                 {"user_id": token.user_id, "name": token.name, "prefix": token.prefix, "reason": reason})
    db.session.flush()


def revoke_all(actor: Actor, user: User, reason: str) -> int:
    """End every live token of ``user`` (a password change, the user disabled); joins the caller's transaction."""
    live = list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                          ApiToken.revoked_at.is_(None))))
    now = utcnow()
    for token in live:
        token.revoked_at = now
        token.revoked_reason = reason
    if live:
        audit.record(actor, "api_token.revoked", "user", user.id,
                     {"tokens": [t.id for t in live], "reason": reason})
    return len(live)


def record_refusal(actor: Actor, action: str, target_type: str | None, details: dict[str, object]) -> None:
    """Audit an API refusal (bad, forged, expired or revoked token, missing scope, access denied).

    A client hammering with bad tokens would fill the log: each address gets ``AUDITED_REFUSALS_PER_MINUTE``
    lines a minute, then one ``api.refusals_suppressed`` line; the rest are only counted. The caller (the API
    layer) rolls the refused call back first and commits the audit line after, on its own."""
    hit = throttle.hit(f"api-refusal:{actor.ip or '-'}", timedelta(minutes=1))
    if hit.count <= AUDITED_REFUSALS_PER_MINUTE:
        audit.record(actor, action, target_type, None, details)
    elif hit.count == AUDITED_REFUSALS_PER_MINUTE + 1:
        audit.record(actor, "api.refusals_suppressed", target_type, None,
                     {"limit_per_minute": AUDITED_REFUSALS_PER_MINUTE, "seconds_left": hit.retry_after})
    else:
        return
    db.session.flush()
