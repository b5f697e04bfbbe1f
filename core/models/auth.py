"""Counters that guard: sign-in attempts per account and per address, refusals worth auditing, and the like."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, UTCDateTime, utcnow


class ThrottleCounter(Base):
    """Events under ``key`` in the fixed window that began at ``window_start``; changed only by one atomic
    ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` (:mod:`core.services.users.throttle`)."""

    __tablename__ = "throttle_counter"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
