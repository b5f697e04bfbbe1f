"""Housekeeping of the background machinery: job history, delivered events, stale sign-in failures.

Public service API for plugins (the bundled ``ops`` plugin schedules and shows it).
"""

from __future__ import annotations

from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select

from core.db import db
from core.jobs import hand_over_after_commit
from core.models import JobRecord, Notification, OutboxEvent, ThrottleCounter, utcnow
from core.models.jobs import JOB_STATUSES as JOB_STATUSES  # re-exported: the statuses a job list filters by
from core.services.platform import audit, paging
from core.services.platform.context import Actor
from core.services.platform.errors import ValidationError


def purge(job_days: int, event_days: int, notification_days: int) -> dict[str, int]:
    """Delete finished/failed jobs, delivered events and read notifications older than the given ages."""
    now = utcnow()
    counts = {
        "jobs": db.session.execute(
            delete(JobRecord).where(JobRecord.status.in_(("finished", "failed")),
                                    JobRecord.finished_at < now - timedelta(days=job_days))
        ).rowcount,
        "events": db.session.execute(
            delete(OutboxEvent).where(OutboxEvent.dispatched_at < now - timedelta(days=event_days))
        ).rowcount,
        "notifications": db.session.execute(
            delete(Notification).where(Notification.read_at < now - timedelta(days=notification_days))
        ).rowcount,
        # expired sign-in throttle windows (and other guard counters); the key keeps its name for the ops plugin
        "login_failures": db.session.execute(
            delete(ThrottleCounter).where(ThrottleCounter.window_start < now - timedelta(days=1))
        ).rowcount,
    }
    return counts


def recent_jobs(limit: int = 50, before_id: int | None = None, status: str | None = None) -> list[JobRecord]:
    stmt = select(JobRecord)
    if status:
        stmt = stmt.where(JobRecord.status == status)
    return paging.newest_first(stmt, JobRecord.id, limit, before_id)


def waiting_jobs(older_than: timedelta) -> int:
    """Jobs queued longer than ``older_than`` without starting: a sign that no worker is running."""
    return db.session.scalar(
        select(func.count(JobRecord.id)).where(JobRecord.status == "queued",
                                               JobRecord.created_at < utcnow() - older_than)
    ) or 0


def failed_since(since: timedelta) -> int:
    return db.session.scalar(
        select(func.count(JobRecord.id)).where(JobRecord.status == "failed",
                                               JobRecord.finished_at > utcnow() - since)
    ) or 0


def retry_job(actor: Actor, record_id: int) -> JobRecord:
    """Queue a failed job again with a fresh set of attempts (commits; submitted after the commit)."""
    record = db.session.get(JobRecord, record_id)
    if record is None or record.status != "failed":
        raise ValidationError("job", _l("Only a failed job can be retried."))
    record.status, record.attempts, record.error, record.finished_at = "queued", 0, None, None
    audit.record(actor, "job.retried", "job", record.id, {"name": record.name})
    hand_over_after_commit(record)
    return record
