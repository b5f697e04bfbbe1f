"""Telephone calls, whatever PBX carried them: one row per conversation, folded from the provider's events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, UTCDateTime, utcnow

CALL_DIRECTIONS = ("in", "out", "internal")
CALL_STATES = ("dialing", "ringing", "answered", "ended", "missed")
# how an ended call ended: talked; an inbound call nobody answered; an outbound call the client did not answer,
# found busy, or the PBX could not place
CALL_OUTCOMES = ("answered", "missed", "no_answer", "busy", "failed")
RECORDING_STATES = ("pending", "ready", "failed")


class Call(Base):
    """A conversation. ``external_id`` is the provider's id of the whole call across legs and transfers (Zadarma
    ``pbx_call_id``, Mango ``entry_id``, Asterisk ``Linkedid``, Twilio's parent ``CallSid``); ``reference`` is our
    own id of a click-to-call, echoed by providers that take one, until the provider names the call.

    Every fact is kept as the events bring it, in whatever order they arrive: times fill in and only move the
    way time goes (the first answer, the last end), so a repeated or late event changes nothing it should not."""

    __tablename__ = "call"
    __table_args__ = (
        UniqueConstraint("provider", "external_id"),
        Index("uq_call_reference", "reference", unique=True),
        Index("ix_call_started", "started_at", "id"),
        Index("ix_call_user_started", "user_id", "started_at"),
        Index("ix_call_client_number", "client_number", "started_at"),
        Index("ix_call_contact", "contact_id", "started_at"),
        # every open page asks "what rings for me now" every second or two: only open toasts are in this index
        Index("ix_call_toast", "user_id", "id", postgresql_where=text("toast_open"), sqlite_where=text("toast_open")),
        Index("ix_call_recording_due", "recording_next_at", postgresql_where=text("recording_state = 'pending'"),
              sqlite_where=text("recording_state = 'pending'")),
        Index("ix_call_callback", "callback_task_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(60))
    external_id: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str | None] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(10), default="in")
    state: Mapped[str] = mapped_column(String(10), default="ringing")
    outcome: Mapped[str] = mapped_column(String(10), default="")
    # the client's number in E.164 (what every lookup uses) and as the PBX gave it
    client_number: Mapped[str | None] = mapped_column(String(20))
    client_number_raw: Mapped[str] = mapped_column(String(60), default="")
    line_number: Mapped[str] = mapped_column(String(40), default="")  # our number the call came in on or went out from
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    extension: Mapped[str] = mapped_column(String(20), default="")
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="SET NULL"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deal.id", ondelete="SET NULL"))
    inbox_item_id: Mapped[int | None] = mapped_column(ForeignKey("inbox_item.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wait_seconds: Mapped[int | None] = mapped_column(Integer)
    talk_seconds: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200), default="")  # the provider's word for how it ended
    error: Mapped[str] = mapped_column(String(500), default="")  # a click-to-call the provider refused, translated
    last_sequence: Mapped[int | None] = mapped_column(Integer)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    legs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # each extension that answered, and when it last did: the call is the one's who answered last by time (a
    # transfer), whatever order the provider's events arrive in
    answered_by: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # where the provider keeps the recording (its id, and a link that may expire: never shown to users)
    recording_ref: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    recording_state: Mapped[str] = mapped_column(String(10), default="")
    recording_attempts: Mapped[int] = mapped_column(Integer, default=0)
    recording_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recording_error: Mapped[str] = mapped_column(String(500), default="")
    recording_attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachment.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")
    note_outcome: Mapped[str] = mapped_column(String(40), default="")
    note_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    # the caller's card is on its manager's screen: from the first ring until dismissed, or until the call ends
    # unanswered, or until the note of an answered call is saved
    toast_open: Mapped[bool] = mapped_column(Boolean, default=False)
    callback_task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id", ondelete="SET NULL"))
    called_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def owner_id(self) -> int | None:
        """Whose call it is, for the access checks (the manager whose extension took it)."""
        return self.user_id

    @property
    def live(self) -> bool:
        return self.state in ("dialing", "ringing", "answered")


class OwnNumber(Base):
    """A number of the company itself (its lines, its staff's mobiles): a call from or to it is no client's call
    and never a lead. The lines the PBX reports are added as calls arrive; an administrator adds the rest."""

    __tablename__ = "own_number"

    number: Mapped[str] = mapped_column(String(20), primary_key=True)  # E.164
    label: Mapped[str] = mapped_column(String(120), default="")
    seen_as_line: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
