"""Plugin settings changed at run time in the admin pages (over the deploy-time ones in ``plugins.toml``), and each
user's own settings for a plugin (a phone extension, a mailbox). Secret values are Fernet tokens, never plaintext."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, UTCDateTime, utcnow


class PluginSetting(Base):
    """One runtime value of a plugin's settings form. ``value`` is the field's data as JSON, or, when ``secret``,
    the Fernet token (a string) of that JSON."""

    __tablename__ = "plugin_setting"
    __table_args__ = (UniqueConstraint("plugin", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plugin: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(100))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    secret: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))


class UserPluginSetting(Base):
    """One value of a plugin's per-user settings form for ``user_id`` (stored like :class:`PluginSetting`)."""

    __tablename__ = "user_plugin_setting"
    __table_args__ = (UniqueConstraint("user_id", "plugin", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    plugin: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(100))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    secret: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
