"""The ops plugin's own table: one row per housekeeping run."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from mayak import Base, UTCDateTime, utcnow


class PurgeRun(Base):
    __tablename__ = "ops_purge_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    jobs_deleted: Mapped[int] = mapped_column(Integer, default=0)
    events_deleted: Mapped[int] = mapped_column(Integer, default=0)
    notifications_deleted: Mapped[int] = mapped_column(Integer, default=0)
    login_failures_deleted: Mapped[int] = mapped_column(Integer, default=0)
