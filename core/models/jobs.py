"""Background work as stored rows: the job record (status, progress), the event outbox and schedules.

The rows are the source of truth in both job modes (RQ and in-process): a job whose queue message was lost, or
whose worker died, is found here by the sweep and run again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, UTCDateTime, utcnow

JOB_STATUSES = ("queued", "running", "finished", "failed")


class JobRecord(Base):
    __tablename__ = "job_record"
    __table_args__ = (
        Index("ix_job_record_status_heartbeat", "status", "heartbeat_at"),
        Index("ix_job_record_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    unique_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    progress_message: Mapped[str] = mapped_column(String(300), default="")
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # which execution holds the job while it runs: its own retries re-take it, a stale one cannot finish it
    claim_token: Mapped[str | None] = mapped_column(String(32))
    # the id of its latest queue message, so the sweep can ask the queue whether that message still exists
    message_id: Mapped[str | None] = mapped_column(String(40))


class OutboxEvent(Base):
    """An event written in the same transaction as the change it describes, dispatched after commit."""

    __tablename__ = "outbox_event"
    __table_args__ = (Index("ix_outbox_event_pending", "dispatched_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class EventDelivery(Base):
    """One handler has processed one event: the row that makes delivery at most once per handler."""

    __tablename__ = "event_delivery"
    __table_args__ = (UniqueConstraint("event_id", "handler"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_event.id", ondelete="CASCADE"))
    handler: Mapped[str] = mapped_column(String(200))
    delivered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScheduleState(Base):
    """When a scheduled job is next due; claimed with a conditional update so two schedulers never both fire."""

    __tablename__ = "schedule_state"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Lease(Base):
    """Who holds a role only one process may play at a time (a PBX's event listener): taken and renewed with a
    conditional update, lost by a holder that stops renewing before ``expires_at``."""

    __tablename__ = "lease"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProcessBeat(Base):
    """A running Mayak process (web, worker, scheduler, listener) and when it last said it was alive: what
    ``/healthz`` and ``mayak status`` report per role and host. A process that stops cleanly marks itself stopped;
    one that stops beating without doing so was lost (killed, crashed, its host gone)."""

    __tablename__ = "process_beat"
    __table_args__ = (Index("ix_process_beat_role_seen", "role", "seen_at"),)

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    host: Mapped[str] = mapped_column(String(120))
    pid: Mapped[int] = mapped_column(Integer)
    queues: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(120), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
