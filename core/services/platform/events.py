"""Emit domain events through the outbox: the event row joins the caller's transaction and is dispatched to the
plugins' event hooks by a job after the commit (see :mod:`core.jobs.dispatch`)."""

from __future__ import annotations

from typing import Any

from core.db import db
from core.models import OutboxEvent
from core.plugins.hookspecs import EVENT_HOOKS

SESSION_FLAG = "mayak.outbox.pending"


def emit(event_name: str, /, **payload: Any) -> OutboxEvent:
    """Queue event ``event_name`` (one of the event hooks) with a JSON-serialisable payload."""
    if event_name not in EVENT_HOOKS:
        raise ValueError(f"unknown event {event_name!r}: declare it in core/plugins/hookspecs.py")
    event = OutboxEvent(name=event_name, payload=payload)
    db.session.add(event)
    db.session.info[SESSION_FLAG] = True
    return event
