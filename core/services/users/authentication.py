"""Sign-in: password check with per-account and per-address throttling.

Every attempt takes its place in both counters (:mod:`core.services.users.throttle`, one atomic statement each)
*before* the password is checked, so however many requests arrive at once, at most ``MAX_FAILURES_PER_EMAIL``
passwords are checked for an account in a window and the right password is refused once the limit is reached.
A right password gives its places back: it clears the account's counter and takes its one place back from the
address's counter (the address keeps its failures, so signing in to an own account does not reset a spray).

An unknown email and a wrong password give the same answer and take the same time (a dummy hash is checked).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from werkzeug.security import check_password_hash, generate_password_hash

from core.models import User
from core.services.platform import audit
from core.services.platform.context import Actor
from core.services.platform.errors import ValidationError
from core.services.users import accounts, throttle

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


def _keys(email: str, ip: str) -> tuple[str, str]:
    return f"login:email:{email}", f"login:ip:{ip}"


def account_key(email: str) -> str:
    """The account an attempt counts against: the address as the user lookup reads it (:func:`accounts.
    normalise_email`: trimmed, lower-cased, the domain in IDNA), folded further with NFKC so full-width or other
    compatibility spellings of the local part count as the same account too. Without this,
    ``ｄｅｍｏ@ｅｘａｍｐｌｅ.com`` found ``demo@example.com`` under a fresh counter: five new guesses per spelling."""
    try:
        normalised = accounts.normalise_email(email or "")
    except ValidationError:
        normalised = (email or "").strip()
    return unicodedata.normalize("NFKC", normalised).casefold().strip()[:254]


def authenticate(email: str, password: str, ip: str) -> SignIn:
    """Check a sign-in. Adds audit lines to the session; the caller commits."""
    key = account_key(email)
    by_email, by_ip = _keys(key, ip)
    actor = Actor(user=None, ip=ip, via="web")
    email_hit = throttle.hit(by_email, WINDOW)
    ip_hit = throttle.hit(by_ip, WINDOW)
    waits = [hit.retry_after for hit, limit in ((email_hit, MAX_FAILURES_PER_EMAIL), (ip_hit, MAX_FAILURES_PER_IP))
             if hit.count > limit]
    if waits:
        audit.record(actor, "auth.throttled", "email", key)
        return SignIn(retry_after=max(waits))
    user = accounts.find_by_email(email or "")
    valid = check_password_hash(user.password_hash if user else _DUMMY_HASH, password or "")
    if user is None or not valid or not user.is_active:
        audit.record(actor, "auth.failed", "email", key)
        return SignIn()
    throttle.clear(by_email)
    throttle.refund(by_ip)
    accounts.record_login(Actor(user=user, ip=ip), user)
    return SignIn(user=user)
