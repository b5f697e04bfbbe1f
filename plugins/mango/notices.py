"""Mango's notifications read into the core's dataclasses: ``events/call`` (one leg's state), ``events/summary``
(the conversation's end), ``events/recording`` and ``result/callback``. Pure functions over the notification's
JSON; :mod:`.conversations` then keeps a late or repeated one from moving a call back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mayak import CallDirection, CallEvent, CallState, IncomingCall, MalformedBody, RecordingRef, utcnow
from plugins.mango.wire import (
    REASONS,
    ROUTE_PREFIX,
    UNANSWERED,
    extension,
    moment,
    number,
    party,
    phone,
    text,
)

_DIRECTIONS = {0: CallDirection.INTERNAL, 1: CallDirection.INBOUND, 2: CallDirection.OUTBOUND}
_CALL_STATES = ("Appeared", "Connected", "OnHold", "Disconnected")


def reason(code: int | None) -> str | None:
    """Mango's end code with its meaning (``1121 busy``), the way the core keeps a call's reason."""
    if code is None:
        return None
    if code in REASONS:
        return f"{code} {REASONS[code]}"
    if 2000 <= code < 3000:
        return f"{code} failed: billing"
    if code >= 3000:
        return f"{code} failed"
    return str(code)


def ours(command_id: str | None) -> bool:
    """Whether a ``command_id`` names a click-to-call (not one of our routing commands)."""
    return bool(command_id) and not str(command_id).startswith(ROUTE_PREFIX)


def direction_of(from_party: Mapping[str, Any], to_party: Mapping[str, Any],
                 command_id: str | None) -> CallDirection:
    """Which way a leg goes, from its parties: a click-to-call we asked for is outbound whichever leg this is; an
    extension calling an extension is internal; an extension calling out is outbound; the rest came in."""
    if ours(command_id):
        return CallDirection.OUTBOUND
    from_ext, to_ext = extension(from_party.get("extension")), extension(to_party.get("extension"))
    if from_ext and to_ext:
        return CallDirection.INTERNAL
    if from_ext:
        return CallDirection.OUTBOUND
    return CallDirection.INBOUND


# --- events/call ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallNotice:
    """One ``events/call`` notification, read: ``entry_id`` is the conversation, ``leg_id`` (Mango's
    ``call_id``) one leg of it, ``seq`` the leg's event number."""

    entry_id: str
    leg_id: str
    seq: int
    state: str
    location: str
    at: datetime
    direction: CallDirection
    from_party: Mapping[str, Any]
    to_party: Mapping[str, Any]
    reason_code: int | None
    command_id: str | None
    raw: Mapping[str, Any]

    @property
    def delivery_key(self) -> str:
        return f"{self.entry_id}:{self.leg_id}:{self.seq}"


def read_call(data: Mapping[str, Any]) -> CallNotice:
    """An ``events/call`` payload, checked (:class:`MalformedBody` for one that lacks what every event has)."""
    state = text(data, "call_state", required=True)
    if state not in _CALL_STATES:
        raise MalformedBody("call_state is not Appeared, Connected, OnHold or Disconnected")
    at = moment(number(data, "timestamp", required=True))
    if at is None:
        raise MalformedBody("timestamp is not a unix time")
    seq = number(data, "seq", required=True)
    assert seq is not None
    command_id = text(data, "command_id", limit=64)
    from_party, to_party = party(data, "from"), party(data, "to")
    return CallNotice(entry_id=text(data, "entry_id", required=True) or "",
                      leg_id=text(data, "call_id", required=True) or "", seq=seq, state=state,
                      location=(text(data, "location", limit=20) or "").lower(), at=at,
                      direction=direction_of(from_party, to_party, command_id), from_party=from_party,
                      to_party=to_party, reason_code=number(data, "disconnect_reason"), command_id=command_id,
                      raw=data)


def _numbers(direction: CallDirection, from_party: Mapping[str, Any], to_party: Mapping[str, Any],
             line: object = None) -> dict[str, Any]:
    """The numbers and extension of a leg or summary, as the core wants them."""
    line_number = phone(line) or phone(to_party.get("line_number")) or phone(from_party.get("line_number"))
    if direction == CallDirection.OUTBOUND:
        who = extension(from_party.get("extension")) or extension(to_party.get("extension"))
    else:
        who = extension(to_party.get("extension"))
    return {"from_number": phone(from_party.get("number")), "to_number": phone(to_party.get("number")),
            "extension": who, "line_number": line_number}


def _talking(notice: CallNotice) -> bool:
    """Whether a ``Connected`` leg is a conversation (and not the IVR picking up, or the manager's own phone
    answering before a click-to-call dials the client)."""
    if notice.direction == CallDirection.INBOUND:
        return notice.location == "abonent" or extension(notice.to_party.get("extension")) is not None
    if notice.direction == CallDirection.OUTBOUND:
        return extension(notice.to_party.get("extension")) is None and notice.location != "ivr"
    return True


