"""The scheduler: fires scheduled jobs on time, and sweeps for work that a crash or outage left behind.

One function serves both modes: ``mayak scheduler`` runs :func:`run_forever` in its own process; the embedded
mode runs it in a thread of the web process. Several schedulers may run at once: a schedule is claimed with a
conditional update of its ``next_run_at``, and the job's ``unique_key`` names the slot, so a slot fires once.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from croniter import croniter
from flask import Flask, current_app
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from core.db import db
from core.jobs import enqueue, kick_dispatch, submit
from core.models import JobRecord, OutboxEvent, ScheduleState, utcnow
from core.plugins.facades import job_spec, registry
from core.plugins.types import ScheduleSpec

log = logging.getLogger(__name__)

SWEEP_EVERY = 10.0


def next_run(spec: ScheduleSpec, after: datetime) -> datetime:
    if spec.cron:
        return croniter(spec.cron, after).get_next(datetime)
    assert spec.every, f"schedule {spec.name} has neither every nor cron"
    return after + timedelta(seconds=spec.every)


def tick(now: datetime | None = None) -> list[str]:
    """Enqueue every schedule that is due; returns the names fired by this scheduler."""
    now = now or utcnow()
    fired: list[str] = []
    for spec in registry().schedules.values():
        state = db.session.get(ScheduleState, spec.name)
        if state is None:
            try:
                db.session.add(ScheduleState(name=spec.name, next_run_at=next_run(spec, now)))
                db.session.commit()
            except IntegrityError:
                db.session.rollback()
            continue
        due = state.next_run_at
        if due > now:
            continue
        claimed = db.session.execute(
            update(ScheduleState)
            .where(ScheduleState.name == spec.name, ScheduleState.next_run_at == due)
            .values(next_run_at=next_run(spec, max(now, due)), last_run_at=now)
        ).rowcount
        if not claimed:
            db.session.rollback()
            continue
        enqueue(spec.job, unique_key=f"schedule:{spec.name}:{due.isoformat()}", **spec.kwargs)
        db.session.commit()
        fired.append(spec.name)
    return fired


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Resubmit queued jobs nobody runs, requeue jobs whose worker died, and kick undelivered events."""
    now = now or utcnow()
    config = current_app.config
    stale = now - timedelta(seconds=config["JOB_STALE_SECONDS"])
    pause = timedelta(seconds=config["JOB_RETRY_PAUSE_SECONDS"])
    dead = list(db.session.scalars(
        select(JobRecord).where(JobRecord.status == "running", JobRecord.heartbeat_at < stale)
    ))
    for record in dead:
        log.warning("job %s (%s) lost its worker; attempt %s", record.id, record.name, record.attempts)
        if record.attempts >= record.max_attempts:
            record.status, record.finished_at = "failed", now
            record.error = "the worker running this job stopped (killed or crashed)"
        else:
            record.status, record.submitted_at = "queued", None
    db.session.commit()

    resubmit_before = now - timedelta(seconds=config["JOB_RESUBMIT_SECONDS"])
    waiting = db.session.execute(
        select(JobRecord.id, JobRecord.name).where(
            JobRecord.status == "queued",
            or_(
                (JobRecord.submitted_at.is_(None)) & (JobRecord.created_at < now - pause),
                JobRecord.submitted_at < resubmit_before,
            ),
        ).limit(500)
    ).all()
    db.session.commit()
    resubmitted = submit([(row.id, job_spec(row.name).timeout) for row in waiting])

    pending = db.session.scalar(
        select(OutboxEvent.id).where(OutboxEvent.dispatched_at.is_(None),
                                     OutboxEvent.created_at < now - pause).limit(1)
    )
    db.session.commit()
    if pending is not None:
        kick_dispatch()
    return {"requeued": len(dead), "resubmitted": resubmitted, "events_pending": int(pending is not None)}


def run_forever(app: Flask, stop: threading.Event, interval: float = 1.0) -> None:
    """Tick every ``interval`` seconds and sweep every ``SWEEP_EVERY`` seconds until ``stop`` is set."""
    last_sweep = 0.0
    elapsed = 0.0
    while not stop.is_set():
        with app.app_context():
            try:
                tick()
                if elapsed - last_sweep >= SWEEP_EVERY or last_sweep == 0.0:
                    sweep()
                    last_sweep = elapsed or 0.001
            except Exception:
                log.exception("scheduler tick failed; retrying")
                db.session.rollback()
            finally:
                db.session.remove()
        stop.wait(interval)
        elapsed += interval


def start_thread(app: Flask) -> threading.Event:
    """The embedded mode's scheduler: a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(target=run_forever, args=(app, stop), name="mayak-scheduler", daemon=True).start()
    return stop
