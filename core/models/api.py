"""API tokens: only a hash is stored; the token is shown once when created."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.models.base import Base, UTCDateTime, utcnow
from core.models.users import User


class ApiToken(Base):
    """A bearer token acting as ``user`` within ``scopes`` (``read``, ``write``, ``contacts:read``, …) until
    ``expires_at`` or until it is revoked (by hand, by a password change, or by disabling the user)."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    prefix: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["read", "write"])
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # why it ended: "revoked" (by hand), "password_changed", "user_disabled"
    revoked_reason: Mapped[str | None] = mapped_column(String(40))

    user: Mapped[User] = relationship(lazy="joined")
