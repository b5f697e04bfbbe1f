"""Zadarma's wire format without an app: the protocol notes' test vectors, reading form and multipart bodies, and
each NOTIFY_* read into call events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mayak import CallDirection, CallEvent, CallState, IncomingCall, MalformedBody, RecordingRef, WebhookRequest
from plugins.zadarma import events, wire
from plugins.zadarma.config import Settings, parse_zone
from plugins.zadarma.tests.zadarma_fake import MOSCOW, hex_hmac_base64, notification_signature, request_signature

# --- PROTOCOLS.md §1.1 test vectors, reproduced exactly ----------------------------------------------------------


def test_the_rest_request_vector():
    query, header = wire.authorization("KEY123", "SECRET456", "/v1/request/callback/",
                                       {"from": 100, "to": 79001234567})
    assert query == "format=json&from=100&to=79001234567"
    assert header == "KEY123:ODZlN2I1Y2IzMWU5MWNjZGQ4Yzk5NDc1NjEwZTk1YmU3MTAxMjZmZQ=="
    # base64 of the raw digest, as Zadarma's documentation reads, would be this — and is not what is sent
    assert "hue1yzHpHM3YyZR1YQ6VvnEBJv4=" not in header


def test_the_notification_vector():
    fields = {"event": "NOTIFY_START", "caller_id": "79001234567", "called_did": "74951112233",
              "call_start": "2024-01-01 12:00:00", "pbx_call_id": "in_1"}
    expected = "YTRjMjFhYjYwMzAyODkxMjQ0YjlkNmZhYzQzNDg0NTM2NDY4NTUzZA=="
    assert wire.notification_signature("SECRET456", fields) == expected
    assert notification_signature(fields, "SECRET456") == expected  # the tests' own signer agrees


@pytest.mark.parametrize(("event", "signed"), [
    ("NOTIFY_START", "79001234567749511122332024-01-01 12:00:00"),
    ("NOTIFY_INTERNAL", "79001234567749511122332024-01-01 12:00:00"),
    ("NOTIFY_END", "79001234567749511122332024-01-01 12:00:00"),
    ("NOTIFY_ANSWER", "79001234567100" + "2024-01-01 12:00:00"),
    ("NOTIFY_OUT_START", "101" + "79001234567" + "2024-01-01 12:00:00"),
    ("NOTIFY_OUT_END", "101" + "79001234567" + "2024-01-01 12:00:00"),
    ("NOTIFY_RECORD", "in_42" + "1704110400.123456"),
])
def test_each_event_signs_its_own_fields(event, signed):
    fields = {"event": event, "caller_id": "79001234567", "called_did": "74951112233", "destination": "100",
              "call_start": "2024-01-01 12:00:00", "pbx_call_id": "in_42", "call_id_with_rec": "1704110400.123456",
              "internal": "101", "duration": "42"}
    if event.startswith("NOTIFY_OUT"):
        fields["destination"] = "79001234567"
    assert wire.signed_text(fields) == signed
    assert wire.notification_signature("s3cret", fields) == hex_hmac_base64("s3cret", signed)


def test_an_unknown_event_has_no_signature_to_match():
    assert wire.notification_signature("s", {"event": "NOTIFY_SMS", "caller_id": "1"}) is None


@given(st.dictionaries(st.text(st.characters(codec="utf-8"), min_size=1, max_size=12),
                       st.text(st.characters(codec="utf-8"), max_size=30), max_size=6))
@settings(max_examples=60, deadline=None)
def test_request_signature_matches_an_independent_signer(params):
    """Any parameters: the plugin's PHP-style query and signature agree with the one written from the notes."""
    params = {k: v.replace("~", "") for k, v in params.items() if "~" not in k}  # PHP encodes '~'; urlencode not
    _query, header = wire.authorization("K", "SECRET456", "/v1/info/balance/", params)
    assert header == "K:" + request_signature("/v1/info/balance/", {**params, "format": "json"})


# --- bodies ----------------------------------------------------------------------------------------------------

END = {"event": "NOTIFY_END", "call_start": "2024-01-01 12:00:00", "pbx_call_id": "in_ae6b", "caller_id": "79001234567",
       "called_did": "74951112233", "internal": "100", "duration": "42", "disposition": "answered",
       "status_code": "16", "is_recorded": "1", "call_id_with_rec": "1704110400.123456"}


def request(body: bytes, content_type: str = "application/x-www-form-urlencoded") -> WebhookRequest:
    return WebhookRequest(method="POST", path="/webhooks/zadarma/calls", headers={"content-type": content_type},
                          query={}, body=body, content_type=content_type)


def multipart(fields: dict[str, str], boundary: str = "----zd7f", crlf: str = "\r\n") -> bytes:
    lines = []
    for name, value in fields.items():
        lines += [f"--{boundary}", f'Content-Disposition: form-data; name="{name}"', "", value]
    return crlf.join([*lines, f"--{boundary}--", ""]).encode()


