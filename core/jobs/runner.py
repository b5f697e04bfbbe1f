"""Runs one job record: claim it, call the job function, store the outcome, retry or fail for good."""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from typing import Any

from flask import current_app
from sqlalchemy import and_, case, or_, select, update

from core.db import database_unreachable, db
from core.jobs import outbox
from core.jobs.context import JobContext
from core.jobs.dispatch import dispatch_pending
from core.jobs.messages import Submission, new_message_id
from core.models import JobRecord, utcnow
from core.plugins.events import SYSTEM_ORIGIN, JobFailed
from core.plugins.facades import job_spec

log = logging.getLogger(__name__)


def _claim(record_id: int, token: str) -> JobRecord | None:
    """Atomically move a queued record to running under ``token``; ``None`` when another execution has it.

    The execution holding ``token`` takes its own record again (after waiting out a database outage) without
    counting a new attempt."""
    now = utcnow()
    with db.engine.begin() as conn:
        claimed = conn.execute(
            update(JobRecord)
            .where(JobRecord.id == record_id,
                   or_(JobRecord.status == "queued",
                       and_(JobRecord.status == "running", JobRecord.claim_token == token)))
            .values(status="running", claim_token=token, started_at=now, heartbeat_at=now,
                    attempts=case((JobRecord.status == "queued", JobRecord.attempts + 1), else_=JobRecord.attempts))
        ).rowcount
    if not claimed:
        return None
    return db.session.scalar(select(JobRecord).where(JobRecord.id == record_id))


class _Heartbeat:
    """Touches ``heartbeat_at`` while the job runs, so the sweep can tell a slow job from a dead worker."""

    def __init__(self, record_id: int, every: float) -> None:
        self.record_id = record_id
        self.every = every
        self.stop = threading.Event()
        self.engine = db.engine
        self.thread = threading.Thread(target=self._beat, name=f"heartbeat-{record_id}", daemon=True)

    def _beat(self) -> None:
        while not self.stop.wait(self.every):
            try:
                with self.engine.begin() as conn:
                    conn.execute(update(JobRecord).where(JobRecord.id == self.record_id)
                                 .values(heartbeat_at=utcnow()))
            except Exception:
                log.warning("heartbeat of job %s failed", self.record_id, exc_info=True)

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def run_job(record_id: int, token: str | None = None, memo: dict[str, Any] | None = None) -> str:
    """Execute one job record; returns its final status for this attempt (``skipped`` when another execution has
    it, ``superseded`` when another took it over while this one ran: this one's work is rolled back).

    The job's own writes and the record's ``finished`` mark commit together, so a job whose commit was lost runs
    again and a job whose commit landed never does. An unreachable database is raised to the caller (see
    :func:`run_waiting_for_database`), not counted as a failed attempt."""
    token = token or uuid.uuid4().hex
    record = _claim(record_id, token)
    if record is None:
        return "skipped"
    spec = job_spec(record.name)
    ctx = JobContext(record_id=record.id, name=record.name, attempt=record.attempts,
                     memo=memo if memo is not None else {})
    kwargs: dict[str, Any] = dict(record.kwargs or {})
    try:
        with _Heartbeat(record.id, current_app.config["JOB_HEARTBEAT_SECONDS"]):
            result = spec.func(ctx, **kwargs)
        if not _finish(record_id, token, result):
            db.session.rollback()
            log.warning("job %s (%s) was taken over by another run; this run's work is rolled back",
                        record_id, spec.name)
            return "superseded"
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        if database_unreachable(exc):
            raise
        return _failed(record_id, token, exc)
    return "finished"


def _finish(record_id: int, token: str, result: Any) -> bool:
    """Mark the record finished in the job's own transaction, if this execution still holds it."""
    now = utcnow()
    return bool(db.session.execute(
        update(JobRecord)
        .where(JobRecord.id == record_id, JobRecord.status == "running", JobRecord.claim_token == token)
        .values(status="finished", finished_at=now, heartbeat_at=now, error=None,
                result=result if isinstance(result, dict) else None,
                progress_done=case((JobRecord.progress_total.is_not(None), JobRecord.progress_total),
                                   else_=JobRecord.progress_done))
        .execution_options(synchronize_session=False)
    ).rowcount)


