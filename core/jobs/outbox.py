"""The event outbox: an event row joins the caller's transaction and is dispatched after the commit.

It lives with the jobs (which dispatch it) so that the runner can emit ``job_failed`` without importing the
services; services emit through :func:`core.services.platform.events.emit`, the same function.
"""

from __future__ import annotations

from flask import has_app_context

from core.db import db
from core.models import OutboxEvent
from core.plugins.events import EVENTS, Event
from core.plugins.facades import event_catalogue

SESSION_FLAG = "mayak.outbox.pending"


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
