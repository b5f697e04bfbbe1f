"""Leases: a role only one process may play at a time, on any number of hosts, with or without Redis.

A process takes the lease named ``name`` when nobody holds it or the holder let it expire, and renews it well
before it runs out; a process that dies or loses the database stops renewing, and another takes over once the
lease has expired. Both steps are one conditional statement, so two processes can never both think they hold it.
Each call commits its own short transaction: a lease is never part of other work."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError

from core.db import db
from core.models import Lease, utcnow


def take(name: str, holder: str, ttl: float, now: datetime | None = None) -> bool:
    """Take or renew the lease for ``ttl`` seconds; ``False`` while another holder's lease is live."""
    now = now or utcnow()
    expires = now + timedelta(seconds=ttl)
    try:
        done = db.session.execute(
            update(Lease).where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at <= now))
            .values(holder=holder, expires_at=expires, taken_at=now)
            .execution_options(synchronize_session=False)).rowcount
        if not done:
            if db.session.get(Lease, name) is not None:
                db.session.rollback()
                return False
            db.session.add(Lease(name=name, holder=holder, expires_at=expires, taken_at=now))
        db.session.commit()
        return True
    except IntegrityError:  # another process created it a moment ago
        db.session.rollback()
        return False


def release(name: str, holder: str) -> None:
    """Give the lease up at once (a clean stop), so the next process need not wait for it to expire."""
    db.session.execute(update(Lease).where(Lease.name == name, Lease.holder == holder)
                       .values(expires_at=utcnow()).execution_options(synchronize_session=False))
    db.session.commit()


def holder_of(name: str, now: datetime | None = None) -> str | None:
    """Who holds the lease now, if anyone."""
    lease = db.session.get(Lease, name)
    if lease is None or lease.expires_at <= (now or utcnow()):
        return None
    return lease.holder
