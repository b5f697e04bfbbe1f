"""Deliveries that providers posted to ``/webhooks/<plugin>/<path>``: the raw request (headers without secrets,
the body) and its outcome, kept for the admin page, replay and de-duplication."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, UTCDateTime, utcnow

# refused: the signature or the source address was wrong (no handler ran); queued: waiting for its job;
# running: the handler runs; processed: it finished; failed: it raised (error says why; replayable).
DELIVERY_STATUSES = ("refused", "queued", "running", "processed", "failed")


class WebhookDelivery(Base):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        # de-duplication: one row per provider delivery id (NULL for refused deliveries and providers without ids)
        UniqueConstraint("plugin", "dedup_key"),
        Index("ix_webhook_delivery_plugin_id", "plugin", "id"),  # the admin list per provider, newest first
        Index("ix_webhook_delivery_status_id", "status", "id"),  # ... per status
        Index("ix_webhook_delivery_received_at", "received_at"),  # purge, failures in the last hour
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plugin: Mapped[str] = mapped_column(String(60))
    endpoint: Mapped[str] = mapped_column(String(260))
    dedup_key: Mapped[str | None] = mapped_column(String(200))
    external_id: Mapped[str | None] = mapped_column(String(200))  # the id the provider gave (kept when refused)
    method: Mapped[str] = mapped_column(String(10))
    query: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    content_type: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    body_size: Mapped[int] = mapped_column(Integer, default=0)  # as received (a refused body is kept cut short)
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(12))
    error: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # an inline endpoint's answer, repeated to repeats
    job_id: Mapped[int | None] = mapped_column(Integer)  # the job of the last replay
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
