"""Runs one job record: claim it, call the job function, store the outcome, retry or fail for good."""

from __future__ import annotations

import logging
import threading
import traceback
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from core.db import db
from core.jobs import outbox
from core.jobs.context import JobContext
from core.jobs.dispatch import dispatch_pending
from core.models import JobRecord, utcnow
from core.plugins.events import SYSTEM_ORIGIN, JobFailed
from core.plugins.facades import job_spec

log = logging.getLogger(__name__)


def _claim(record_id: int) -> JobRecord | None:
    """Atomically move a queued record to running; ``None`` when another execution already has it."""
    now = utcnow()
    with db.engine.begin() as conn:
        claimed = conn.execute(
            update(JobRecord)
            .where(JobRecord.id == record_id, JobRecord.status == "queued")
            .values(status="running", attempts=JobRecord.attempts + 1, started_at=now, heartbeat_at=now)
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


def run_job(record_id: int) -> str:
    """Execute one job record; returns its final status for this attempt (or ``skipped``)."""
    record = _claim(record_id)
    if record is None:
        return "skipped"
    spec = job_spec(record.name)
    ctx = JobContext(record_id=record.id, name=record.name, attempt=record.attempts)
    kwargs: dict[str, Any] = dict(record.kwargs or {})
    try:
        with _Heartbeat(record.id, current_app.config["JOB_HEARTBEAT_SECONDS"]):
            result = spec.func(ctx, **kwargs)
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        return _failed(record_id, exc)
    finished = db.session.get(JobRecord, record_id)
    assert finished is not None
    finished.status = "finished"
    finished.finished_at = utcnow()
    finished.error = None
    finished.result = result if isinstance(result, dict) else None
    if finished.progress_total is not None:
        finished.progress_done = finished.progress_total
    db.session.commit()
    return "finished"


def _failed(record_id: int, exc: BaseException) -> str:
    record = db.session.get(JobRecord, record_id)
    assert record is not None
    db.session.refresh(record)
    record.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:4000]
    log.warning("job %s (%s) attempt %s failed: %s", record.id, record.name, record.attempts, record.error)
    if record.attempts >= record.max_attempts:
        record.status = "failed"
        record.finished_at = utcnow()
        outbox.emit(JobFailed(subject_id=record.id, origin=SYSTEM_ORIGIN, job_name=record.name,
                              error=record.error or ""))
    else:
        record.status = "queued"
        record.submitted_at = None  # the sweep resubmits it after a pause
    db.session.commit()
    return record.status


def dispatch_events() -> int:
    return dispatch_pending()


IN_WORKER_PROCESS = False  # set by ``mayak worker --no-fork``: jobs run in the worker itself, its pool is its own


def rq_run_job(record_id: int) -> str:
    """RQ entry point. The worker forked this process from one holding an app context: fresh DB connections (not
    with ``--no-fork``, where the worker's own pool serves job after job)."""
    if not IN_WORKER_PROCESS:
        db.engine.dispose(close=False)
    try:
        return run_job(record_id)
    finally:
        db.session.remove()


def rq_dispatch_events() -> int:
    if not IN_WORKER_PROCESS:
        db.engine.dispose(close=False)
    try:
        return dispatch_pending()
    finally:
        db.session.remove()
