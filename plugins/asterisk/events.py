"""AMI events → :class:`CallEvent` items, one conversation per ``Linkedid``.

Asterisk reports channels, not calls: an incoming call is the trunk's channel, then a channel per phone it rings
(and a pair of ``Local/`` channels per queue member), all sharing the ``Linkedid`` of the first one. The
:class:`Translator` keeps what it needs per ``Linkedid`` — the legs, who placed the call, who rang and who answered,
our click-to-call reference, the recording's file — and says what happened as the core understands it:

=================================  =====================================================================
AMI                                CallEvent
=================================  =====================================================================
``Newchannel`` of a trunk          ``ringing``, ``in``: ``from_number`` the caller, ``line_number`` the DID
                                   (the channel's ``Exten``)
``DialBegin`` to a phone           ``ringing`` with ``extension`` (the first phone rung); a phone dialling a
                                   phone is ``internal``, a phone dialling a trunk ``out``
``DialEnd`` ``ANSWER``             ``answered``: the phone that picked up (``in``, ``internal``); the client
                                   picking up (``out``). Another phone picking up a call already answered
                                   (a blind or attended transfer: the client's channel, or the Local
                                   channels the transfer made, dialling it): ``answered`` again, with that
                                   phone's ``extension`` — the call is now theirs
``BridgeEnter`` (no dial seen)     ``answered`` once two legs of the call share a bridge
``Hangup`` of the last leg         ``ended`` (answered, or any ``out`` call: ``reason`` = ``DialStatus``) or
                                   ``missed`` (``in``/``internal`` nobody answered)
``Cdr``                            ``duration`` = ``BillableSeconds`` of the leg a person answered (the
                                   longest; for a transferred call, whose records each count one manager's
                                   part, the time from the first answer to the end), ``recording`` =
                                   ``recordingfile``/``UserField``; a ``Cdr`` of a call the listener did
                                   not see (restarted mid-call) stands on its own
``OriginateResponse`` ``Failure``  ``ended`` for our click-to-call (the manager did not pick up: ``reason``)
``VarSet``/``ChanVariable``        ``MAYAK_REF`` → ``reference``; ``MIXMONITOR_FILENAME``/``MAYAK_RECORDING``
                                   → ``recording``
=================================  =====================================================================

Times are the events' ``Timestamp`` (``timestampevents = yes``), else the moment they were read; a ``Cdr``'s clock
times are the PBX's local time, so only its durations are used. Memory is bounded: at most
:data:`MAX_CONVERSATIONS` calls are followed (the oldest forgotten first), an ended one is kept
:data:`KEEP_ENDED` for its late ``Cdr`` records, and a message that cannot be understood is skipped, never fatal.
"""

from __future__ import annotations

import logging
import math
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from mayak import CallDirection, CallEvent, CallState, RecordingRef, parse_phone
from plugins.asterisk.ami import Message

log = logging.getLogger(__name__)

MAX_CONVERSATIONS = 2000
MAX_LEGS = 64  # legs kept per conversation (a ring group of 60 phones is already unusual)
KEEP_ENDED = timedelta(minutes=15)  # a Cdr may come late (cdr.conf batch mode)
FORGET_OPEN = timedelta(hours=12)  # a call whose hangups we never saw
REF_PREFIX = "mayak-"  # the ActionID of our Originate is this and the reference
REFERENCE_VARIABLE = "MAYAK_REF"
RECORDING_VARIABLES = ("MAYAK_RECORDING", "MIXMONITOR_FILENAME")
ORIGINATE_REASONS = {"0": "FAILED", "1": "HANGUP", "3": "NOANSWER", "5": "BUSY", "8": "CONGESTION"}
AUDIO = re.compile(r".+\.(wav|wav49|gsm|mp3|ogg|opus|sln\d*|ulaw|alaw|g722|g729)", re.IGNORECASE)
_CHANNEL = re.compile(r"(?P<tech>[A-Za-z0-9_]+)/(?P<resource>.+?)(?:-[0-9a-fA-F]{8,})?(?:;\d)?")
_NUMBER = re.compile(r"\+?\d{3,20}")
_DIALLED = re.compile(r"\+?\d{3,20}")
_REFERENCE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_HIDDEN = {"", "<unknown>", "unknown", "anonymous", "restricted", "private", "unavailable"}


