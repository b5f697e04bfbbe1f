"""Twilio's wire format without the app: the signature (PROTOCOLS.md §1.3's vectors), whom an extension rings, the
TwiML, and every status a leg reports mapped onto the conversation's call events."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio_support import CLIENT, LINE, T0, at, leg, read_dial, sid

from mayak import CallDirection, CallState, IncomingCall, RouteAnswer, WebhookRequest
from plugins.twilio import wire
from plugins.twilio.provider import TwilioVoice
from plugins.twilio.settings_form import Settings

VECTOR_URL = "https://example.com/twilio/status?tenant=1"
VECTOR_PARAMS = {"CallSid": ["CA123"], "CallStatus": ["completed"], "From": ["+15005550006"],
                 "To": ["+79001234567"], "CallDuration": ["42"]}
PARENT, CHILD = sid("CA", 1), sid("CA", 2)


def test_the_protocol_vectors_are_reproduced_exactly():
    assert wire.compute_signature("12345", VECTOR_URL, VECTOR_PARAMS) == "zskQYuwI48r+zoQWf1KQrpR9aR8="
    assert wire.compute_signature("12345", VECTOR_URL, VECTOR_PARAMS, "sha256") == \
        "S5m5wuidnibcPX1/WAlEtbNf5ogTHL++iqxScR4MFS0="


def test_a_signature_is_checked_over_the_address_with_and_without_its_port_and_nothing_else():
    good = "zskQYuwI48r+zoQWf1KQrpR9aR8="
    assert wire.signed("12345", [VECTOR_URL], VECTOR_PARAMS, good) == VECTOR_URL
    assert wire.signed("12345", ["https://example.com:443/twilio/status?tenant=1"], VECTOR_PARAMS, good)
    assert wire.signed("12345", ["http://internal:8000/twilio/status?tenant=1", VECTOR_URL], VECTOR_PARAMS,
                       good) == VECTOR_URL
    tampered = {**VECTOR_PARAMS, "CallDuration": ["4200"]}
    assert wire.signed("12345", [VECTOR_URL], tampered, good) is None
    assert wire.signed("12345", ["https://example.com/twilio/status?tenant=2"], VECTOR_PARAMS, good) is None
    assert wire.signed("54321", [VECTOR_URL], VECTOR_PARAMS, good) is None
    assert wire.signed("12345", [VECTOR_URL], VECTOR_PARAMS, None) is None
    assert wire.signed("", [VECTOR_URL], VECTOR_PARAMS, good) is None, "no token configured: nothing is trusted"


def test_behind_a_proxy_the_public_address_keeps_the_path_and_query():
    called = "http://10.0.0.5:8000/webhooks/twilio/status?dir=in&line=%2B74951112233"
    assert wire.public_variant("https://crm.example.com/", "/webhooks/twilio/status", called) == \
        "https://crm.example.com/webhooks/twilio/status?dir=in&line=%2B74951112233"
    assert wire.public_variant("", "/webhooks/twilio/status", called) is None


@pytest.mark.parametrize(("extension", "noun", "value", "address"), [
    ("olga", "Client", "olga", "client:olga"),
    ("client:olga", "Client", "olga", "client:olga"),
    ("+79161234567", "Number", "+79161234567", "+79161234567"),
    ("sip:101@pbx.example.com", "Sip", "sip:101@pbx.example.com", "sip:101@pbx.example.com"),
])
def test_an_extension_names_what_twilio_rings_and_a_leg_names_the_extension_back(extension, noun, value, address):
    found = wire.target(extension)
    assert (found.noun, found.value, found.address) == (noun, value, address)
    assert wire.extension_of(address) == extension.removeprefix("client:").removeprefix("sip:").split("@")[0]


def test_digits_ring_the_sip_domain_when_one_is_set():
    assert wire.target("101", "office.sip.twilio.com") == wire.Target("Sip", "sip:101@office.sip.twilio.com")
    assert wire.target("101") == wire.Target("Client", "101")
    assert wire.target("") is None and wire.target("two words") is None and wire.target("sip:nohost") is None


def test_context_values_survive_the_address_werkzeug_rebuilds():
    url = wire.callback_url("https://crm.example.com/webhooks/twilio", "status", dir="out", line=LINE,
                            client=CLIENT, ref="call:7/ü")
    assert url.startswith("https://crm.example.com/webhooks/twilio/status?dir=out&line=%2B74951112233&client=")
    query = url.split("?", 1)[1]
    assert ":" not in query and "%3A" not in query, "escapes werkzeug undoes would break the signature"
    assert wire.context_of(parse_qs(query)) == {"dir": "out", "line": LINE, "client": CLIENT, "ref": "call:7/ü"}
    with pytest.raises(ValueError):
        wire.context_of({"ref": ["~!!"]})


def provider(**overrides: object) -> TwilioVoice:
    return TwilioVoice(Settings(**{"caller_id": LINE, "fallback": "client:reception", **overrides}))  # type: ignore[arg-type]


CALL = IncomingCall(call_id=PARENT, from_number=CLIENT, line_number=LINE)


def test_the_voice_answer_rings_the_managers_extensions_with_every_callback():
    answer = provider().voice_reply(CALL, RouteAnswer(extensions=("olga", "+79260000001"), caller_name="Анна"),
                                    "https://crm.example.com/webhooks/twilio")
    assert answer.content_type.startswith("text/xml")
    dialled = read_dial(answer.body)
    assert dialled.targets == [("Client", "olga"), ("Number", "+79260000001")]
    status = "https://crm.example.com/webhooks/twilio/status?dir=in&line=%2B74951112233"
    assert dialled.status_urls == [status, status] and dialled.caller_names == ["Анна"]
    assert dialled.attrs["action"] == status.replace("/status", "/dial")
    assert dialled.attrs["recordingStatusCallback"] == status.replace("/status", "/recording")
    assert dialled.attrs["record"] == "record-from-answer-dual" and dialled.attrs["answerOnBridge"] == "true"
    assert dialled.attrs["timeout"] == "25"


def test_without_an_opinion_the_fallback_rings_and_without_a_fallback_the_caller_hears_busy():
    assert read_dial(provider().voice_reply(CALL, None, ".").body).targets == [("Client", "reception")]
    assert read_dial(provider(record=False).voice_reply(CALL, RouteAnswer(user_ids=(3,)), ".").body).attrs.get(
        "record") is None, "a manager without an extension: the fallback rings, unrecorded when so set"
    assert "<Reject reason=\"busy\" />" in str(provider(fallback="").voice_reply(CALL, None, ".").body)
    assert "<Reject reason=\"rejected\" />" in str(provider().voice_reply(CALL, RouteAnswer(hangup=True), ".").body)
    relative = read_dial(provider().route_reply(CALL, None).body)
    assert relative.status_urls == ["./status?dir=in&line=%2B74951112233"], "relative to the voice address"


def events(params: dict[str, str], context: dict[str, str] | None = None) -> list:
    return wire.status_events(params, context or {})


def test_an_inbound_calls_manager_legs_answer_it_and_only_the_callers_leg_ends_it():
    parent = dict(frm=CLIENT, to=LINE, direction="inbound")
    child = dict(frm=CLIENT, to="client:olga", direction="outbound-dial", parent=PARENT)
    ctx = {"dir": "in", "line": LINE}
    running = events(leg(PARENT, "in-progress", 1, **parent))[0]
    assert (running.state, running.leg_id, running.extension) == (CallState.RINGING, PARENT, None), \
        "Twilio runs our TwiML: nobody answered yet"
    ringing = events(leg(CHILD, "ringing", 2, seq=1, **child), ctx)[0]
    assert (ringing.call_id, ringing.leg_id, ringing.state, ringing.extension, ringing.sequence) == (
        PARENT, CHILD, CallState.RINGING, "olga", 1)
    assert (ringing.from_number, ringing.to_number, ringing.line_number, ringing.direction) == (
        CLIENT, LINE, LINE, CallDirection.INBOUND)
    assert ringing.occurred_at == T0 + timedelta(seconds=2)
    answered = events(leg(CHILD, "in-progress", 12, seq=2, **child), ctx)[0]
    assert (answered.state, answered.extension) == (CallState.ANSWERED, "olga")
    talked = events(leg(CHILD, "completed", 72, seq=3, duration=60, **child), ctx)[0]
    assert (talked.state, talked.answered_at, talked.ended_at, talked.extension, talked.leg_id) == (
        CallState.ANSWERED, T0 + timedelta(seconds=12), None, None, CHILD), \
        "the manager's leg is over, the caller may be put through to another: not the conversation's end"
    foreign = events(leg(CHILD, "completed", 72, seq=3, duration=60, **child))[0]
    assert (foreign.state, foreign.duration) == (CallState.ENDED, 60), \
        "a leg of TwiML Mayak did not write (no context, no <Dial> action of ours): its end is all there is"
    ended = events(leg(PARENT, "completed", 73, duration=75, **parent))[0]
    assert (ended.state, ended.duration, ended.line_number) == (CallState.ENDED, None, LINE), \
        "the parent's duration counts the ringing: not talk time"
    missed = events(leg(CHILD, "no-answer", 20, seq=2, **child), ctx)[0]
    assert (missed.state, missed.reason) == (CallState.RINGING, "no-answer"), "one manager did not pick up"
    hung_up = events(leg(PARENT, "canceled", 9, **parent))[0]
    assert (hung_up.state, hung_up.reason) == (CallState.ENDED, "canceled")


def test_a_click_to_calls_legs_answer_it_when_the_client_picks_up():
    ctx = {"dir": "out", "line": LINE, "client": CLIENT, "ref": "r-1"}
    agent = dict(frm=LINE, to="client:olga", direction="outbound-api")
    customer = dict(frm=LINE, to=CLIENT, direction="outbound-dial", parent=PARENT)
    picked = events(leg(PARENT, "in-progress", 5, seq=2, **agent), ctx)[0]
    assert (picked.state, picked.extension, picked.to_number, picked.from_number, picked.reference) == (
        CallState.RINGING, "olga", CLIENT, LINE, "r-1"), "the manager picked up; the client is being dialled"
    answered = events(leg(CHILD, "in-progress", 15, seq=2, **customer), ctx)[0]
    assert (answered.call_id, answered.state, answered.extension, answered.to_number) == (
        PARENT, CallState.ANSWERED, None, CLIENT)
    talked = events(leg(CHILD, "completed", 60, seq=3, duration=45, **customer), ctx)[0]
    assert (talked.state, talked.duration) == (CallState.ENDED, 45)
    for status in ("busy", "no-answer", "failed", "canceled"):
        unanswered = events(leg(CHILD, status, 30, seq=2, **customer), ctx)[0]
        assert (unanswered.state, unanswered.reason, unanswered.direction) == (
            CallState.ENDED, status, CallDirection.OUTBOUND)
    agent_missed = events(leg(PARENT, "no-answer", 25, seq=2, **agent), ctx)[0]
    assert (agent_missed.state, agent_missed.reason) == (CallState.ENDED, "no-answer")
    assert events({**leg(PARENT, "whatever-new", 1, **agent)}, ctx) == [], "an unknown status is not guessed at"


def test_the_dial_action_and_a_recording_are_events_too():
    end = wire.dial_end_events({"CallSid": PARENT, "DialCallSid": CHILD, "DialCallStatus": "completed",
                                "DialCallDuration": "61", "From": CLIENT, "To": LINE, "Timestamp": at(80)},
                               {"dir": "in", "line": LINE})[0]
    assert (end.call_id, end.state, end.duration, end.reason, end.from_number, end.line_number) == (
        PARENT, CallState.ENDED, 61, None, CLIENT, LINE)
    busy = wire.dial_end_events({"CallSid": PARENT, "DialCallStatus": "busy", "From": CLIENT, "To": LINE}, {})[0]
    assert (busy.duration, busy.reason) == (None, "busy")
    rec = wire.recording_events({"CallSid": PARENT, "RecordingSid": sid("RE", 9), "RecordingStatus": "completed",
                                 "RecordingDuration": "59", "RecordingUrl": "https://api.twilio.com/x",
                                 "RecordingStartTime": at(12)}, {"dir": "in"})[0]
    assert (rec.call_id, rec.state, rec.occurred_at, rec.recording.ref, rec.recording.duration) == (
        PARENT, CallState.RINGING, T0 + timedelta(seconds=12), sid("RE", 9), 59)
    assert wire.recording_events({"CallSid": PARENT, "RecordingSid": sid("RE", 9), "RecordingStatus": "absent"},
                                 {}) == []


def _request(path: str, body: bytes, query: str = "") -> WebhookRequest:
    return WebhookRequest(method="POST", path=f"/webhooks/twilio/{path}", headers={}, query=parse_qs(query),
                          body=body, content_type="application/x-www-form-urlencoded")


@settings(max_examples=150, deadline=None)
@given(path=st.sampled_from(["status", "recording", "dial", "voice", "fallback", "other"]),
       params=st.dictionaries(st.sampled_from(["CallSid", "CallStatus", "ParentCallSid", "Direction", "From", "To",
                                               "SequenceNumber", "CallDuration", "Timestamp", "RecordingSid",
                                               "RecordingStatus", "RecordingDuration", "DialCallStatus", "junk"]),
                              st.text(max_size=40)),
       query=st.sampled_from(["", "dir=out", "dir=in&line=%2B74951112233", "ref=~!!", "ref=~QQ", "client=x"]),
       raw=st.binary(max_size=64))
def test_any_body_gives_events_or_a_value_error_never_anything_else(path, params, query, raw):
    reader = provider()
    for body in (urlencode(params).encode(), raw):
        request = _request(path, body, query)
        try:
            found = [*reader.parse_webhook(request), *filter(None, [reader.parse_incoming_call(request)])]
        except ValueError:
            continue
        assert all(getattr(e, "call_id", None) for e in found)
