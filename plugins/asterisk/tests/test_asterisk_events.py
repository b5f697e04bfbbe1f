"""AMI events → CallEvents: the recorded streams give the events the core needs, a listener that started mid-call
never calls an answered call missed, and no message, however hostile, stops the translator or grows its memory."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from asterisk_fake import wire
from asterisk_streams import (
    CALL_BACK,
    CLIENT,
    DIALLED,
    DIALLED_RAW,
    INBOUND_ANSWERED,
    INBOUND_MISSED,
    INTERNAL,
    LINE,
    RECORDING,
    TRANSFER_LINKEDID,
    TRANSFERS,
    originated,
    originated_unanswered,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mayak import CallDirection, CallEvent, CallState
from plugins.asterisk.ami import Message, MessageReader
from plugins.asterisk.events import MAX_CONVERSATIONS, Translator, recording_name

T0 = time.time() - 600
IN, OUT, INTERNAL_CALL = CallDirection.INBOUND, CallDirection.OUTBOUND, CallDirection.INTERNAL
RINGING, ANSWERED, ENDED, MISSED = CallState.RINGING, CallState.ANSWERED, CallState.ENDED, CallState.MISSED
ORIGINATE = [("Action", "Originate"), ("ActionID", "mayak-5f1e0c9a"), ("Exten", DIALLED_RAW)]


def translate(stream: str, translator: Translator | None = None) -> list[CallEvent]:
    translator = translator or Translator(r"\d{2,5}", internal_context="from-internal", region="RU")
    return [event for message in MessageReader().feed(wire(stream, T0)) for event in translator.feed(message)]


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


def facts(event: CallEvent) -> tuple:
    """What the core reads from an event (times to the millisecond)."""
    def ms(moment: datetime | None) -> float | None:
        return None if moment is None else round(moment.timestamp() - T0, 3)

    return (event.call_id, event.state, event.direction, event.extension, event.from_number, event.to_number,
            event.line_number, ms(event.answered_at), ms(event.ended_at), event.duration, event.reason,
            event.reference, event.recording.ref if event.recording else None)


def test_an_incoming_call_answered_by_101():
    events = translate(INBOUND_ANSWERED)
    linked = "1764500000.41"
    assert [facts(e) for e in events] == [
        (linked, RINGING, IN, None, CLIENT, LINE, LINE, None, None, None, None, None, None),
        (linked, RINGING, IN, "101", CLIENT, LINE, LINE, None, None, None, None, None, None),
        (linked, ANSWERED, IN, "101", CLIENT, LINE, LINE, 12.0, None, None, None, None, None),
        (linked, ENDED, IN, "101", CLIENT, LINE, LINE, 12.0, 72.0, None, None, None, RECORDING),
        (linked, ENDED, IN, "101", CLIENT, LINE, LINE, 12.0, 72.0, 60, None, None, RECORDING),  # the Cdr's talk
    ]
    assert all(e.started_at is not None and abs(e.started_at - at(0)) < timedelta(milliseconds=1) for e in events)
    assert [e.leg_id for e in events][:3] == [linked, "1764500000.42", "1764500000.42"]
    assert [e.sequence for e in events] == [1, 2, 3, 4, 5]
    assert events[-1].raw["BillableSeconds"] == "60", "raw keeps what the PBX sent"


def test_an_incoming_call_nobody_answered_is_missed_once():
    events = translate(INBOUND_MISSED)
    linked = "1764500000.51"
    assert [facts(e) for e in events] == [
        (linked, RINGING, IN, None, CLIENT, LINE, LINE, None, None, None, None, None, None),
        (linked, RINGING, IN, "101", CLIENT, LINE, LINE, None, None, None, None, None, None),
        (linked, MISSED, IN, "101", CLIENT, LINE, LINE, None, 25.0, None, "CANCEL", None, None),
    ], "the second phone of the ring group and the two NO ANSWER records add nothing"


def test_a_colleagues_call_is_internal():
    linked = "1764500000.61"
    assert [facts(e) for e in translate(INTERNAL)] == [
        (linked, RINGING, INTERNAL_CALL, "101", "102", "101", None, None, None, None, None, None, None),
        (linked, ANSWERED, INTERNAL_CALL, "101", "102", "101", None, 5.0, None, None, None, None, None),
        (linked, ENDED, INTERNAL_CALL, "101", "102", "101", None, 5.0, 35.0, None, None, None, None),
        (linked, ENDED, INTERNAL_CALL, "101", "102", "101", None, 5.0, 35.0, 30, None, None, None),
    ]


def test_a_call_from_the_desk_phone_to_a_client_is_outbound():
    linked = "1764500000.91"
    assert [facts(e) for e in translate(CALL_BACK)] == [
        (linked, RINGING, OUT, "101", "101", CLIENT, None, None, None, None, None, None, None),
        (linked, ANSWERED, OUT, "101", "101", CLIENT, None, 40.0, None, None, None, None, None),
        (linked, ENDED, OUT, "101", "101", CLIENT, None, 40.0, 100.0, None, None, None, None),
        (linked, ENDED, OUT, "101", "101", CLIENT, None, 40.0, 100.0, 60, None, None, None),
    ]


@pytest.mark.parametrize(("kind", "second_answer", "end"), [("blind", 45.0, 105.0), ("attended", 36.0, 100.0)])
def test_a_transferred_call_is_answered_again_by_the_phone_that_took_it_and_talked_on_to_its_end(kind,
                                                                                                 second_answer, end):
    linked = TRANSFER_LINKEDID[kind]
    events = translate(TRANSFERS[kind])
    assert [facts(e) for e in events] == [
        (linked, RINGING, IN, None, CLIENT, LINE, LINE, None, None, None, None, None, None),
        (linked, RINGING, IN, "101", CLIENT, LINE, LINE, None, None, None, None, None, None),
        (linked, ANSWERED, IN, "101", CLIENT, LINE, LINE, 12.0, None, None, None, None, None),
        (linked, ANSWERED, IN, "103", CLIENT, LINE, LINE, 12.0, None, None, None, None, None),
        (linked, ENDED, IN, "103", CLIENT, LINE, LINE, 12.0, end, end - 12, None, None, None),
    ], "the call is 103's from its answer on; each leg's Cdr (28 s, then 60 or 64 s) counts one manager's part only"
    assert abs(events[3].occurred_at - at(second_answer)) < timedelta(milliseconds=1)
    assert [e.sequence for e in events] == [1, 2, 3, 4, 5]


def test_our_click_to_call_carries_its_reference():
    linked = "1764500000.71"
    assert [facts(e) for e in translate(originated(ORIGINATE))] == [
        (linked, RINGING, OUT, "101", "101", DIALLED, None, None, None, None, None, "5f1e0c9a", None),
        (linked, ANSWERED, OUT, "101", "101", DIALLED, None, 14.0, None, None, None, "5f1e0c9a", None),
        (linked, ENDED, OUT, "101", "101", DIALLED, None, 14.0, 109.0, None, None, "5f1e0c9a", None),
        (linked, ENDED, OUT, "101", "101", DIALLED, None, 14.0, 109.0, 95, None, "5f1e0c9a", None),
    ], "the manager's phone ringing first is not the call yet: it starts when the client's number is dialled"


def test_a_click_to_call_the_manager_did_not_pick_up_ends_with_the_reason():
    events = translate(originated_unanswered(ORIGINATE))
    assert [facts(e) for e in events] == [
        ("1764500000.81", ENDED, OUT, "101", "101", None, None, None, 30.0, None, "User alerting, no answer",
         "5f1e0c9a", None),
        ("ref:5f1e0c9a", ENDED, OUT, "101", "101", None, None, None, 30.0, None, "NOANSWER", "5f1e0c9a", None),
    ]


def test_without_channel_variables_the_originate_response_still_ends_our_call():
    bare = originated_unanswered(ORIGINATE).replace("ChanVariable: MAYAK_REF=5f1e0c9a", "ChanVariable: MAYAK_REF=")
    assert [(e.call_id, e.state, e.reference, e.reason) for e in translate(bare)] == [
        ("ref:5f1e0c9a", ENDED, "5f1e0c9a", "NOANSWER")], "the phone's own hangup says nothing it cannot place"


def test_another_programs_originate_is_not_ours():
    stream = originated_unanswered([("ActionID", "fop2-17"), ("Exten", DIALLED_RAW)])
    assert translate(stream.replace("MAYAK_REF=fop2-17", "MAYAK_REF=")) == [], \
        "a phone that rang for another program's Originate and was not picked up is no call of ours"


def test_a_listener_started_mid_call_never_calls_an_answered_call_missed():
    messages = MessageReader().feed(wire(INBOUND_ANSWERED, T0))
    late = [m for m in messages if m.event in ("Hangup", "Cdr")]  # connected after the answer
    translator = Translator(r"\d{2,5}", internal_context="from-internal", region="RU")
    events = [e for m in late for e in translator.feed(m)]
    assert [(e.state, e.direction, e.extension, e.duration) for e in events] == [(ENDED, IN, "101", 60)], \
        "the hangups alone say nothing; the Cdr tells the answered call with its talk time"
    assert abs(events[0].answered_at - at(72.1 - 60)) < timedelta(milliseconds=2)


def test_a_cdr_alone_tells_a_whole_call():
    messages = MessageReader().feed(wire(INBOUND_MISSED, T0))
    cdrs = [m for m in messages if m.event == "Cdr"]
    translator = Translator(r"\d{2,5}", region="RU")
    events = [e for m in cdrs for e in translator.feed(m)]
    assert [(e.state, e.direction, e.from_number, e.line_number, e.extension, e.reason) for e in events] == [
        (MISSED, IN, CLIENT, LINE, "101", "NO ANSWER")]


def test_a_phone_checking_its_voicemail_is_no_call():
    phone = [("Channel", "PJSIP/101-00000091"), ("CallerIDNum", "101"), ("Context", "from-internal"),
             ("Exten", "*97"), ("Uniqueid", "1764500000.91"), ("Linkedid", "1764500000.91")]
    translator = Translator(r"\d{2,5}", internal_context="from-internal", region="RU")
    found = [e for name, extra in (("Newchannel", []), ("Hangup", [("Cause", "16")]),
                                   ("Cdr", [("Source", "101"), ("Destination", "*97"), ("UniqueID", "1764500000.91"),
                                            ("Channel", "PJSIP/101-00000091"), ("Disposition", "ANSWERED"),
                                            ("BillableSeconds", "20"), ("Duration", "21")]))
             for e in translator.feed(Message([("Event", name), *phone, *extra]))]
    assert found == []


def test_recordings_are_named_only_when_they_can_be_fetched():
    translator = Translator(r"\d{2,5}", region="RU")
    translator.recordings = False
    assert all(e.recording is None for e in translate(INBOUND_ANSWERED, translator))


@pytest.mark.parametrize(("value", "name"), [
    ("/var/spool/asterisk/monitor/2026/11/20/in-1.wav", "2026/11/20/in-1.wav"),
    ("in-74951112233-79161234567-20261120-130000-1764500000.41.WAV", "in-74951112233-79161234567-20261120-130000-"
                                                                     "1764500000.41.WAV"),
    ("/srv/calls/out-1.mp3", "out-1.mp3"),
    ("2026/11/../../../../etc/passwd.wav", None),
    ("../secret.wav", None),
    ("deal-42", None),  # a UserField used for something else
    ("C:\\rec\\a.wav", None),
    ("", None),
])
def test_recording_names(value, name):
    assert recording_name(value) == name


def test_memory_stays_bounded_however_many_calls_never_end():
    translator = Translator(r"\d{2,5}")
    for n in range(MAX_CONVERSATIONS + 500):
        translator.feed(Message([("Event", "Newchannel"), ("Channel", f"PJSIP/voippro-{n:08x}"),
                                 ("CallerIDNum", "79161234567"), ("Exten", "74951112233"),
                                 ("Uniqueid", f"1.{n}"), ("Linkedid", f"1.{n}")]))
    assert len(translator.calls) == MAX_CONVERSATIONS
    assert "1.0" not in translator.calls and f"1.{MAX_CONVERSATIONS + 499}" in translator.calls


def test_timestamps_far_off_or_garbled_are_replaced_by_our_clock():
    now = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    translator = Translator(r"\d{2,5}", clock=lambda: now)
    for stamp in ("nan", "inf", "-1", "1e300", "abc", "946684800", ""):
        (event,) = translator.feed(Message([("Event", "Newchannel"), ("Timestamp", stamp),
                                            ("Channel", "PJSIP/voippro-00000001"), ("CallerIDNum", "79161234567"),
                                            ("Uniqueid", f"t.{stamp}"), ("Linkedid", f"t.{stamp}")]))
        assert event.occurred_at == now, stamp


KEYS = ["Event", "Channel", "Uniqueid", "Linkedid", "DestChannel", "DestUniqueid", "DestLinkedid", "CallerIDNum",
        "DestCallerIDNum", "Exten", "DestExten", "Context", "DialStatus", "DialString", "BridgeUniqueid",
        "Timestamp", "BillableSeconds", "Duration", "Disposition", "DestinationChannel", "UniqueID", "UserField",
        "ActionID", "Response", "Reason", "ChanVariable", "Variable", "Value", "Cause-txt", "LinkedID"]
EVENTS = ["Newchannel", "Newstate", "DialBegin", "DialEnd", "BridgeEnter", "BridgeLeave", "Hangup", "Cdr",
          "VarSet", "OriginateResponse", "Shutdown", "X"]
VALUES = (st.sampled_from(["PJSIP/101-00000001", "PJSIP/voippro-00000002", "Local/101@q-00000003;1", "1.1", "1.2",
                           "101", "79161234567", "ANSWER", "ANSWERED", "mayak-r1", "MAYAK_REF=r1", "Failure", "3",
                           "MIXMONITOR_FILENAME=/var/spool/asterisk/monitor/a.wav", "<null>", "", "nan", "-5"])
          | st.text(max_size=50) | st.builds(lambda c, n: c * n, st.characters(), st.integers(900, 1024)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(st.tuples(st.sampled_from(EVENTS),
                                   st.lists(st.tuples(st.sampled_from(KEYS), VALUES), max_size=12)),
                         max_size=30))
def test_hostile_messages_never_stop_the_translator(messages):
    translator = Translator(r"\d{2,5}", internal_context="from-internal", region="RU")
    for name, fields in messages:
        for event in translator.feed(Message([("Event", name), *fields])):
            assert isinstance(event, CallEvent) and event.call_id and len(event.call_id) <= 80
            assert event.state in CallState and event.direction in CallDirection
            assert event.occurred_at.tzinfo is not None
            assert event.from_number is None or len(event.from_number) <= 40
    assert len(translator.calls) <= MAX_CONVERSATIONS
