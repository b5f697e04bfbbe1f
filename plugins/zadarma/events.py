"""Zadarma's call notifications as the core's call events.

Every notification names the conversation by ``pbx_call_id`` (stable across IVR and transfers): it is the events'
``call_id``. What each one says:

=================  =========================================================================================
NOTIFY_START       an outside call entered the PBX: *ringing*, inbound, from ``caller_id`` to our ``called_did``
NOTIFY_IVR         the same call in the voice menu: *ringing* (changes nothing once the call is known)
NOTIFY_INTERNAL    it rings extension ``internal``: *ringing*, with that extension (a leg per extension)
NOTIFY_ANSWER      extension ``internal`` answered: *answered*
NOTIFY_END         it ended: ``disposition`` ``answered`` → *ended* (talk ``duration``), anything else →
                   *missed* with the disposition as the reason; ``is_recorded=1`` → the recording
NOTIFY_OUT_START   extension ``internal`` dials ``destination``: *ringing*, outbound
NOTIFY_OUT_END     it ended: *ended*, answered or not (busy, no answer, failed... as the reason)
NOTIFY_RECORD      the recording ``call_id_with_rec`` of the call is stored: the recording, no change of state
=================  =========================================================================================

Times. ``call_start`` is the cabinet's local time (see :mod:`plugins.zadarma.config`). The notifications say
nothing else about time, so an answer or an end is dated from ``call_start`` (and ``duration``) unless the moment
the notification was received is known and plausible — then that moment, which is when Zadarma sent it.

Numbers come without ``+`` (``79001234567``); a full number is made E.164, an extension (up to six digits) goes in
``extension`` and never in a number field, a hidden one is ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo

from mayak import CallDirection, CallEvent, CallState, IncomingCall, MalformedBody, RecordingRef
from plugins.zadarma.wire import ANSWER, END, INTERNAL, IVR, OUT_END, OUT_START, RECORD, START

EVENTS = (START, IVR, INTERNAL, ANSWER, END, OUT_START, OUT_END, RECORD)
_EXTENSION = re.compile(r"\d{1,6}")
_NUMBER = re.compile(r"\+?\d{7,15}")
_TIME = "%Y-%m-%d %H:%M:%S"
_ID = re.compile(r"[^\x00-\x1f\x7f]{1,200}")
# a received notification dates its event when it came this soon around what call_start says (a clock or zone
# far off, or a notification retried much later, falls back to call_start)
EARLY, LATE = timedelta(minutes=2), timedelta(minutes=30)
# call_id_with_rec holds the recording's start as a Unix time ("1-1458313316.343456-100-…", "1704110400.123456")
_REC_TIME = re.compile(r"(?:^|-)(1\d{9})\.\d+")


def check(fields: Mapping[str, str]) -> None:
    """Refuse a notification this plugin cannot read (:class:`MalformedBody`, a 400 before anything is stored)."""
    event = fields.get("event", "")
    if event not in EVENTS:
        raise MalformedBody("not a call notification this plugin reads")
    if not _ID.fullmatch(fields.get("pbx_call_id", "")):
        raise MalformedBody("pbx_call_id is missing or not an id")
    if event == RECORD:
        if not _ID.fullmatch(fields.get("call_id_with_rec", "")):
            raise MalformedBody("call_id_with_rec is missing")
        return
    call_start(fields, UTC)
    duration = fields.get("duration", "")
    if duration and not duration.isdigit():
        raise MalformedBody("duration is not a number of seconds")


def call_start(fields: Mapping[str, str], zone: tzinfo) -> datetime:
    """``call_start`` read in ``zone``, as UTC."""
    try:
        local = datetime.strptime(fields.get("call_start", "").strip(), _TIME)
    except ValueError as exc:
        raise MalformedBody("call_start is not a 'YYYY-MM-DD HH:MM:SS' time") from exc
    return local.replace(tzinfo=zone).astimezone(UTC)


def number(value: str | None) -> str | None:
    """A full phone number as E.164; ``None`` for an extension, a hidden or an unreadable number."""
    text = (value or "").strip().replace(" ", "")
    if not _NUMBER.fullmatch(text):
        return None
    return text if text.startswith("+") else "+" + text


def extension(value: str | None) -> str | None:
    text = (value or "").strip()
    return text if _EXTENSION.fullmatch(text) else None


def _duration(fields: Mapping[str, str]) -> int | None:
    text = fields.get("duration", "").strip()
    return int(text) if text.isdigit() else None


def _when(estimate: datetime, received: datetime | None) -> datetime:
    """When something happened: the moment its notification was received when that is plausible, else
    ``estimate``."""
    if received is None:
        return estimate
    moment = received.replace(tzinfo=UTC) if received.tzinfo is None else received.astimezone(UTC)
    return moment if estimate - EARLY <= moment <= estimate + LATE else estimate


def _recording(fields: Mapping[str, str], duration: int | None = None) -> RecordingRef | None:
    ref = fields.get("call_id_with_rec", "").strip()
    if not ref or fields.get("is_recorded", "1").strip() not in ("1", "true"):
        return None
    return RecordingRef(ref=ref, duration=duration or None, content_type="audio/mpeg")


def _reason(fields: Mapping[str, str]) -> str:
    """Zadarma's disposition (``busy``, ``no answer``, ``no money``...) with the Q.931 cause; the words the core
    reads an outcome from (busy, failed) kept in front."""
    disposition = fields.get("disposition", "").strip().lower()
    code = fields.get("status_code", "").strip()
    if disposition not in ("", "busy", "cancel", "no answer", "answered"):
        disposition = f"failed: {disposition}"  # no money, unallocated number, line limit...: it never rang
    return f"{disposition} ({code})" if code.isdigit() else disposition


def _direction_by_id(call_id: str) -> CallDirection:
    return CallDirection.OUTBOUND if call_id.lower().startswith("out") else CallDirection.INBOUND


def call_events(fields: Mapping[str, str], zone: tzinfo, received: datetime | None = None) -> list[CallEvent]:
    """The call events one notification gives (none for one that is not about a call)."""
    event = fields.get("event", "")
    if event not in EVENTS:
        return []
    check(fields)
    raw = dict(fields)
    call_id = fields["pbx_call_id"]
    if event == RECORD:
        return [_record(fields, call_id, received, raw)]
    started = call_start(fields, zone)
    if event in (OUT_START, OUT_END):
        return [_outbound(event, fields, call_id, started, received, raw)]
    if event == ANSWER and _direction_by_id(call_id) == CallDirection.OUTBOUND:
        return [_outbound(event, fields, call_id, started, received, raw)]
    return [_inbound(event, fields, call_id, started, received, raw)]


def _inbound(event: str, fields: Mapping[str, str], call_id: str, started: datetime, received: datetime | None,
             raw: dict[str, str]) -> CallEvent:
    caller = fields.get("caller_id", "")
    line = number(fields.get("called_did")) or (number(fields.get("destination")) if event == ANSWER else None)
    internal = extension(fields.get("internal")) or (extension(fields.get("destination")) if event == ANSWER
                                                     else None)
    direction = CallDirection.INTERNAL if extension(caller) else CallDirection.INBOUND
    common = {"call_id": call_id, "direction": direction, "from_number": number(caller), "to_number": line,
              "line_number": line, "extension": internal, "started_at": started, "raw": raw}
    if event in (START, IVR):
        return CallEvent(state=CallState.RINGING, occurred_at=started, **common)  # type: ignore[arg-type]
    if event == INTERNAL:
        return CallEvent(state=CallState.RINGING, occurred_at=_when(started, received), leg_id=internal,
                         **common)  # type: ignore[arg-type]
    if event == ANSWER:
        answered = _when(started, received)
        return CallEvent(state=CallState.ANSWERED, occurred_at=answered, answered_at=answered,
                         **common)  # type: ignore[arg-type]
    return _ended(fields, started, received, common, missed_state=CallState.MISSED
                  if direction == CallDirection.INBOUND else CallState.ENDED)


def _outbound(event: str, fields: Mapping[str, str], call_id: str, started: datetime, received: datetime | None,
              raw: dict[str, str]) -> CallEvent:
    destination = fields.get("destination", "")
    ours = number(fields.get("caller_id"))
    internal = extension(fields.get("internal")) or extension(fields.get("caller_id"))
    direction = CallDirection.INTERNAL if extension(destination) else CallDirection.OUTBOUND
    common = {"call_id": call_id, "direction": direction, "from_number": ours, "to_number": number(destination),
              "line_number": ours, "extension": internal, "started_at": started, "raw": raw}
    if event == OUT_START:
        return CallEvent(state=CallState.RINGING, occurred_at=started, **common)  # type: ignore[arg-type]
    if event == ANSWER:
        answered = _when(started, received)
        return CallEvent(state=CallState.ANSWERED, occurred_at=answered, answered_at=answered,
                         **common)  # type: ignore[arg-type]
    return _ended(fields, started, received, common, missed_state=CallState.ENDED)


def _ended(fields: Mapping[str, str], started: datetime, received: datetime | None, common: dict[str, object],
           *, missed_state: CallState) -> CallEvent:
    duration = _duration(fields)
    talked = fields.get("disposition", "").strip().lower() == "answered"
    ended = _when(started + timedelta(seconds=duration or 0), received)
    recording = _recording(fields, duration)
    if talked:
        answered = max(started, ended - timedelta(seconds=duration or 0))
        return CallEvent(state=CallState.ENDED, occurred_at=ended, ended_at=ended, answered_at=answered,
                         duration=duration or 0, recording=recording, **common)  # type: ignore[arg-type]
    return CallEvent(state=missed_state, occurred_at=ended, ended_at=ended, duration=0, reason=_reason(fields),
                     recording=recording, **common)  # type: ignore[arg-type]


def _record(fields: Mapping[str, str], call_id: str, received: datetime | None, raw: dict[str, str]) -> CallEvent:
    """The recording, on an event that changes no state: *ringing* at the recording's start, which never moves a
    known call's times (they only move the way time goes) and never reopens an ended one."""
    match = _REC_TIME.search(fields.get("call_id_with_rec", ""))
    if match is not None:
        moment = datetime.fromtimestamp(int(match[1]), UTC)
    elif received is not None:
        moment = received.replace(tzinfo=UTC) if received.tzinfo is None else received.astimezone(UTC)
    else:
        moment = datetime.now(UTC).replace(microsecond=0)
    return CallEvent(call_id=call_id, state=CallState.RINGING, direction=_direction_by_id(call_id), occurred_at=moment,
                     recording=_recording({**fields, "is_recorded": "1"}), raw=raw)


def incoming_call(fields: Mapping[str, str]) -> IncomingCall | None:
    """The call a NOTIFY_START asks about (the PBX waits for whom to ring); ``None`` for any other notification."""
    if fields.get("event") != START or not _ID.fullmatch(fields.get("pbx_call_id", "")):
        return None
    return IncomingCall(call_id=fields["pbx_call_id"], from_number=number(fields.get("caller_id")),
                        line_number=number(fields.get("called_did")), raw=dict(fields))
