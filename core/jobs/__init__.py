"""The jobs facade: ``enqueue`` work by name; it runs on RQ with Redis, or in a thread without.

A job is a row in ``job_record`` written in the caller's transaction and submitted to the backend after the
commit, so a rolled-back change never runs its job and a committed one always does (the sweep resubmits what a
Redis outage or a dead worker lost). Progress is stored on the row for progress bars in both modes.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.db import db
from core.jobs.backends import Backend, InProcessBackend, RQBackend
from core.jobs.context import JobContext as JobContext  # re-exported: job functions annotate their ctx
from core.jobs.outbox import SESSION_FLAG as EVENTS_FLAG
from core.models import JobRecord, utcnow
from core.plugins.facades import job_spec

log = logging.getLogger(__name__)

EXTENSION_KEY = "mayak.jobs"
PENDING_KEY = "mayak.jobs.pending"


def backend() -> Backend:
    return current_app.extensions[EXTENSION_KEY]


def init_app(app: Flask) -> None:
    redis_url = app.config.get("REDIS_URL")
    queue_name = os.environ.get("MAYAK_RQ_QUEUE", "mayak")
    app.extensions[EXTENSION_KEY] = RQBackend(redis_url, queue_name) if redis_url else InProcessBackend(app)
    # Timings of the durable job layer; the environment can tune them (MAYAK_JOB_STALE_SECONDS=...).
    for key, default in (("JOB_HEARTBEAT_SECONDS", 5.0), ("JOB_STALE_SECONDS", 60.0),
                         ("JOB_RESUBMIT_SECONDS", 300.0), ("JOB_RETRY_PAUSE_SECONDS", 5.0)):
        app.config.setdefault(key, float(os.environ.get(f"MAYAK_{key}", default)))


def enqueue(name: str, *, unique_key: str | None = None, created_by_id: int | None = None,
            **kwargs: Any) -> JobRecord:
    """Add job ``name`` with JSON-serialisable ``kwargs`` to the current transaction.

    It is submitted when the transaction commits. With ``unique_key``, enqueuing the same key again returns the
    existing record instead of a second job (idempotency for webhooks, schedules and retries by users).
    """
    spec = job_spec(name)
    if unique_key is not None:
        existing = db.session.scalar(select(JobRecord).where(JobRecord.unique_key == unique_key))
        if existing is not None:
            return existing
    # stamped as submitted in this transaction: the hand-over right after the commit then needs no second commit
    # (it was half the time of a request that queues a job); a hand-over that fails clears the stamp again
    record = JobRecord(name=name, kwargs=kwargs, unique_key=unique_key, max_attempts=spec.max_attempts,
                       created_by_id=created_by_id, submitted_at=utcnow())
    db.session.add(record)
    db.session.flush()
    db.session.info.setdefault(PENDING_KEY, []).append((record.id, spec.timeout))
    return record


def submit(records: list[tuple[int, int]], *, stamped: bool = False) -> int:
    """Hand committed ``(record id, timeout)`` pairs to the backend; a failure is logged and left to the sweep.

    ``submitted_at`` is stamped *before* the hand-over: a fast worker may run and fail the job (clearing the
    stamp for a retry) before this function returns, and must not be overwritten. Records :func:`enqueue` made
    were stamped in their own transaction (``stamped=True``); the sweep's are stamped here. Uses its own connection:
    it runs from ``after_commit``, where the session cannot emit SQL.
    """
    if not records:
        return 0
    target = backend()
    ids = [record_id for record_id, _timeout in records]
    stamp = None if stamped else utcnow()
    if stamp is not None:
        with db.engine.begin() as conn:
            conn.execute(update(JobRecord).where(JobRecord.id.in_(ids)).values(submitted_at=stamp))
    lost: list[int] = []
    for record_id, timeout in records:
        try:
            target.submit(record_id, timeout)
        except Exception as exc:
            log.warning("job %s not submitted (%s); the sweep will retry", record_id, exc)
            lost.append(record_id)
    if lost:
        # only the stamp of this hand-over, on a job still waiting (a worker may have taken it meanwhile)
        same_stamp = JobRecord.submitted_at.is_not(None) if stamp is None else JobRecord.submitted_at == stamp
        with db.engine.begin() as conn:
            conn.execute(update(JobRecord).where(JobRecord.id.in_(lost), JobRecord.status == "queued", same_stamp)
                         .values(submitted_at=None))
    return len(records) - len(lost)


def kick_dispatch() -> None:
    try:
        backend().kick_dispatch()
    except Exception as exc:
        log.warning("event dispatch not queued (%s); the sweep will retry", exc)


def get(record_id: int) -> JobRecord | None:
    return db.session.get(JobRecord, record_id)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        # SQLAlchemy 2 fires this for a SAVEPOINT released too: the jobs queued so far are not committed yet (a
        # worker would not see their rows on PostgreSQL and leave them to the sweep) — they go at the real commit
        return
    pending = session.info.pop(PENDING_KEY, None)
    events_pending = session.info.pop(EVENTS_FLAG, None)
    if not pending and not events_pending:
        return
    try:
        if pending:
            submit(pending, stamped=True)
        if events_pending:
            kick_dispatch()
    except SQLAlchemyError:
        log.exception("after-commit submission failed; the sweep will retry")


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT rolled back: the jobs the outer transaction queued before it still stand
    session.info.pop(PENDING_KEY, None)
    session.info.pop(EVENTS_FLAG, None)
