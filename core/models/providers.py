"""Which provider serves a kind (``telephony``, ``mail``, ``messaging:sms``...) when several are enabled: the
installation's default (``team_id`` empty) and a choice per team (a PBX per office)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, UTCDateTime, utcnow


class ProviderChoice(Base):
    __tablename__ = "provider_choice"
    __table_args__ = (
        UniqueConstraint("scope", "team_id"),
        # one default per scope (NULLs are distinct in the unique constraint above)
        Index("uq_provider_choice_default", "scope", unique=True, postgresql_where=text("team_id IS NULL"),
              sqlite_where=text("team_id IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(60))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(60))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
