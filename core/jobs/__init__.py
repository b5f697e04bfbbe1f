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
from core.jobs.messages import Submission as Submission  # re-exported: what submit() takes
from core.jobs.messages import new_message_id
from core.jobs.outbox import SESSION_FLAG as EVENTS_FLAG
from core.models import JobRecord, utcnow
from core.plugins.facades import job_spec

log = logging.getLogger(__name__)

EXTENSION_KEY = "mayak.jobs"
PENDING_KEY = "mayak.jobs.pending"


def backend() -> Backend:
    return current_app.extensions[EXTENSION_KEY]


JOB_SETTINGS = {
    # seconds between a running job's heartbeats (its row's heartbeat_at)
    "JOB_HEARTBEAT_SECONDS": 3.0,
    # a running job whose heartbeat is this old lost its worker: the sweep queues it again
    "JOB_STALE_SECONDS": 15.0,
    # a submitted job whose queue message is gone after this long (Redis restarted, the message's run failed
    # before claiming it) is submitted again
    "JOB_LOST_SECONDS": 10.0,
    # a job still waiting in the queue after this long is handed over once more (the queue cannot tell: a backend
    # without a way to ask whether it holds a message); duplicates are harmless, the claim runs a job once
    "JOB_RESUBMIT_SECONDS": 300.0,
    # pause before a failed attempt, or a job nobody could submit, is submitted again
    "JOB_RETRY_PAUSE_SECONDS": 5.0,
    # how long a job's run waits for an unreachable database before it gives its message back to the sweep
    "JOB_DATABASE_WAIT_SECONDS": 120.0,
    # health says degraded when the oldest waiting job has waited longer than this
    "JOB_WAIT_ALERT_SECONDS": 120.0,
}


def init_app(app: Flask) -> None:
    redis_url = app.config.get("REDIS_URL")
    queue_name = os.environ.get("MAYAK_RQ_QUEUE", "mayak")
    app.extensions[EXTENSION_KEY] = RQBackend(redis_url, queue_name) if redis_url else InProcessBackend(app)
    # the environment can tune each (MAYAK_JOB_STALE_SECONDS=...); docs/deploy.md lists them
    for key, default in JOB_SETTINGS.items():
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
                       created_by_id=created_by_id)
    db.session.add(record)
    hand_over_after_commit(record)
    return record


def hand_over_after_commit(record: JobRecord) -> None:
    """Stamp ``record`` as submitted under a new message id in the current transaction and hand it to the backend
    right after the commit (a rollback forgets it)."""
    record.submitted_at, record.message_id = utcnow(), new_message_id()
    db.session.flush()
    db.session.info.setdefault(PENDING_KEY, []).append(
        Submission(record.id, job_spec(record.name).timeout, record.message_id))




def submit(records: list[Submission]) -> int:
    """Hand committed job records to the backend; a failure is logged and left to the sweep.

    Each record was stamped (``submitted_at``, ``message_id``) *before* the hand-over, by :func:`enqueue` in its own
    transaction or by :func:`stamp_for_resubmission`: a fast worker may run and fail the job (clearing the stamp for
    a retry) before this function returns, and must not be overwritten. Uses its own connection: it runs from
    ``after_commit``, where the session cannot emit SQL.
    """
    if not records:
        return 0
    target = backend()
    lost: list[Submission] = []
    for item in records:
        try:
            target.submit(item.record_id, item.timeout, item.message_id)
        except Exception as exc:
            log.warning("job %s not submitted (%s); the sweep will retry", item.record_id, exc)
            lost.append(item)
    for item in lost:
        # only this hand-over's stamp, on a job still waiting (a worker may have taken it meanwhile)
        with db.engine.begin() as conn:
            conn.execute(update(JobRecord).where(JobRecord.id == item.record_id, JobRecord.status == "queued",
                                                 JobRecord.message_id == item.message_id)
                         .values(submitted_at=None))
    return len(records) - len(lost)


def stamp_for_resubmission(rows: list[tuple[int, str]]) -> list[Submission]:
    """Give each ``(record id, job name)`` a new message id and submission time (committed at once, in its own
    connection) and return what to hand to :func:`submit`; a record no longer waiting is left out."""
    stamped: list[Submission] = []
    now = utcnow()
    with db.engine.begin() as conn:
        for record_id, name in rows:
            message_id = new_message_id()
            if conn.execute(update(JobRecord).where(JobRecord.id == record_id, JobRecord.status == "queued")
                            .values(submitted_at=now, message_id=message_id)).rowcount:
                stamped.append(Submission(record_id, job_spec(name).timeout, message_id))
    return stamped


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
            submit(pending)
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
