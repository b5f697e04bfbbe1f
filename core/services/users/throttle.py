"""Atomic counters in fixed windows: the sign-in throttle, and limits on how much refusal noise gets audited.

With Redis (``REDIS_URL``) a count is one ``MULTI``: ``SET key 0 EX window NX``, ``INCR key``, ``TTL key``. Without
it — or while Redis is unreachable, so an outage never opens the gate nor answers 500 — it is one
``INSERT … ON CONFLICT DO UPDATE … RETURNING`` statement (PostgreSQL, SQLite ≥ 3.35) in its own short transaction
on its own connection, committed before the caller goes on. Either way 40 concurrent requests get the counts
1…40, never the same count twice, and a request is counted even when its caller later rolls back. The counters
are not part of the caller's unit of work on purpose: they guard it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import bindparam, case, delete, update
from sqlalchemy.dialects import postgresql, sqlite

from core import jobs
from core.db import db
from core.models import ThrottleCounter, utcnow
from core.models.base import UTCDateTime

log = logging.getLogger(__name__)
_TABLE = ThrottleCounter.__table__
MAX_KEY = 300
REDIS_PREFIX = "mayak:throttle:"
# DECR only a live counter above zero (a refund must never create a key without expiry)
_REFUND = ("local n = tonumber(redis.call('GET', KEYS[1]) or '0') "
           "if n > 0 then return redis.call('DECR', KEYS[1]) end return 0")


@dataclass(frozen=True)
class Hit:
    """The count in the current window, this hit included, and the seconds until the window ends."""

    count: int
    retry_after: int


def _key(key: str) -> str:
    return key[:MAX_KEY]


def _redis() -> Any | None:
    """The Redis client of the job backend when Redis is configured."""
    return getattr(jobs.backend(), "redis", None)


def _unreachable(exc: RedisError) -> None:
    log.warning("Redis unreachable for a throttle counter (%s): counting in the database", type(exc).__name__)


def hit(key: str, window: timedelta, now: datetime | None = None) -> Hit:
    """Count one event under ``key``; a window older than ``window`` starts again at 1."""
    redis = _redis()
    if redis is not None:
        seconds = max(1, math.ceil(window.total_seconds()))
        try:
            with redis.pipeline(transaction=True) as pipe:
                name = REDIS_PREFIX + _key(key)
                _created, count, ttl = pipe.set(name, 0, ex=seconds, nx=True).incr(name).ttl(name).execute()
            return Hit(int(count), max(1, int(ttl)))
        except RedisError as exc:
            _unreachable(exc)
    now = now or utcnow()
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    at = bindparam("now", now, type_=UTCDateTime)
    expired = _TABLE.c.window_start <= now - window
    stmt = (
        insert(_TABLE)
        .values(key=_key(key), count=1, window_start=at)
        .on_conflict_do_update(index_elements=[_TABLE.c.key], set_={
            "count": case((expired, 1), else_=_TABLE.c.count + 1),
            "window_start": case((expired, at), else_=_TABLE.c.window_start),
        })
        .returning(_TABLE.c.count, _TABLE.c.window_start)
    )
    with db.engine.begin() as conn:
        count, started = conn.execute(stmt).one()
    if started.tzinfo is None:  # SQLite's RETURNING of a CASE loses the column type
        started = UTCDateTime().process_result_value(datetime.fromisoformat(str(started)), None)
    return Hit(count, max(1, math.ceil((started + window - now).total_seconds())))


def refund(key: str) -> None:
    """Take back one event (a sign-in that turned out right is not a failure)."""
    redis = _redis()
    if redis is not None:
        try:
            redis.eval(_REFUND, 1, REDIS_PREFIX + _key(key))
            return
        except RedisError as exc:
            _unreachable(exc)
    with db.engine.begin() as conn:
        conn.execute(update(_TABLE).where(_TABLE.c.key == _key(key), _TABLE.c.count > 0)
                     .values(count=_TABLE.c.count - 1))


def clear(key: str) -> None:
    redis = _redis()
    if redis is not None:
        try:
            redis.delete(REDIS_PREFIX + _key(key))
            return
        except RedisError as exc:
            _unreachable(exc)
    with db.engine.begin() as conn:
        conn.execute(delete(_TABLE).where(_TABLE.c.key == _key(key)))
