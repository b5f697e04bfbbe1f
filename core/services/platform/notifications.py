"""The notifications area: a public service plugins call to tell users something.

``message`` is an untranslated English message id with ``%(name)s`` placeholders; it is translated into each
reader's language when shown (mark it for extraction with ``lazy_gettext``/``N_`` in the plugin).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, update

from core.db import db
from core.models import Notification, User, utcnow
from core.services.platform import paging


def notify(
    user_ids: Iterable[int],
    message: str,
    *,
    params: dict[str, Any] | None = None,
    link: str | None = None,
    level: str = "info",
    source: str = "core",
    domain: str = "messages",
) -> list[Notification]:
    """Add one notification per user to the current transaction."""
    if level not in ("info", "success", "warning", "danger"):
        raise ValueError(f"unknown notification level {level!r}")
    if link is not None and not _safe_link(link):
        raise ValueError(f"notification links must be paths within Mayak or http(s) URLs, not {link[:40]!r}")
    created = [
        Notification(user_id=uid, message=str(message), params=params or {}, link=link, level=level,
                     source=source, domain=domain)
        for uid in dict.fromkeys(user_ids)
    ]
    db.session.add_all(created)
    return created


def person(actor: Any) -> str:
    """How a notification names the person who acted: their full name, else their email (the system by the way
    it acted: "system", "api")."""
    user = getattr(actor, "user", None)
    if user is not None:
        return str(user.display_name)
    return str(getattr(actor, "via", "") or "")


def _safe_link(link: str) -> bool:
    """Only links a browser follows harmlessly: ``/path`` inside Mayak or an http(s) URL (never ``javascript:``)."""
    if link.startswith("/") and not link.startswith("//"):
        return True
    return link.startswith(("https://", "http://")) and "\\" not in link


def admin_ids() -> list[int]:
    return list(db.session.scalars(select(User.id).where(User.is_admin.is_(True), User.is_active.is_(True))))


def unread_count(user: User) -> int:
    return db.session.scalar(
        select(func.count(Notification.id)).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    ) or 0


def for_user(user: User, limit: int = 30, before_id: int | None = None) -> list[Notification]:
    stmt = select(Notification).where(Notification.user_id == user.id)
    return paging.newest_first(stmt, Notification.id, limit, before_id)


def mark_read(user: User, notification_id: int | None = None) -> int:
    """Mark one (or, without an id, every) unread notification of ``user`` as read; commits."""
    stmt = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    count = db.session.execute(stmt.values(read_at=utcnow())).rowcount
    db.session.flush()
    return count