@dataclass
class Leg:
    """One channel of a call."""

    uniqueid: str
    channel: str
    extension: str | None  # the internal number when the channel is a phone (PJSIP/101-00000002 → "101")
    number: str  # its caller id number
    exten: str  # where it is in the dialplan (for a trunk's first channel: the number dialled, our DID)
    context: str


@dataclass
class Conversation:
    """What the translator knows about one ``Linkedid``."""

    linkedid: str
    started_at: datetime
    legs: dict[str, Leg] = field(default_factory=dict)
    live: set[str] = field(default_factory=set)
    origin: Leg | None = None
    direction: CallDirection | None = None
    client: str | None = None  # the outside number
    line: str | None = None  # our number the client called (in)
    caller_ext: str | None = None  # the phone that placed the call (out, internal)
    target_ext: str | None = None  # the first phone rung (in, internal)
    answered_ext: str | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    reason: str | None = None
    reference: str | None = None
    recording: str | None = None
    billable: int | None = None  # talk seconds of the longest leg a person answered (Cdr)
    rang: set[str] = field(default_factory=set)  # what RINGING events said: "" (no phone yet) and extensions
    bridges: dict[str, set[str]] = field(default_factory=dict)
    final: CallState | None = None  # the state the ending event said (ENDED or MISSED)
    partial: bool = True  # its first channel's Newchannel was not seen (the listener started mid-call)
    transferred: bool = False  # another phone took the answered call over: it talked from the first answer to the end
    sequence: int = 0


