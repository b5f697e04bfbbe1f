"""Emit domain events through the outbox: the event row joins the caller's transaction and is dispatched to the
subscribed event handlers by a job after the commit (see :mod:`core.jobs.dispatch`)."""

from __future__ import annotations

from typing import Any

from flask import has_app_context
from sqlalchemy import inspect

from core.db import db
from core.models import OutboxEvent
from core.plugins.events import EVENTS, Event
from core.plugins.facades import event_catalogue

SESSION_FLAG = "mayak.outbox.pending"

NOT_A_CHANGE = frozenset({"id", "updated_at", "last_activity_at", "created_at"})
"""Columns an ``*_updated`` event never names: bookkeeping, not something a person changed."""


def column_values(record: Any) -> dict[str, Any]:
    """The record's column values now, to compare with :func:`changed_since` after a change."""
    return {attr.key: getattr(record, attr.key) for attr in inspect(record).mapper.column_attrs}


def changed_since(before: dict[str, Any], record: Any) -> tuple[str, ...]:
    """The names of the columns whose value differs from ``before`` (search keys and bookkeeping left out)."""
    return tuple(sorted(key for key, value in column_values(record).items()
                        if key not in NOT_A_CHANGE and not key.startswith("search_") and before.get(key) != value))


def emit(event: Event) -> OutboxEvent:
    """Queue ``event`` (an instance of a class in the catalogue) in the caller's transaction; the outbox row keeps
    its name, and its version, subject, origin, time and fields as the payload. Returns the row (its id is the
    event id once flushed)."""
    if not isinstance(event, Event):
        raise TypeError(f"emit takes an Event instance, not {type(event).__name__}")
    known = event_catalogue() if has_app_context() else EVENTS
    if known.get(event.name) is not type(event):
        raise ValueError(f"unknown event {event.name!r}: add its class to the catalogue (register_events)")
    row = OutboxEvent(name=event.name, payload=event.to_payload())
    db.session.add(row)
    db.session.info[SESSION_FLAG] = True
    return row
