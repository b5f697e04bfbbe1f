"""Incoming work ("unsorted"): calls, emails, web-form posts and messages waiting to be sorted; the per-channel
settings, the rules that pick a manager for a new lead, and the web forms that capture leads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, UTCDateTime, utcnow

# new: waits for an operator; attached: added to an open deal; accepted: a deal/lead was created from it;
# rejected: spam or a refused submission, kept with its reason
INBOX_STATUSES = ("new", "attached", "accepted", "rejected")
PROPOSALS = ("attach", "new_deal", "new_lead")
ASSIGNMENT_STRATEGIES = ("round_robin", "least_loaded", "fixed")


class InboxItem(Base):
    __tablename__ = "inbox_item"
    __table_args__ = (
        UniqueConstraint("source", "idempotency_key"),
        Index("ix_inbox_status", "status", "id"),
        Index("ix_inbox_form_ip", "form_id", "ip", "received_at"),
        Index("ix_inbox_submitted_by", "submitted_by_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(60), default="core")  # the plugin or "form:<id>"
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="new")
    proposal: Mapped[str] = mapped_column(String(10), default="new_lead")
    name: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(60), default="")
    phone_e164: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str] = mapped_column(String(254), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    utm: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    pipeline_id: Mapped[int | None] = mapped_column(ForeignKey("pipeline.id", ondelete="SET NULL"))
    form_id: Mapped[int | None] = mapped_column(ForeignKey("lead_form.id", ondelete="SET NULL"))
    ip: Mapped[str | None] = mapped_column(String(45))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="SET NULL"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deal.id", ondelete="SET NULL"))
    # the manager the item is proposed to (the client's or the deal's owner); access checks read it
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    reject_reason: Mapped[str] = mapped_column(String(200), default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # the provider's state of the thing (ringing, answered, ended, recording, delivered...) and when the newest
    # fact about it happened: later events for the same (source, idempotency_key) update this item
    state: Mapped[str] = mapped_column(String(40), default="", server_default="")
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ChannelSetting(Base):
    """Per channel: accept incoming items automatically instead of waiting in the inbox."""

    __tablename__ = "inbox_channel"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    auto_accept: Mapped[bool] = mapped_column(Boolean, default=False)


class AssignmentRule(Base):
    """Who gets a new lead: the first active rule (by position) matching the pipeline and channel decides."""

    __tablename__ = "assignment_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    pipeline_id: Mapped[int | None] = mapped_column(ForeignKey("pipeline.id", ondelete="CASCADE"))
    channel: Mapped[str | None] = mapped_column(String(20))
    strategy: Mapped[str] = mapped_column(String(20), default="round_robin")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    # working hours in ``timezone``: weekdays 0=Monday..6, "09:00"-"18:00"; empty days = any time
    work_days: Mapped[list[int]] = mapped_column(JSON, default=list)
    work_start: Mapped[str] = mapped_column(String(5), default="")
    work_end: Mapped[str] = mapped_column(String(5), default="")
    timezone: Mapped[str] = mapped_column(String(60), default="UTC")
    follow_up_minutes: Mapped[int | None] = mapped_column(Integer, default=15)
    last_user_id: Mapped[int | None] = mapped_column(Integer)  # round robin's position


class LeadForm(Base):
    """A lead-capture form for a website: its fields, where its leads go and its spam defences."""

    __tablename__ = "lead_form"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    pipeline_id: Mapped[int | None] = mapped_column(ForeignKey("pipeline.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(120), default="")
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    stop_phrases: Mapped[list[str]] = mapped_column(JSON, default=list)
    banned_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    min_fill_seconds: Mapped[int] = mapped_column(Integer, default=3)
    rate_limit_per_hour: Mapped[int] = mapped_column(Integer, default=10)
    success_message: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
