"""Users' extensions: the internal number on the PBX that is each manager's phone ("101").

A call to an extension is that user's call (its toast, its "call back" task, its line in the figures) and a
click-to-call rings that extension first. An administrator types them in the user's form, or takes them from the
PBX (:func:`sync`) where its API lists internal numbers with their owners' emails."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from core.db import db
from core.models import User
from core.plugins import provider_facades
from core.services.users import accounts

PATTERN = accounts.EXTENSION


@dataclass(frozen=True)
class SyncResult:
    assigned: list[tuple[str, str]]  # (extension, user email)
    unmatched: list[str]  # extensions the PBX has whose owner is no user here
    kept: int  # users whose extension was already right


def sync(provider: str | None = None) -> SyncResult:
    """Give users the extensions the PBX lists for their email (case-insensitive); a user's extension set by hand
    to something else is replaced, as the PBX is where the phones live. In the caller's unit of work."""
    listed = provider_facades.telephony(key=provider).list_extensions()
    assigned: list[tuple[str, str]] = []
    unmatched: list[str] = []
    kept = 0
    for extension in listed:
        if not extension.active or not PATTERN.fullmatch(extension.number or ""):
            continue
        user = db.session.scalar(select(User).where(func.lower(User.email) == (extension.email or "").lower(),
                                                    User.is_active.is_(True))) if extension.email else None
        if user is None:
            unmatched.append(extension.number)
            continue
        if user.extension == extension.number:
            kept += 1
            continue
        previous = db.session.scalar(select(User).where(User.extension == extension.number, User.id != user.id))
        if previous is not None:
            previous.extension = None
            db.session.flush()
        user.extension = extension.number
        db.session.flush()
        assigned.append((extension.number, user.email))
    return SyncResult(assigned, unmatched, kept)
