"""What the plugin remembers of each conversation, so that a late, repeated or out-of-order notification changes
nothing wrongly.

Mango numbers each leg's notifications (``seq``), but they may reach Mayak late, twice or in another order
(handlers run side by side; an administrator replays a delivery). The core folds a call's times so that they only
move forward, whatever the order; three things an event carries are taken as the latest word, though: who answered
(the extension), why the call ended (the reason) and that it ended at all. So, per conversation (``entry_id``),
under a row lock:

* a repeat of a leg's ``seq`` is dropped; an older ``seq`` than the leg's last (stale) never changes what is known
  of the leg — it is handed on for its times only, which the core cannot move backwards;
* an answer older than the latest answer seen keeps its time but not its extension (after a transfer, the first
  manager does not take the call back); an end older than the latest end keeps its time but not its reason;
* a leg that ends while another leg of the conversation is still live (a ring group: the phones that did not pick
  up) does not end the conversation; its last leg does, and Mango's summary always does;
* a recording heard before anything else of its conversation waits until the conversation's direction is known.

Rows are kept a few days (a replay or a straggler still finds them), then deleted when a summary comes in.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from mayak import CallDirection, CallEvent, CallState, db, utcnow
from plugins.mango import notices
from plugins.mango.models import MangoEntry

LIVE = frozenset({"Appeared", "Connected", "OnHold"})
KEEP_DAYS = 3


@dataclass
class Admitted:
    """The events to hand to the core, and whether this notification is the conversation's first ring in the voice
    menu (the moment to route it)."""

    events: list[CallEvent] = field(default_factory=list)
    first_ring: bool = False


def locked(entry_id: str) -> MangoEntry:
    """The conversation's row, locked for this transaction (created on its first notification)."""
    stmt = (select(MangoEntry).where(MangoEntry.entry_id == entry_id).with_for_update()
            .execution_options(populate_existing=True))
    row = db.session.scalar(stmt)
    if row is not None:
        return row
    try:
        with db.session.begin_nested():
            row = MangoEntry(entry_id=entry_id, legs={}, pending=[], direction="", touched_at=utcnow())
            db.session.add(row)
    except IntegrityError:  # another notification of it stored it a moment ago
        row = db.session.scalar(stmt)
        if row is None:
            raise
    return row


def _ts(event: CallEvent, moment: Any = None) -> int:
    return int((moment or event.occurred_at).timestamp())


def _latest_answer(row: MangoEntry, event: CallEvent, moment: Any = None) -> CallEvent:
    """An answer keeps its extension only when no later answer was seen."""
    ts = _ts(event, moment)
    if row.answered_ts is not None and ts < row.answered_ts:
        return replace(event, extension=None)
    row.answered_ts = ts
    return event


def _latest_end(row: MangoEntry, event: CallEvent) -> CallEvent:
    """An end keeps its reason only when no later end was seen."""
    ts = _ts(event, event.ended_at)
    if row.ended_ts is not None and ts < row.ended_ts:
        return replace(event, reason=None)
    row.ended_ts = ts
    return event


def _waiting(row: MangoEntry) -> list[CallEvent]:
    """Recordings that waited for the conversation's direction, now that it is known."""
    found = []
    for raw in row.pending or []:
        event = notices.recording_event(raw)
        if event is not None:
            found.append(replace(event, direction=CallDirection(row.direction)))
    row.pending = []
    return found


def admit_call(notice: notices.CallNotice, event: CallEvent | None, *, replay: bool = False) -> Admitted:
    """One ``events/call`` notification (``event`` is ``None`` for one that says nothing to the core, ``OnHold``)."""
    row = locked(notice.entry_id)
    row.touched_at = utcnow()
    legs = dict(row.legs or {})
    leg = legs.get(notice.leg_id)
    seen = leg.get("seq") if isinstance(leg, dict) and isinstance(leg.get("seq"), int) else None
    if seen is not None and notice.seq == seen and not replay:
        return Admitted()  # a repeat: everything it says is known
    stale = seen is not None and notice.seq <= seen
    if not stale:
        legs[notice.leg_id] = {"seq": notice.seq, "state": notice.state}
        row.legs = legs
    row.direction = row.direction or str(notice.direction)
    first_ring = (not stale and not row.routed and notice.state == "Appeared" and notice.location == "ivr")
    row.routed = row.routed or first_ring
    waiting = _waiting(row)
    if event is None:
        return Admitted(waiting, first_ring)
    event = replace(event, direction=CallDirection(row.direction))
    if event.state == CallState.ANSWERED:
        event = _latest_answer(row, event)
    elif event.state == CallState.RINGING and stale:
        event = replace(event, extension=None)
    elif event.state in (CallState.ENDED, CallState.MISSED):
        live = [key for key, other in legs.items()
                if key != notice.leg_id and isinstance(other, dict) and other.get("state") in LIVE]
        if live and not row.summarised and not stale:
            return Admitted(waiting, first_ring)  # one phone of several stopped ringing: the call goes on
        event = _latest_end(row, event)
    return Admitted([event, *waiting], first_ring)


def admit_summary(event: CallEvent) -> Admitted:
    """Mango's summary: the conversation's end, always; its direction is Mango's own word. Its extension counts
    only when no leg was heard answering (the legs know better who talked last)."""
    row = locked(event.call_id)
    row.touched_at = utcnow()
    row.summarised = True
    row.direction = str(event.direction)
    if event.answered_at is not None:
        if row.answered_ts is not None:
            event = replace(event, extension=None)
        row.answered_ts = max(row.answered_ts or 0, _ts(event, event.answered_at))
    event = _latest_end(row, event)
    waiting = _waiting(row)
    db.session.execute(delete(MangoEntry).where(MangoEntry.touched_at < utcnow() - timedelta(days=KEEP_DAYS),
                                                MangoEntry.entry_id != row.entry_id))
    return Admitted([event, *waiting])


def admit_recording(event: CallEvent) -> Admitted:
    """A finished recording: handed on with the conversation's direction, or kept until it is known."""
    row = locked(event.call_id)
    row.touched_at = utcnow()
    if not row.direction:
        row.pending = [*(row.pending or []), dict(event.raw)]
        return Admitted()
    return Admitted([replace(event, direction=CallDirection(row.direction))])
