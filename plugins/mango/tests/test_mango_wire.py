"""Mango's wire format without an app: the signature (the test vector of PROTOCOLS.md §1.2 reproduced exactly),
the signed form, and each notification read into the core's events."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs

import pytest
from mango_support import CLIENT, LINE, abonent, call, signed_form, summary

from mayak import CallDirection, CallEvent, CallState, IncomingCall, MalformedBody, RecordingRef, WebhookRequest
from plugins.mango import notices, wire

VECTOR_JSON = '{"command_id":"cb-1","from":{"extension":"101"},"to_number":"79001234567"}'
VECTOR_SIGN = "455b9856d01b6c88fd5d3a12940ee52a03f422cac0a5a1d9014b3c9de2eba77d"


def request(path: str, body: str | bytes) -> WebhookRequest:
    data = body.encode() if isinstance(body, str) else body
    return WebhookRequest(method="POST", path=f"/webhooks/mango/{path}",
                          headers={"content-type": "application/x-www-form-urlencoded"}, query={}, body=data,
                          content_type="application/x-www-form-urlencoded")


def moment(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def test_the_protocol_test_vector():
    assert wire.sign("mangokey", VECTOR_JSON, "mangosalt") == VECTOR_SIGN
    payload = {"command_id": "cb-1", "from": {"extension": "101"}, "to_number": "79001234567"}
    assert wire.dumps(payload) == VECTOR_JSON, "requests are signed over the compact JSON Mango's libraries send"
    form = parse_qs(wire.encode("mangokey", "mangosalt", payload).decode())
    assert form == {"vpbx_api_key": ["mangokey"], "sign": [VECTOR_SIGN], "json": [VECTOR_JSON]}


def test_a_notification_is_verified_over_the_json_exactly_as_received():
    spaced = '{"entry_id": "E1", "note": "Привет"}'  # not as Mango's libraries would write it: signed as received
    good = request("ping", signed_form(spaced))
    assert wire.verified(good, "mangokey", "mangosalt")
    assert not wire.verified(good, "mangokey", "other-salt")
    assert not wire.verified(good, "otherkey", "mangosalt"), "the key must be ours too"
    assert not wire.verified(request("ping", signed_form(spaced, key="otherkey")), "mangokey", "mangosalt")
    assert not wire.verified(good, "", ""), "nothing is accepted before the plugin is set up"
    upper = request("ping", signed_form(spaced, sign=wire.sign("mangokey", spaced, "mangosalt").upper()))
    assert wire.verified(upper, "mangokey", "mangosalt"), "a hex digest in capitals is the same digest"


@pytest.mark.parametrize("body", [
    b"", b"vpbx_api_key=mangokey&json=%7B%7D", b"not a form at all", b"\xff\xfe=\x00",
    b"vpbx_api_key=mangokey&vpbx_api_key=mangokey&sign=x&json=%7B%7D", b'{"json": "{}"}',
])
def test_what_cannot_be_checked_is_refused_never_raised(body):
    assert wire.verified(request("events/call", body), "mangokey", "mangosalt") is False


@pytest.mark.parametrize(("raw", "e164"), [
    ("74955404444", "+74955404444"), ("+74955404444", "+74955404444"), ("84955404444", "+74955404444"),
    (74955404444, "+74955404444"), ("442071234567", "+442071234567"), ("101", None), ("", None), (None, None),
    ("sip:101@vpbx.mangosip.ru", None), ("7495540444٤", None), (True, None),
])
def test_numbers_are_e164_and_extensions_never_numbers(raw, e164):
    assert wire.phone(raw) == e164


def events(path: str, payload: dict) -> list:
    from plugins.mango.provider import MangoPbx

    pbx = MangoPbx(None)
    req = request(path, signed_form(payload))
    incoming = pbx.parse_incoming_call(req)
    return [*pbx.parse_webhook(req), *([incoming] if incoming else [])]


def test_a_call_appearing_in_the_voice_menu_rings_and_may_be_routed():
    _, body = call("E1", "L-ivr", 1, "Appeared", 1700000000, location="ivr")
    ring, incoming = events("events/call", body)
    assert ring == CallEvent(call_id="E1", leg_id="L-ivr", state=CallState.RINGING,
                             direction=CallDirection.INBOUND, occurred_at=moment(1700000000),
                             from_number=f"+{CLIENT}", to_number=f"+{LINE}", line_number=f"+{LINE}", sequence=1,
                             event_id="call:E1:L-ivr:1", raw=body)
    assert incoming == IncomingCall(call_id="E1", from_number=f"+{CLIENT}", line_number=f"+{LINE}", raw=body)


def test_a_leg_to_an_extension_rings_is_answered_and_ends():
    rings = events("events/call", call("E1", "L1", 1, "Appeared", 1700000003, to=abonent("101"))[1])
    assert [(e.state, e.extension, e.to_number) for e in rings] == [(CallState.RINGING, "101", None)]
    answered = events("events/call", call("E1", "L1", 2, "Connected", 1700000012, to=abonent("101"))[1])
    assert [(e.state, e.extension, e.sequence) for e in answered] == [(CallState.ANSWERED, "101", 2)]
    ended = events("events/call", call("E1", "L1", 3, "Disconnected", 1700000072, to=abonent("101"),
                                       reason=1110)[1])
    assert [(e.state, e.reason) for e in ended] == [(CallState.ENDED, "1110 caller hung up")]
    missed = events("events/call", call("E1", "L1", 3, "Disconnected", 1700000030, to=abonent("101"),
                                        reason=1111)[1])
    assert [(e.state, e.reason) for e in missed] == [(CallState.MISSED, "1111 no answer")]
    assert events("events/call", call("E1", "L1", 3, "OnHold", 1700000030)[1]) == []
    in_menu = events("events/call", call("E1", "L0", 2, "Connected", 1700000001, location="ivr")[1])
    assert [e.state for e in in_menu] == [CallState.RINGING], "the voice menu picking up is no conversation"


def test_a_click_to_call_is_outbound_whichever_leg_and_answered_only_by_the_client():
    manager_leg = call("E2", "L1", 2, "Connected", 1700000005, frm={"number": LINE},
                       to=abonent("101"), command_id="abc123")[1]
    (first,) = events("events/call", manager_leg)
    assert (first.direction, first.state, first.extension, first.reference) == (
        CallDirection.OUTBOUND, CallState.RINGING, "101", "abc123"), "the manager's phone answering is not the call"
    client_leg = call("E2", "L2", 2, "Connected", 1700000015, frm={"extension": "101"},
                      to={"number": CLIENT}, command_id="abc123")[1]
    (talk,) = events("events/call", client_leg)
    assert (talk.direction, talk.state, talk.extension, talk.to_number) == (
        CallDirection.OUTBOUND, CallState.ANSWERED, "101", f"+{CLIENT}")
    routed = call("E3", "L3", 1, "Appeared", 1700000000, to=abonent("105"), command_id=wire.ROUTE_PREFIX + "x")[1]
    (ring,) = events("events/call", routed)
    assert (ring.direction, ring.reference) == (CallDirection.INBOUND, None), "our routing is no click-to-call"
    internal = call("E4", "L4", 1, "Appeared", 1700000000, frm={"extension": "101"}, to=abonent("102"))[1]
    assert [e.direction for e in events("events/call", internal)] == [CallDirection.INTERNAL]


def test_the_summary_is_the_final_word():
    _, talked = summary("E1", create=1700000000, forward=1700000003, talk=1700000012, end=1700000072,
                        to=abonent("101"))
    assert events("events/summary", talked) == [CallEvent(
        call_id="E1", state=CallState.ENDED, direction=CallDirection.INBOUND, occurred_at=moment(1700000072),
        started_at=moment(1700000000), answered_at=moment(1700000012), ended_at=moment(1700000072), duration=60,
        from_number=f"+{CLIENT}", to_number=None, extension="101", line_number=f"+{LINE}",
        reason="1110 caller hung up", event_id="summary:E1", raw=talked)]
    _, missed = summary("E2", create=1700000000, end=1700000030, reason=1111, to=abonent("101"))
    (event,) = events("events/summary", missed)
    assert (event.state, event.answered_at, event.duration, event.reason) == (CallState.MISSED, None, 0,
                                                                              "1111 no answer")
    _, outbound = summary("E3", direction=2, create=1700000000, end=1700000030, reason=1121,
                          frm={"extension": "101"}, to={"number": CLIENT})
    (event,) = events("events/summary", outbound)
    assert (event.state, event.direction, event.extension, event.reason) == (
        CallState.ENDED, CallDirection.OUTBOUND, "101", "1121 busy"), "nobody answered, but it was no missed call"
    _, internal = summary("E4", direction=0, create=1700000000, end=1700000030)
    assert events("events/summary", internal)[0].direction == CallDirection.INTERNAL


def test_only_a_completed_recording_is_handed_on():
    body = {"recording_id": "R1", "recording_state": "Completed", "entry_id": "E1", "call_id": "L1",
            "extension": "101", "timestamp": 1700000073, "seq": 2, "completion_code": 1000}
    assert events("events/recording", body) == [CallEvent(
        call_id="E1", leg_id="L1", state=CallState.RINGING, direction=CallDirection.INBOUND,
        occurred_at=moment(1700000073), extension="101", recording=RecordingRef(ref="R1"),
        event_id="recording:R1", raw=body)]
    assert events("events/recording", {**body, "recording_state": "Started"}) == []
    assert events("events/recording", {**body, "completion_code": 4002}) == [], "too short: Mango kept nothing"


def test_a_click_to_call_mango_could_not_start_ends_with_its_reason():
    assert events("result/callback", {"command_id": "abc123", "result": 1000}) == []
    (event,) = events("result/callback", {"command_id": "abc123", "result": 2240})
    assert (event.call_id, event.reference, event.state, event.direction, event.reason) == (
        "ref:abc123", "abc123", CallState.ENDED, CallDirection.OUTBOUND, "2240 failed: billing")
    assert events("ping", {}) == []


@pytest.mark.parametrize("payload", [
    {"call_id": "L1", "timestamp": 1700000000, "seq": 1, "call_state": "Appeared"},
    {"entry_id": "E1", "call_id": "L1", "timestamp": 1700000000, "seq": 1, "call_state": "Ringing"},
    {"entry_id": "E1", "call_id": "L1", "timestamp": "soon", "seq": 1, "call_state": "Appeared"},
    {"entry_id": "E1", "call_id": "L1", "timestamp": 1700000000, "seq": True, "call_state": "Appeared"},
    {"entry_id": ["E1"], "call_id": "L1", "timestamp": 1700000000, "seq": 1, "call_state": "Appeared"},
    {"entry_id": "E\x001", "call_id": "L1", "timestamp": 1700000000, "seq": 1, "call_state": "Appeared"},
    {"entry_id": "E" * 201, "call_id": "L1", "timestamp": 1700000000, "seq": 1, "call_state": "Appeared"},
])
def test_a_call_notification_without_what_every_one_has_is_malformed(payload):
    with pytest.raises(MalformedBody):
        notices.read_call(payload)


def test_a_json_field_that_is_not_an_object_is_malformed():
    for text in ("[1, 2]", "NaN", "{", "[" * 5000 + "]" * 5000):
        with pytest.raises(MalformedBody):
            wire.payload(request("events/call", signed_form(text)))