def test_the_sample_form_body_of_the_notes():
    body = (b"event=NOTIFY_END&call_start=2024-01-01+12%3A00%3A00&pbx_call_id=in_ae6b&caller_id=79001234567"
            b"&called_did=74951112233&internal=100&duration=42&disposition=answered&status_code=16&is_recorded=1"
            b"&call_id_with_rec=1704110400.123456")
    assert wire.read_fields(request(body)) == END


@pytest.mark.parametrize("crlf", ["\r\n", "\n"])
def test_multipart_bodies_are_read(crlf):
    body = multipart(END, crlf=crlf)
    assert wire.read_fields(request(body, "multipart/form-data; boundary=----zd7f")) == END


def test_a_multipart_body_whose_header_names_another_boundary_is_read():
    body = multipart(END, boundary="realboundary")
    assert wire.read_fields(request(body, "multipart/form-data; boundary=somethingelse")) == END
    assert wire.read_fields(request(body, "multipart/form-data")) == END


@pytest.mark.parametrize("body", [b"\xff\xfe", b"no boundary at all", b"--b\r\nno blank line", b""])
def test_unreadable_multipart_is_malformed(body):
    with pytest.raises(MalformedBody):
        wire.parse_multipart(body, "multipart/form-data")


@given(st.binary(max_size=400), st.sampled_from(["multipart/form-data; boundary=x", "multipart/form-data",
                                                 "application/x-www-form-urlencoded", ""]))
@settings(max_examples=150, deadline=None)
def test_any_body_is_read_or_refused_as_malformed(body, content_type):
    try:
        fields = wire.read_fields(request(body, content_type))
    except MalformedBody:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())


@given(st.dictionaries(st.sampled_from(["event", "pbx_call_id", "call_start", "caller_id", "called_did", "internal",
                                        "destination", "duration", "disposition", "is_recorded", "call_id_with_rec",
                                        "status_code"]),
                       st.one_of(st.text(max_size=40), st.sampled_from(["NOTIFY_START", "NOTIFY_END", "NOTIFY_RECORD",
                                                                        "NOTIFY_OUT_END", "2024-01-01 12:00:00",
                                                                        "79001234567", "100", "answered", "-5"]))))
@settings(max_examples=200, deadline=None)
def test_any_fields_give_events_or_are_refused_as_malformed(fields):
    """Hostile or broken fields never raise anything but MalformedBody, and what they give is well-formed."""
    try:
        found = events.call_events(fields, MOSCOW, datetime.now(UTC))
    except MalformedBody:
        return
    for event in found:
        assert event.call_id == fields["pbx_call_id"] and event.occurred_at.tzinfo is not None
        assert event.from_number is None or event.from_number.startswith("+")
        assert event.duration is None or event.duration >= 0


# --- events ------------------------------------------------------------------------------------------------------

T = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
CLIENT, LINE = "+79001234567", "+74951112233"


def read(fields, received=None):
    return events.call_events(fields, MOSCOW, received)


def base(event, **more):
    return {"event": event, "call_start": "2024-01-01 12:00:00", "pbx_call_id": "in_ae6b", "caller_id": "79001234567",
            "called_did": "74951112233", **more}


def test_start_is_an_inbound_ringing_call_from_the_caller_to_our_line():
    [event] = read(base("NOTIFY_START"))
    assert event == CallEvent(call_id="in_ae6b", state=CallState.RINGING, direction=CallDirection.INBOUND,
                              occurred_at=T, started_at=T, from_number=CLIENT, to_number=LINE, line_number=LINE,
                              raw=base("NOTIFY_START"))
    assert events.incoming_call(base("NOTIFY_START")) == IncomingCall(call_id="in_ae6b", from_number=CLIENT,
                                                                      line_number=LINE, raw=base("NOTIFY_START"))
    assert events.incoming_call(base("NOTIFY_END")) is None


def test_internal_rings_an_extension_and_answer_is_dated_when_it_arrived():
    [ringing] = read(base("NOTIFY_INTERNAL", internal="101"), received=T + timedelta(seconds=3))
    assert (ringing.state, ringing.extension, ringing.leg_id, ringing.occurred_at) == \
        (CallState.RINGING, "101", "101", T + timedelta(seconds=3))
    answer = {**base("NOTIFY_ANSWER", internal="101", destination="74951112233")}
    del answer["called_did"]
    [answered] = read(answer, received=T + timedelta(seconds=12))
    assert (answered.state, answered.answered_at, answered.extension, answered.from_number, answered.line_number) == \
        (CallState.ANSWERED, T + timedelta(seconds=12), "101", CLIENT, LINE)
    [undated] = read(answer)  # nothing but call_start to go by
    assert undated.answered_at == T


def test_a_notification_received_far_from_its_call_start_keeps_call_start():
    [late] = read(base("NOTIFY_ANSWER", internal="101"), received=T + timedelta(hours=3))  # a zone set wrong
    assert late.answered_at == T


