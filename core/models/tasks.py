"""Tasks (calls to make, documents to send) with comments, reminders and recurrence rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.models.base import Base, UTCDateTime, utcnow

PRIORITIES = ("low", "normal", "high")
TASK_STATUSES = ("open", "done", "cancelled")
REMINDER_CHANNELS = ("app", "email", "sms")


class Task(Base):
    __tablename__ = "task"
    __table_args__ = (
        # "my day" and the team view read open tasks of a person by due time
        Index("ix_task_owner_due", "owner_id", "due_at", "id",
              postgresql_where=text("status = 'open' AND deleted_at IS NULL"),
              sqlite_where=text("status = 'open' AND deleted_at IS NULL")),
        Index("ix_task_remind", "remind_at", postgresql_where=text("reminded_at IS NULL AND status = 'open'"),
              sqlite_where=text("reminded_at IS NULL AND status = 'open'")),
        Index("ix_task_owner_done", "owner_id", "completed_at", postgresql_where=text("status = 'done'"),
              sqlite_where=text("status = 'done'")),  # "done today" on my day
        Index("ix_task_contact", "contact_id"),
        Index("ix_task_company", "company_id"),
        Index("ix_task_deal", "deal_id"),
        # the scheduler inserts each occurrence of a rule once, however often it runs
        UniqueConstraint("recurrence_id", "occurrence_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    notes: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="SET NULL"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deal.id", ondelete="SET NULL"))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    status: Mapped[str] = mapped_column(String(10), default="open")
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    remind_via: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["app"])
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when task_overdue was emitted
    recurrence_id: Mapped[int | None] = mapped_column(ForeignKey("task_recurrence.id", ondelete="SET NULL"))
    occurrence_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    comments: Mapped[list[TaskComment]] = relationship(back_populates="task", cascade="all, delete-orphan",
                                                       order_by="TaskComment.id")


class TaskComment(Base):
    __tablename__ = "task_comment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    task: Mapped[Task] = relationship(back_populates="comments")


class TaskRecurrence(Base):
    """An RFC 5545 rule with the task to create for each occurrence (``template``: title, notes, priority...)."""

    __tablename__ = "task_recurrence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rrule: Mapped[str] = mapped_column(String(500))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(60), default="UTC")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    template: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    lead_days: Mapped[int] = mapped_column(Integer, default=3)
    generated_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OwnerChange(Base):
    """Who gave a task, deal, contact or company to whom, when and why (vacation, sickness, dismissal)."""

    __tablename__ = "owner_change"
    __table_args__ = (Index("ix_owner_change_record", "entity", "record_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))
    record_id: Mapped[int] = mapped_column(Integer)
    from_owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    to_owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