def _failed(record_id: int, token: str, exc: BaseException) -> str:
    record = db.session.get(JobRecord, record_id)
    assert record is not None
    db.session.refresh(record)
    if record.status != "running" or record.claim_token != token:
        db.session.rollback()
        return "superseded"
    record.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:4000]
    log.warning("job %s (%s) attempt %s failed: %s", record.id, record.name, record.attempts, record.error)
    if record.attempts >= record.max_attempts:
        record.status = "failed"
        record.finished_at = utcnow()
        outbox.emit(JobFailed(subject_id=record.id, origin=SYSTEM_ORIGIN, job_name=record.name,
                              error=record.error or ""))
    else:
        record.status = "queued"
        record.submitted_at = record.message_id = None  # the sweep submits it again after a pause
    db.session.commit()
    return record.status


def run_waiting_for_database(record_id: int) -> str:
    """:func:`run_job`, waiting with back-off while the database is unreachable (up to
    ``JOB_DATABASE_WAIT_SECONDS``) instead of spending the queue message: the job runs once the database is back,
    under the same claim, without counting an attempt. Past the wait the error is raised; the record is still
    queued or held, and the sweep hands it over again."""
    token, memo = uuid.uuid4().hex, {}  # type: ignore[var-annotated]
    deadline = time.monotonic() + float(current_app.config.get("JOB_DATABASE_WAIT_SECONDS", 120.0))
    pause = 0.5
    while True:
        try:
            return run_job(record_id, token, memo)
        except Exception as exc:
            if not database_unreachable(exc) or time.monotonic() + pause > deadline:
                raise
            log.warning("job %s: the database is unreachable (%s); trying again in %.1f s", record_id,
                        type(exc).__name__, pause)
            db.session.remove()
            time.sleep(pause)
            pause = min(pause * 2, 10.0)


def give_back(record_id: int, message_id: str, reason: str) -> Submission | None:
    """Queue again at once a job whose run was killed (its work horse died), stamped with a new message to hand
    over (returned; ``None`` when it failed for good after its last attempt, or another run has it)."""
    with db.engine.begin() as conn:
        record = conn.execute(select(JobRecord.name, JobRecord.attempts, JobRecord.max_attempts).where(
            JobRecord.id == record_id, JobRecord.status == "running", JobRecord.message_id == message_id)).first()
        if record is None:
            return None
        final = record.attempts >= record.max_attempts
        again = new_message_id()
        values: dict[str, Any] = ({"status": "failed", "finished_at": utcnow(), "error": reason} if final else
                                  {"status": "queued", "submitted_at": utcnow(), "message_id": again,
                                   "error": reason})
        conn.execute(update(JobRecord).where(JobRecord.id == record_id, JobRecord.status == "running",
                                             JobRecord.message_id == message_id).values(**values))
    log.warning("job %s: %s; %s", record_id, reason, "failed for good" if final else "queued again")
    return None if final else Submission(record_id, job_spec(record.name).timeout, again)


def dispatch_events() -> int:
    return dispatch_pending()


IN_WORKER_PROCESS = False  # set by ``mayak worker --no-fork``: jobs run in the worker itself, its pool is its own


def rq_run_job(record_id: int) -> str:
    """RQ entry point. The worker forked this process from one holding an app context: fresh DB connections (not
    with ``--no-fork``, where the worker's own pool serves job after job)."""
    if not IN_WORKER_PROCESS:
        db.engine.dispose(close=False)
    try:
        return run_waiting_for_database(record_id)
    finally:
        db.session.remove()


def rq_dispatch_events() -> int:
    if not IN_WORKER_PROCESS:
        db.engine.dispose(close=False)
    try:
        return dispatch_pending()
    finally:
        db.session.remove()
