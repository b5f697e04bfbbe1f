"""Emit domain events through the outbox: the event row joins the caller's transaction and is dispatched to the
subscribed event handlers by a job after the commit (see :mod:`core.jobs.dispatch`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect

from core.jobs.outbox import SESSION_FLAG as SESSION_FLAG  # re-exported: the outbox lives with the jobs
from core.jobs.outbox import emit as emit

NOT_A_CHANGE = frozenset({"id", "updated_at", "last_activity_at", "created_at"})
"""Columns an ``*_updated`` event never names: bookkeeping, not something a person changed."""


def column_values(record: Any) -> dict[str, Any]:
    """The record's column values now, to compare with :func:`changed_since` after a change."""
    return {attr.key: getattr(record, attr.key) for attr in inspect(record).mapper.column_attrs}


def changed_since(before: dict[str, Any], record: Any) -> tuple[str, ...]:
    """The names of the columns whose value differs from ``before`` (search keys and bookkeeping left out)."""
    return tuple(sorted(key for key, value in column_values(record).items()
                        if key not in NOT_A_CHANGE and not key.startswith("search_") and before.get(key) != value))
