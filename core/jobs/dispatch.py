"""Deliver outbox events to the subscribed event handlers: each handler (by its key) at most once per event.

A handler's database writes and its delivery row commit together; when two dispatchers race, the unique
``(event_id, handler)`` constraint rolls one of them back. A handler that raises leaves the event pending for
the next sweep; the other handlers still get it, once.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.db import db
from core.models import EventDelivery, OutboxEvent, utcnow
from core.plugins.facades import deliver_event, event_catalogue, event_handlers

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 10


def dispatch_pending(limit: int = 200) -> int:
    """Dispatch up to ``limit`` pending events, oldest first; returns how many were completed."""
    ids = list(db.session.scalars(
        select(OutboxEvent.id)
        .where(OutboxEvent.dispatched_at.is_(None), OutboxEvent.attempts < MAX_ATTEMPTS)
        .order_by(OutboxEvent.id)
        .limit(limit)
    ))
    completed = 0
    for event_id in ids:
        completed += _dispatch_one(event_id)
    return completed


def _dispatch_one(event_id: int) -> int:
    row = db.session.get(OutboxEvent, event_id)
    if row is None or row.dispatched_at is not None:
        return 0
    name = row.name
    cls = event_catalogue().get(name)
    errors: list[str] = []
    if cls is None:  # its plugin was disabled since: the row waits (and says why) until it comes back
        errors.append(f"no event {name!r} in the catalogue")
        event, handlers = None, []
    else:
        try:
            event = cls.from_payload(row.payload, id=row.id)  # frozen: every handler gets the same instance
        except (TypeError, ValueError, KeyError) as exc:  # a payload its class cannot read (written before 11)
            event, handlers = None, []
            errors.append(f"payload does not fit {cls.__name__}: {exc}")
        else:
            handlers = event_handlers(event)
    done = set(db.session.scalars(select(EventDelivery.handler).where(EventDelivery.event_id == event_id)))
    for handler in handlers:
        if handler.key in done:
            continue
        try:
            db.session.add(EventDelivery(event_id=event_id, handler=handler.key))
            db.session.flush()
            deliver_event(handler, event)  # type: ignore[arg-type]
            db.session.commit()
        except IntegrityError:
            db.session.rollback()  # another dispatcher delivered it first
        except Exception as exc:
            db.session.rollback()
            log.exception("event %s (%s) failed in handler %r", event_id, name, handler.key)
            errors.append(f"{handler.key}: {type(exc).__name__}: {exc}")
    finished = db.session.get(OutboxEvent, event_id)
    assert finished is not None
    if errors:
        finished.attempts += 1
        finished.last_error = "; ".join(errors)[:2000]
    else:
        finished.dispatched_at = utcnow()
    db.session.commit()
    return 0 if errors else 1
