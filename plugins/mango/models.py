"""The mango plugin's own table: what it has heard of each conversation, so that a late or repeated notification
cannot move a call back (see :mod:`plugins.mango.conversations`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from mayak import Base, UTCDateTime, utcnow


class MangoEntry(Base):
    """One Mango conversation (``entry_id``): each leg's last ``seq`` and state, the latest answer and end seen,
    whether the summary came and the call was routed, and recordings waiting to learn the call's direction."""

    __tablename__ = "mango_entry"

    entry_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    legs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    direction: Mapped[str] = mapped_column(String(10), default="")
    answered_ts: Mapped[int | None] = mapped_column(BigInteger)
    ended_ts: Mapped[int | None] = mapped_column(BigInteger)
    summarised: Mapped[bool] = mapped_column(Boolean, default=False)
    routed: Mapped[bool] = mapped_column(Boolean, default=False)
    pending: Mapped[list[Any]] = mapped_column(JSON, default=list)
    touched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