def test_end_answered_is_the_talk_with_its_recording():
    [ended] = read(END, received=T + timedelta(seconds=60))
    assert ended.state == CallState.ENDED and ended.duration == 42 and ended.extension == "100"
    assert ended.ended_at == T + timedelta(seconds=60) and ended.answered_at == T + timedelta(seconds=18)
    assert ended.recording == RecordingRef(ref="1704110400.123456", duration=42, content_type="audio/mpeg")


@pytest.mark.parametrize(("disposition", "reason"), [("no answer", "no answer (19)"), ("busy", "busy (19)"),
                                                      ("cancel", "cancel (19)"),
                                                      ("no money", "failed: no money (19)")])
def test_end_unanswered_is_missed_with_the_reason(disposition, reason):
    [missed] = read(base("NOTIFY_END", internal="", duration="0", disposition=disposition, status_code="19",
                         is_recorded="0", call_id_with_rec=""))
    assert (missed.state, missed.reason, missed.recording, missed.extension) == (CallState.MISSED, reason, None, None)


def test_outbound_calls_from_an_extension():
    out = {"event": "NOTIFY_OUT_START", "call_start": "2024-01-01 12:00:00", "pbx_call_id": "out_77",
           "internal": "101", "destination": "79001234567"}
    [ringing] = read(out)
    assert (ringing.direction, ringing.to_number, ringing.extension, ringing.from_number) == \
        (CallDirection.OUTBOUND, CLIENT, "101", None)
    [busy] = read({**out, "event": "NOTIFY_OUT_END", "caller_id": "74951112233", "duration": "0",
                   "disposition": "busy", "status_code": "17"})
    assert (busy.state, busy.reason, busy.line_number, busy.answered_at) == (CallState.ENDED, "busy (17)", LINE, None)
    [talk] = read({**out, "event": "NOTIFY_OUT_END", "duration": "30", "disposition": "answered"})
    assert talk.state == CallState.ENDED and talk.duration == 30 and talk.answered_at == T
    [internal] = read({**out, "destination": "102"})
    assert internal.direction == CallDirection.INTERNAL and internal.to_number is None


def test_record_brings_only_the_recording():
    [record] = read({"event": "NOTIFY_RECORD", "pbx_call_id": "in_ae6b", "call_id_with_rec": "1704110400.123456"})
    assert record.state == CallState.RINGING and record.recording.ref == "1704110400.123456"
    assert record.occurred_at == datetime(2024, 1, 1, 12, 0, tzinfo=UTC)  # the recording's Unix time


@pytest.mark.parametrize(("value", "expected"), [("79001234567", "+79001234567"), ("+442037691880", "+442037691880"),
                                                 ("100", None), ("anonymous", None), ("", None), ("0", None)])
def test_numbers(value, expected):
    assert events.number(value) == expected


@pytest.mark.parametrize("fields", [
    {"event": "NOTIFY_START", "pbx_call_id": "in_1", "call_start": "yesterday"},
    {"event": "NOTIFY_START", "call_start": "2024-01-01 12:00:00"},
    {"event": "NOTIFY_END", "pbx_call_id": "in_1", "call_start": "2024-01-01 12:00:00", "duration": "-3"},
    {"event": "NOTIFY_RECORD", "pbx_call_id": "in_1"},
    {"event": "NOTIFY_SMS", "pbx_call_id": "in_1"},
    {"event": "NOTIFY_START", "pbx_call_id": "in\n1", "call_start": "2024-01-01 12:00:00"},
])
def test_unreadable_notifications_are_malformed(fields):
    with pytest.raises(MalformedBody):
        events.check(fields)


# --- settings ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "offset"), [("UTC+3", 3), ("GMT-05:30", -5.5), ("+03:00", 3), ("UTC", 0),
                                              ("Europe/Moscow", 3)])
def test_zones(name, offset):
    assert datetime(2024, 1, 1, tzinfo=UTC).astimezone(parse_zone(name)).utcoffset() == timedelta(hours=offset)


@pytest.mark.parametrize("values", [{"timezone": "Mars/Olympus"}, {"api_url": "ftp://api.zadarma.com"},
                                    {"api_url": "https://user:pw@api.zadarma.com"}, {"return_timeout": 2},
                                    {"route_incoming": "yes"}])
def test_bad_settings_are_refused(values):
    with pytest.raises(ValueError):
        Settings(**values)


def test_novofon_is_the_same_api_at_its_own_address():
    assert Settings(api_url="https://api.novofon.com/").api_url == "https://api.novofon.com"


def test_form_encoded_signature_round_trip():
    """A notification as Zadarma posts it: the fields form-encoded, the signature over the signed ones."""
    body = urlencode(END).encode()
    fields = wire.read_fields(request(body))
    assert wire.notification_signature("SECRET456", fields) == notification_signature(END, "SECRET456")
