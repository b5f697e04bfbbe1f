"""Sign-in: password check with per-account and per-address throttling.

An unknown email and a wrong password give the same answer and take the same time (a dummy hash is checked).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from core.db import db
from core.models import LoginFailure, User, utcnow
from core.services import accounts, audit
from core.services.context import Actor

WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_IP = 20
_DUMMY_HASH = generate_password_hash("mayak-timing-equaliser")


@dataclass(frozen=True)
class SignIn:
    user: User | None = None
    retry_after: int | None = None

    @property
    def ok(self) -> bool:
        return self.user is not None


def _retry_after(email: str, ip: str) -> int | None:
    since = utcnow() - WINDOW
    by_email = db.session.execute(
        select(func.count(), func.min(LoginFailure.at)).where(LoginFailure.email == email, LoginFailure.at > since)
    ).one()
    by_ip = db.session.execute(
        select(func.count(), func.min(LoginFailure.at)).where(LoginFailure.ip == ip, LoginFailure.at > since)
    ).one()
    blocked_until: datetime | None = None
    if by_email[0] >= MAX_FAILURES_PER_EMAIL:
        blocked_until = by_email[1] + WINDOW
    if by_ip[0] >= MAX_FAILURES_PER_IP:
        ip_until = by_ip[1] + WINDOW
        blocked_until = max(blocked_until, ip_until) if blocked_until else ip_until
    if blocked_until is None:
        return None
    if blocked_until.tzinfo is None:  # SQLite aggregates lose the column type
        blocked_until = blocked_until.replace(tzinfo=UTC)
    return max(1, math.ceil((blocked_until - utcnow()).total_seconds()))


def authenticate(email: str, password: str, ip: str) -> SignIn:
    key = (email or "").strip().lower()[:254]
    wait = _retry_after(key, ip)
    actor = Actor(user=None, ip=ip, via="web")
    if wait is not None:
        audit.record(actor, "auth.throttled", "email", key)
        db.session.commit()
        return SignIn(retry_after=wait)
    user = accounts.find_by_email(key)
    valid = check_password_hash(user.password_hash if user else _DUMMY_HASH, password or "")
    if user is None or not valid or not user.is_active:
        db.session.add(LoginFailure(email=key, ip=ip))
        audit.record(actor, "auth.failed", "email", key)
        db.session.commit()
        return SignIn()
    db.session.execute(delete(LoginFailure).where(LoginFailure.email == key))
    accounts.record_login(Actor(user=user, ip=ip), user)
    return SignIn(user=user)


def purge_failures(older_than: timedelta = WINDOW) -> int:
    """Delete failures older than the throttle window (run by the housekeeping schedule)."""
    result = db.session.execute(
        delete(LoginFailure).where(LoginFailure.at < utcnow() - older_than)
    )
    db.session.commit()
    return result.rowcount
