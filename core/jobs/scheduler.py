"""The scheduler: fires scheduled jobs on time, and sweeps for work that a crash or outage left behind.

One function serves both modes: ``mayak scheduler`` runs :func:`run_forever` in its own process; the embedded
mode runs it in a thread of the web process. Several schedulers may run at once: a schedule is claimed with a
conditional update of its ``next_run_at``, and the job's ``unique_key`` names the slot, so a slot fires once.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

from croniter import croniter
from flask import Flask, current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from core.db import database_unreachable, db
from core.jobs import backend, enqueue, kick_dispatch, stamp_for_resubmission, submit
from core.models import JobRecord, OutboxEvent, ScheduleState, utcnow
from core.plugins.facades import registry
from core.plugins.types import ScheduleSpec

log = logging.getLogger(__name__)

SWEEP_EVERY = 5.0


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


def sweep(now: datetime | None = None, *, judge_heartbeats: bool = True) -> dict[str, int]:
    """Requeue jobs whose worker died, submit again jobs whose queue message was lost or never sent, and kick
    undelivered events.

    ``judge_heartbeats`` is false while this scheduler has not yet seen the database for a whole
    ``JOB_STALE_SECONDS``: after an outage every running job's heartbeat is old because nobody could write it, not
    because its worker died, and requeuing it would run it twice at the same time."""
    now = now or utcnow()
    config = current_app.config
    stale = now - timedelta(seconds=config["JOB_STALE_SECONDS"])
    pause = timedelta(seconds=config["JOB_RETRY_PAUSE_SECONDS"])
    dead = list(db.session.scalars(
        select(JobRecord).where(JobRecord.status == "running", JobRecord.heartbeat_at < stale)
    )) if judge_heartbeats else []
    for record in dead:
        log.warning("job %s (%s) lost its worker; attempt %s", record.id, record.name, record.attempts)
        if record.attempts >= record.max_attempts:
            record.status, record.finished_at = "failed", now
            record.error = "the worker running this job stopped (killed or crashed)"
        else:
            record.status, record.submitted_at, record.message_id = "queued", None, None
    db.session.commit()

    never_sent = [tuple(row) for row in db.session.execute(
        select(JobRecord.id, JobRecord.name).where(
            JobRecord.status == "queued", JobRecord.submitted_at.is_(None), JobRecord.created_at < now - pause,
        ).limit(500))]
    sent = db.session.execute(
        select(JobRecord.id, JobRecord.name, JobRecord.message_id).where(
            JobRecord.status == "queued",
            JobRecord.submitted_at < now - timedelta(seconds=config["JOB_LOST_SECONDS"]),
        ).order_by(JobRecord.submitted_at).limit(500)
    ).all()
    db.session.commit()
    try:
        gone = backend().missing([row.message_id for row in sent if row.message_id])
    except Exception as exc:  # the queue cannot be asked (Redis down): nothing can be handed over either
        log.warning("cannot ask the job queue for lost messages (%s); nothing handed over", exc)
        gone, never_sent, sent = set(), [], []
    lost = [(row.id, row.name) for row in sent if not row.message_id or row.message_id in gone]
    if lost:
        log.warning("%d job messages were lost (%s); submitting them again", len(lost),
                    ", ".join(str(record_id) for record_id, _name in lost[:10]))
    resubmitted = submit(stamp_for_resubmission([*never_sent, *lost]))

    pending = db.session.scalar(
        select(OutboxEvent.id).where(OutboxEvent.dispatched_at.is_(None),
                                     OutboxEvent.created_at < now - pause).limit(1)
    )
    db.session.commit()
    if pending is not None:
        kick_dispatch()
    return {"requeued": len(dead), "resubmitted": resubmitted, "events_pending": int(pending is not None)}


def run_forever(app: Flask, stop: threading.Event, interval: float = 1.0) -> None:
    """Tick every ``interval`` seconds and sweep every ``SWEEP_EVERY`` seconds until ``stop`` is set; an
    unreachable database or Redis is waited out (logged once per outage), never the end of the loop."""
    last_sweep = -SWEEP_EVERY
    reachable_since: float | None = None
    failing = False
    while not stop.is_set():
        with app.app_context():
            try:
                tick()
                if reachable_since is None:
                    reachable_since = time.monotonic()
                if time.monotonic() - last_sweep >= SWEEP_EVERY:
                    seen_for = time.monotonic() - reachable_since
                    sweep(judge_heartbeats=seen_for >= app.config["JOB_STALE_SECONDS"])
                    last_sweep = time.monotonic()
                if failing:
                    log.warning("scheduler: working again")
                failing = False
            except Exception as exc:
                db.session.rollback()
                if database_unreachable(exc):
                    reachable_since = None
                if not failing:
                    log.exception("scheduler tick failed; retrying every %.0f s until it works", interval)
                failing = True
            finally:
                db.session.remove()
        stop.wait(interval)


def start_thread(app: Flask) -> threading.Event:
    """The embedded mode's scheduler: a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(target=run_forever, args=(app, stop), name="mayak-scheduler", daemon=True).start()
    return stop