def call_event(notice: CallNotice) -> CallEvent | None:
    """The core's event for one leg's notification: ``Appeared`` rings, ``Connected`` is answered (when someone
    talks), ``Disconnected`` ends the leg (missed when an inbound leg ended unanswered), ``OnHold`` says nothing."""
    if notice.state == "OnHold":
        return None
    if notice.state == "Appeared" or (notice.state == "Connected" and not _talking(notice)):
        state = CallState.RINGING
    elif notice.state == "Connected":
        state = CallState.ANSWERED
    elif notice.direction == CallDirection.INBOUND and notice.reason_code in UNANSWERED:
        state = CallState.MISSED
    else:
        state = CallState.ENDED
    return CallEvent(call_id=notice.entry_id, leg_id=notice.leg_id, state=state, direction=notice.direction,
                     occurred_at=notice.at, **_numbers(notice.direction, notice.from_party, notice.to_party),
                     reason=reason(notice.reason_code) if notice.state == "Disconnected" else None,
                     sequence=notice.seq, reference=notice.command_id if ours(notice.command_id) else None,
                     event_id=f"call:{notice.delivery_key}", raw=dict(notice.raw))


def incoming_call(notice: CallNotice) -> IncomingCall | None:
    """The call Mango holds in its voice menu, which the CRM may route (an inbound ``Appeared`` in the IVR)."""
    if notice.state != "Appeared" or notice.location != "ivr" or notice.direction != CallDirection.INBOUND:
        return None
    return IncomingCall(call_id=notice.entry_id, from_number=phone(notice.from_party.get("number")),
                        line_number=phone(notice.to_party.get("line_number")) or phone(notice.to_party.get("number")),
                        raw=dict(notice.raw))


# --- events/summary ------------------------------------------------------------------------------------------------


def summary_event(data: Mapping[str, Any]) -> CallEvent:
    """The conversation's end, as Mango sums it up: its times (``create_time``, ``talk_time`` — 0 when nobody
    talked — ``end_time``), its result and its direction (0 internal, 1 in, 2 out)."""
    entry_id = text(data, "entry_id", required=True) or ""
    ended = moment(number(data, "end_time", required=True))
    if ended is None:
        raise MalformedBody("end_time is not a unix time")
    started = moment(number(data, "create_time"))
    talked = moment(number(data, "talk_time"))
    from_party, to_party = party(data, "from"), party(data, "to")
    command_id = text(data, "command_id", limit=64)
    code = number(data, "call_direction")
    direction = _DIRECTIONS.get(code) if code is not None else None
    direction = direction or direction_of(from_party, to_party, command_id)
    if talked is None and number(data, "entry_result") == 1:
        talked = moment(number(data, "forward_time")) or ended  # Mango says it was talked on, without when
    if talked is not None and started is not None and talked < started:
        talked = started
    answered = talked is not None and talked <= ended
    duration = int((ended - talked).total_seconds()) if answered and talked is not None else 0
    state = CallState.MISSED if not answered and direction == CallDirection.INBOUND else CallState.ENDED
    return CallEvent(call_id=entry_id, state=state, direction=direction, occurred_at=ended, started_at=started,
                     answered_at=talked if answered else None, ended_at=ended, duration=duration,
                     **_numbers(direction, from_party, to_party, data.get("line_number")),
                     reason=reason(number(data, "disconnect_reason")),
                     reference=command_id if ours(command_id) else None, event_id=f"summary:{entry_id}",
                     raw=dict(data))


# --- events/recording ----------------------------------------------------------------------------------------------


def recording_key(data: Mapping[str, Any]) -> str:
    return f"{text(data, 'recording_id', required=True)}:{text(data, 'recording_state', required=True, limit=20)}"


def recording_event(data: Mapping[str, Any]) -> CallEvent | None:
    """A finished recording (``Completed``) as the conversation's :class:`RecordingRef`; a recording that has
    only started says nothing yet. The event claims no state of the call: it rings, which never moves a call
    back (the direction is the core's default until the conversation says otherwise)."""
    recording_id = text(data, "recording_id", required=True) or ""
    entry_id = text(data, "entry_id", required=True) or ""
    state = text(data, "recording_state", required=True, limit=20)
    if state != "Completed":
        return None
    completion = number(data, "completion_code")
    if completion is not None and completion != 1000:
        return None  # Mango kept nothing (a recording shorter than its minimum, 4002)
    return CallEvent(call_id=entry_id, leg_id=text(data, "call_id"), state=CallState.RINGING,
                     direction=CallDirection.INBOUND, occurred_at=moment(number(data, "timestamp")) or utcnow(),
                     extension=extension(data.get("extension")), recording=RecordingRef(ref=recording_id),
                     event_id=f"recording:{recording_id}", raw=dict(data))


# --- result/callback -----------------------------------------------------------------------------------------------


def callback_event(data: Mapping[str, Any]) -> CallEvent | None:
    """Mango's later word on a click-to-call: nothing when it started (1000; its calls follow as
    ``events/call``), else the end of the call we placed, with why."""
    command_id = text(data, "command_id", required=True, limit=64) or ""
    result = number(data, "result", required=True)
    if result == 1000 or not ours(command_id):
        return None
    return CallEvent(call_id=f"ref:{command_id}", state=CallState.ENDED, direction=CallDirection.OUTBOUND,
                     occurred_at=moment(number(data, "timestamp")) or utcnow(), reference=command_id,
                     reason=reason(result), event_id=f"callback:{command_id}:{result}", raw=dict(data))
