"""The audit log writer. Entries join the caller's transaction, so a change and its audit line commit together."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.db import db
from core.models import AuditEntry
from core.services.platform import paging
from core.services.platform.context import Actor

SECRET_KEYS = frozenset({"password", "password_hash", "session_token", "token", "secret"})


def record(
    actor: Actor,
    action: str,
    target_type: str | None = None,
    target_id: object | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit line to the current transaction. Secret fields are recorded as changed, never as values."""
    clean = {k: ("***" if k in SECRET_KEYS else v) for k, v in (changes or {}).items()}
    entry = AuditEntry(
        actor_id=actor.user_id,
        actor_label=actor.label,
        ip=actor.ip,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        changes=clean,
    )
    db.session.add(entry)
    return entry


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``{field: [old, new]}`` for the fields whose value changed."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def recent(limit: int = 50, before_id: int | None = None, action: str | None = None) -> list[AuditEntry]:
    """Newest entries first, keyset-paginated by id."""
    stmt = select(AuditEntry)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    return paging.newest_first(stmt, AuditEntry.id, limit, before_id)