class Translator:
    """Feed it AMI messages in the order they came (:meth:`feed`); it returns the call events each one makes.

    ``internal_pattern`` tells an extension (``101``) from an outside number; ``internal_context`` is the dialplan
    context of the phones (``from-internal``), which marks a phone whose endpoint is not named by its number;
    ``region`` reads national numbers into E.164 (``None``: numbers are passed as Asterisk gave them)."""

    def __init__(self, internal_pattern: str, *, internal_context: str = "", region: str | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.internal = re.compile(internal_pattern)
        self.internal_context = internal_context
        self.region = region
        self.recordings = True  # False: recordings cannot be fetched (no address or folder set), so none is named
        self.clock = clock or (lambda: datetime.now(UTC))
        self.calls: OrderedDict[str, Conversation] = OrderedDict()
        self.linked: OrderedDict[str, str] = OrderedDict()  # Uniqueid → Linkedid
        self.handlers: dict[str, Callable[[Message, datetime], list[CallEvent]]] = {
            "newchannel": self._newchannel, "newstate": self._channel_event, "newcallerid": self._channel_event,
            "dialbegin": self._dial_begin, "dialend": self._dial_end, "bridgeenter": self._bridge_enter,
            "bridgeleave": self._bridge_leave, "hangup": self._hangup, "cdr": self._cdr, "varset": self._varset,
            "originateresponse": self._originate_response,
        }

    # -- entry point -------------------------------------------------------------------------------------------

    def feed(self, message: Message) -> list[CallEvent]:
        handler = self.handlers.get(message.event.lower())
        if handler is None:
            return []
        at = self._moment(message)
        try:
            events = handler(message, at)
        except Exception:  # a message we cannot make sense of must not stop the stream
            log.warning("AMI %s event skipped", message.event[:40], exc_info=True)
            return []
        self._sweep(at)
        return events

    # -- channels ----------------------------------------------------------------------------------------------

    def _newchannel(self, message: Message, at: datetime) -> list[CallEvent]:
        conv, leg = self._register(message, "", at)
        if conv is None or leg is None or conv.origin is not leg:
            return []
        conv.partial = False
        if conv.direction is None and leg.extension is None:  # a trunk's call: in; a phone's waits for its dial
            self._classify(conv, caller=leg, dest=None, dial_string="")
        return self._announce(conv, at, leg.uniqueid, message)

    def _channel_event(self, message: Message, at: datetime) -> list[CallEvent]:
        self._register(message, "", at)
        return []

    def _varset(self, message: Message, at: datetime) -> list[CallEvent]:
        conv, _leg = self._register(message, "", at)
        if conv is not None:
            self._variables(conv, {message.get("Variable").strip().upper(): message.get("Value")})
        return []

    def _dial_begin(self, message: Message, at: datetime) -> list[CallEvent]:
        conv, caller = self._register(message, "", at)
        _, dest = self._register(message, "Dest", at, conv)
        if conv is None or caller is None or dest is None:
            return []
        if conv.direction is None:
            self._classify(conv, caller=caller, dest=dest, dial_string=message.get("DialString"))
        if dest.extension and conv.direction in (CallDirection.INBOUND, CallDirection.INTERNAL):
            conv.target_ext = conv.target_ext or dest.extension
        return self._announce(conv, at, dest.uniqueid, message)

    def _dial_end(self, message: Message, at: datetime) -> list[CallEvent]:
        conv, caller = self._register(message, "", at)
        _, dest = self._register(message, "Dest", at, conv)
        if conv is None or dest is None:
            return []
        if conv.direction is None:
            self._classify(conv, caller=caller, dest=dest, dial_string="")
        if conv.direction is None:
            return []
        status = message.get("DialStatus").upper()[:40]
        if status != "ANSWER":
            if status:
                conv.reason = status
            return []
        if conv.direction == CallDirection.OUTBOUND:
            if dest.extension:  # a phone answered inside the call (a Local channel, a pickup): not the client
                return []
            return self._answered(conv, at, conv.caller_ext, dest.uniqueid, message)
        if conv.answered_at is not None:
            return self._taken_over(conv, at, dest, message)
        return self._answered(conv, at, dest.extension, dest.uniqueid, message)

    def _bridge_enter(self, message: Message, at: datetime) -> list[CallEvent]:
        conv, leg = self._register(message, "", at)
        bridge = message.get("BridgeUniqueid")[:80]
        if conv is None or leg is None or not bridge:
            return []
        members = conv.bridges.setdefault(bridge, set())
        members.add(leg.uniqueid)
        if len(conv.bridges) > MAX_LEGS:
            conv.bridges.pop(next(iter(conv.bridges)))
        if conv.answered_at is not None or conv.direction is None or len(members) < 2:
            return []
        legs = [conv.legs[u] for u in members if u in conv.legs]
        if conv.direction == CallDirection.OUTBOUND:
            if any(not member.extension for member in legs):  # the client's trunk leg is in the bridge
                return self._answered(conv, at, conv.caller_ext, leg.uniqueid, message)
            return []
        origin = conv.origin.uniqueid if conv.origin else ""
        phones = [member.extension for member in legs if member.extension and member.uniqueid != origin]
        if phones:
            return self._answered(conv, at, phones[0], leg.uniqueid, message)
        return []

    def _bridge_leave(self, message: Message, at: datetime) -> list[CallEvent]:
        conv, leg = self._register(message, "", at)
        members = conv.bridges.get(message.get("BridgeUniqueid")[:80]) if conv is not None else None
        if members is not None and leg is not None:
            members.discard(leg.uniqueid)
        return []

    def _hangup(self, message: Message, at: datetime) -> list[CallEvent]:
        conv, leg = self._register(message, "", at)
        if conv is None or leg is None:
            return []
        conv.live.discard(leg.uniqueid)
        if conv.reason is None and message.get("Cause-txt"):
            conv.reason = message.get("Cause-txt")[:80]
        if conv.live or conv.final is not None or conv.ended_at is not None:
            return []
        conv.ended_at = at
        return self._end(conv, at, leg.uniqueid, message)

    # -- the PBX's reports -------------------------------------------------------------------------------------

    def _cdr(self, message: Message, at: datetime) -> list[CallEvent]:
        uniqueid = message.get("UniqueID")[:80]
        linkedid = (message.get("LinkedID") or self.linked.get(uniqueid) or uniqueid)[:80]
        if not linkedid:
            return []
        billable = _seconds(message.get("BillableSeconds"))
        length = _seconds(message.get("Duration"))
        person = message.get("Disposition").upper() == "ANSWERED" and bool(message.get("DestinationChannel"))
        recording = recording_name(message.get("RecordingFile") or message.get("UserField"))
        conv = self.calls.get(linkedid)
        if conv is None or (conv.final is None and conv.ended_at is not None):  # ended without a report
            return self._lone_cdr(message, linkedid, at, billable, length, person, recording)
        changed = False
        if recording and not conv.recording:
            conv.recording, changed = recording, True
        if person and billable is not None and (conv.billable is None or billable > conv.billable):
            conv.billable, changed = billable, changed or not conv.transferred
            if conv.answered_ext is None and conv.direction != CallDirection.OUTBOUND:
                conv.answered_ext = self._extension(message.get("DestinationChannel")[:120], "", "")
        if conv.final is None or not changed:
            return []  # the call's ending event will carry it
        return self._end(conv, conv.ended_at or at, uniqueid, message)

    def _lone_cdr(self, message: Message, linkedid: str, at: datetime, billable: int | None, length: int | None,
                  person: bool, recording: str | None) -> list[CallEvent]:
        """A record of a call whose channels the listener did not see: everything from the record itself."""
        source = Leg(uniqueid=message.get("UniqueID")[:80] or linkedid, channel=message.get("Channel")[:120],
                     extension=None, number=message.get("Source")[:40], exten="", context="")
        source.extension = self._extension(source.channel, source.number, message.get("DestinationContext"),
                                           origin=True)
        dest_channel = message.get("DestinationChannel")[:120]
        destination = message.get("Destination")[:40]
        dest_ext = self._extension(dest_channel, "", "") if dest_channel else None
        if dest_ext is None and self._is_extension(destination):
            dest_ext = destination
        conv = self._conversation(linkedid, at - timedelta(seconds=length or 0))
        if conv is None:
            return []
        conv.origin, conv.partial = source, False
        if source.extension is None:
            conv.direction = CallDirection.INBOUND
            conv.client = self._number(source.number)
            conv.line = self._number(destination) if not self._is_extension(destination) else None
            conv.target_ext = dest_ext
        elif dest_ext is not None:
            conv.direction, conv.caller_ext, conv.target_ext = CallDirection.INTERNAL, source.extension, dest_ext
        else:
            conv.direction, conv.caller_ext = CallDirection.OUTBOUND, source.extension
            conv.client = self._number(destination)
            if conv.client is None:  # a feature code, voicemail checked: no call to anyone
                conv.final = CallState.ENDED
                return []
        if person:
            conv.billable = billable
            conv.answered_at = at - timedelta(seconds=billable or 0)
            conv.answered_ext = dest_ext if conv.direction != CallDirection.OUTBOUND else source.extension
        else:
            conv.reason = message.get("Disposition")[:40] or None
        conv.recording = recording
        conv.ended_at = at
        return self._end(conv, at, source.uniqueid, message)

    def _originate_response(self, message: Message, at: datetime) -> list[CallEvent]:
        action_id = message.action_id
        if not action_id.startswith(REF_PREFIX) or not _REFERENCE.fullmatch(action_id[len(REF_PREFIX):]):
            return []  # another program's Originate
        reference = action_id[len(REF_PREFIX):]
        uniqueid = message.get("Uniqueid")[:80]
        if uniqueid.startswith("<") or not uniqueid:
            uniqueid = ""
        linkedid = self.linked.get(uniqueid) or uniqueid
        conv = self.calls.get(linkedid) if linkedid else None
        learned = conv is not None and conv.reference is None
        if conv is not None and conv.reference is None:
            conv.reference = reference
        if message.get("Response").lower() == "success":
            # the manager picked up; a call that already ended without our reference says it again, with it
            return self._end(conv, conv.ended_at or at, uniqueid or None, message) \
                if conv is not None and learned and conv.final is not None else []
        if conv is None:  # never a channel (a phone unreachable): ends our call all the same
            conv = self._conversation(linkedid or f"ref:{reference}", at)
            if conv is None:
                return []
            conv.reference, conv.partial = reference, False
        conv.direction = conv.direction or CallDirection.OUTBOUND
        conv.caller_ext = conv.caller_ext or self._extension(message.get("Channel")[:120], "", "")
        if conv.answered_at is None:
            conv.reason = ORIGINATE_REASONS.get(message.get("Reason"), "FAILED")
        if conv.final is not None and not learned:
            return []
        conv.ended_at = conv.ended_at or at
        return self._end(conv, conv.ended_at, uniqueid or None, message)

    # -- what the events say -----------------------------------------------------------------------------------

    def _announce(self, conv: Conversation, at: datetime, leg_id: str | None, message: Message) -> list[CallEvent]:
        """``ringing`` once the direction is known, and again when the first phone starts ringing."""
        if conv.direction is None or conv.final is not None or conv.answered_at is not None:
            return []
        ringing = conv.target_ext if conv.direction != CallDirection.OUTBOUND else conv.caller_ext
        key = ringing or ""
        if key in conv.rang or (not key and conv.rang):
            return []
        conv.rang.add(key)
        return [self._event(conv, CallState.RINGING, at, leg_id, message, extension=ringing)]

    def _answered(self, conv: Conversation, at: datetime, extension: str | None, leg_id: str | None,
                  message: Message) -> list[CallEvent]:
        if conv.answered_at is not None:
            return []
        conv.answered_at, conv.answered_ext = at, extension
        return [self._event(conv, CallState.ANSWERED, at, leg_id, message, extension=extension, answered_at=at)]

    def _taken_over(self, conv: Conversation, at: datetime, phone: Leg, message: Message) -> list[CallEvent]:
        """Another phone answered a call already answered (``in``, ``internal``): a transfer, the call is that
        phone's now. The same phone again (a queue's Local channel answering after the phone inside it) or a Local
        channel (no person: the phone it dials answers for it) changes nothing. The event carries the first
        answer's time, which the core keeps."""
        extension = phone.extension
        if (conv.final is not None or not extension or extension == conv.answered_ext
                or phone.channel.lower().startswith("local/")):
            return []
        conv.answered_ext, conv.transferred = extension, True
        return [self._event(conv, CallState.ANSWERED, at, phone.uniqueid, message, extension=extension,
                            answered_at=conv.answered_at)]

    def _end(self, conv: Conversation, at: datetime, leg_id: str | None, message: Message) -> list[CallEvent]:
        """The ending event. Nothing yet for a call whose direction is unknown (a phone that dialled a feature
        code) or whose start the listener missed and saw no answer of: its ``Cdr`` (or our Originate's failure)
        tells, so a call answered before a reconnect is never reported missed."""
        if conv.direction is None:
            self._classify(conv, caller=conv.origin, dest=None, dial_string="")
        talked = conv.answered_at is not None or bool(conv.billable)
        if conv.direction is None or (conv.partial and not talked):
            return []
        state = CallState.ENDED if talked or conv.direction == CallDirection.OUTBOUND else CallState.MISSED
        conv.final = state
        if conv.direction == CallDirection.OUTBOUND:
            extension = conv.caller_ext
        else:
            extension = conv.answered_ext or conv.target_ext
        recording = RecordingRef(ref=conv.recording) if conv.recording and self.recordings else None
        duration = conv.billable if talked else None
        if conv.transferred and conv.answered_at is not None:  # each leg's Cdr counts one manager's part only
            duration = max(0, int(((conv.ended_at or at) - conv.answered_at).total_seconds()))
        return [self._event(conv, state, at, leg_id, message, extension=extension, answered_at=conv.answered_at,
                            ended_at=conv.ended_at or at, duration=duration,
                            reason=None if talked else conv.reason, recording=recording)]

    def _event(self, conv: Conversation, state: CallState, at: datetime, leg_id: str | None, message: Message,
               **fields: object) -> CallEvent:
        assert conv.direction is not None
        if conv.direction == CallDirection.INBOUND:
            numbers = {"from_number": conv.client, "to_number": conv.line, "line_number": conv.line}
        elif conv.direction == CallDirection.OUTBOUND:
            numbers = {"from_number": conv.caller_ext, "to_number": conv.client}
        else:
            numbers = {"from_number": conv.caller_ext, "to_number": conv.target_ext}
        conv.sequence += 1
        return CallEvent(call_id=conv.linkedid, state=state, direction=conv.direction, occurred_at=at,
                         leg_id=leg_id or (conv.origin.uniqueid if conv.origin else None), started_at=conv.started_at,
                         reference=conv.reference, sequence=conv.sequence, raw=message.as_dict(),
                         **numbers, **fields)  # type: ignore[arg-type]

    # -- who is who --------------------------------------------------------------------------------------------

    def _classify(self, conv: Conversation, *, caller: Leg | None, dest: Leg | None, dial_string: str) -> None:
        """Decide the direction from the call's first channel and, for a phone's call, what it dialled."""
        origin = conv.origin or caller
        if origin is None:
            return
        if origin.extension is None:
            conv.direction = CallDirection.INBOUND
            conv.client = self._number(origin.number)
            conv.line = self._number(origin.exten) if not self._is_extension(origin.exten) else None
            return
        conv.caller_ext = origin.extension
        if dest is not None:
            if dest.extension:
                conv.direction, conv.target_ext = CallDirection.INTERNAL, dest.extension
                return
            conv.direction = CallDirection.OUTBOUND
            conv.client = self._dialled(caller, dest, dial_string)
            return
        if conv.reference:  # our click-to-call that never reached the dialling: it was meant to go out
            conv.direction = CallDirection.OUTBOUND
            return
        if self._is_extension(origin.exten):  # the phone dialled a colleague who was never rung
            conv.direction, conv.target_ext = CallDirection.INTERNAL, origin.exten
        elif _DIALLED.fullmatch(origin.exten):
            conv.direction, conv.client = CallDirection.OUTBOUND, self._number(origin.exten)

    def _dialled(self, caller: Leg | None, dest: Leg, dial_string: str) -> str | None:
        """The outside number a phone dialled: where the caller is in the dialplan, else what the dial string
        names, else the trunk channel's own number."""
        candidates = [caller.exten if caller else "", *re.findall(r"\+?\d{3,20}", dial_string or ""), dest.number,
                      dest.exten]
        for candidate in candidates:
            if _DIALLED.fullmatch(candidate or "") and not self._is_extension(candidate):
                return self._number(candidate)
        return None

    def _extension(self, channel: str, number: str, context: str, *, origin: bool = False) -> str | None:
        """The internal number of a phone's channel: the endpoint's name when it looks like one; for the call's
        first channel also its caller id when it is in the phones' context."""
        match = _CHANNEL.fullmatch(channel or "")
        if match is not None:
            resource = match["resource"].split("@", 1)[0]  # Local/101@from-queue-00000003;1 → 101
            if self._is_extension(resource):
                return resource
        if origin and self.internal_context and context == self.internal_context and self._is_extension(number):
            return number
        return None

    def _is_extension(self, text: str | None) -> bool:
        return bool(text) and len(text or "") <= 20 and self.internal.fullmatch(text or "") is not None

    def _number(self, raw: str | None) -> str | None:
        """An outside number as the core wants it: E.164 when it can be read so, else its digits; ``None`` for
        a hidden caller."""
        text = (raw or "").strip()
        if text.lower() in _HIDDEN:
            return None
        digits = re.sub(r"[\s()-]", "", text)
        if not _NUMBER.fullmatch(digits):
            return None
        if self.region:
            parsed = parse_phone(digits, self.region)
            if parsed.e164:
                return str(parsed.e164)
        return digits

    # -- bookkeeping -------------------------------------------------------------------------------------------

    def _register(self, message: Message, prefix: str, at: datetime,
                  conv: Conversation | None = None) -> tuple[Conversation | None, Leg | None]:
        """The conversation and leg a message's channel (or, with ``prefix="Dest"``, its dialled channel)
        belongs to, made known when new."""
        uniqueid = message.get(f"{prefix}Uniqueid")[:80]
        if not uniqueid:
            return conv, None
        linkedid = (message.get(f"{prefix}Linkedid") or self.linked.get(uniqueid)
                    or (conv.linkedid if conv is not None else "") or uniqueid)[:80]
        conv = self._conversation(linkedid, at)
        if conv is None:
            return None, None
        self._remember(uniqueid, linkedid)
        leg = conv.legs.get(uniqueid)
        if leg is None and len(conv.legs) < MAX_LEGS:
            channel = message.get(f"{prefix}Channel")[:120]
            number = message.get(f"{prefix}CallerIDNum")[:40]
            context = message.get(f"{prefix}Context")[:80]
            first = uniqueid == linkedid or (conv.origin is None and not conv.legs and not prefix)
            leg = Leg(uniqueid=uniqueid, channel=channel, number=number, exten=message.get(f"{prefix}Exten")[:40],
                      context=context, extension=self._extension(channel, number, context, origin=first))
            conv.legs[uniqueid] = leg
            if first and conv.origin is None:
                conv.origin = leg
            if conv.final is None:
                conv.live.add(uniqueid)
        elif leg is not None and not leg.exten:
            leg.exten = message.get(f"{prefix}Exten")[:40]
        self._variables(conv, message.variables(prefix))
        return conv, leg

    def _variables(self, conv: Conversation, variables: dict[str, str]) -> None:
        reference = variables.get(REFERENCE_VARIABLE, "")
        if reference and conv.reference is None and _REFERENCE.fullmatch(reference):
            conv.reference = reference
        for name in RECORDING_VARIABLES:
            found = recording_name(variables.get(name, ""))
            if found and conv.recording is None:
                conv.recording = found

    def _conversation(self, linkedid: str, at: datetime) -> Conversation | None:
        if not linkedid:
            return None
        conv = self.calls.get(linkedid)
        if conv is None:
            conv = Conversation(linkedid=linkedid, started_at=at)
            self.calls[linkedid] = conv
            while len(self.calls) > MAX_CONVERSATIONS:
                self.calls.popitem(last=False)
        return conv

    def _remember(self, uniqueid: str, linkedid: str) -> None:
        self.linked[uniqueid] = linkedid
        self.linked.move_to_end(uniqueid)
        while len(self.linked) > MAX_CONVERSATIONS * 8:
            self.linked.popitem(last=False)

    def _sweep(self, now: datetime) -> None:
        """Forget ended calls once their late records are unlikely, and calls whose end we never saw."""
        while self.calls:
            oldest = next(iter(self.calls.values()))
            ended = oldest.ended_at
            if (ended is not None and now - ended > KEEP_ENDED) or now - oldest.started_at > FORGET_OPEN:
                self.calls.popitem(last=False)
                continue
            break

    def _moment(self, message: Message) -> datetime:
        """When the event happened: its ``Timestamp`` (seconds since the epoch) when sane, else now."""
        now = self.clock()
        try:
            stamp = float(message.get("Timestamp") or "nan")
        except ValueError:
            return now
        if not math.isfinite(stamp):
            return now
        moment = datetime.fromtimestamp(stamp, UTC) if 0 < stamp < 4102444800 else None  # before 2100
        if moment is None or abs(moment - now) > timedelta(days=1):
            return now  # a PBX clock far off: our own clock is the better guess
        return moment


def recording_name(value: str | None) -> str | None:
    """The recording's file as the plugin fetches it: a path below the PBX's monitor folder
    (``/var/spool/asterisk/monitor/2026/11/20/in-1.wav`` → ``2026/11/20/in-1.wav``), or the file's name; ``None``
    for what is not an audio file's name (a ``UserField`` used for something else)."""
    text = (value or "").strip()
    if not text or len(text) > 400 or "\\" in text:
        return None
    if "/monitor/" in text:
        text = text.rsplit("/monitor/", 1)[1]
    elif text.startswith("/"):
        text = text.rsplit("/", 1)[1]
    parts = [p for p in text.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts) or not AUDIO.fullmatch(parts[-1]):
        return None
    return "/".join(parts)


def _seconds(value: str) -> int | None:
    try:
        seconds = int((value or "").strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 7 * 86400 else None
