"""Malformed and hostile bodies at every endpoint, signed or not: a 4xx or TwiML for Twilio, never a 500."""

from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio_support import FORM, signature

PATHS = ["status", "recording", "voice", "fallback", "dial"]
NAMES = ["CallSid", "CallStatus", "ParentCallSid", "Direction", "From", "To", "SequenceNumber", "CallDuration",
         "Timestamp", "RecordingSid", "RecordingStatus", "RecordingDuration", "RecordingStartTime", "DialCallStatus",
         "DialCallSid", "DialCallDuration"]
hostile_text = st.one_of(st.text(max_size=60), st.sampled_from([
    "CA" + "0" * 32, "completed", "in-progress", "no-answer", "inbound", "outbound-dial", "+79161234567", "-1",
    "99999999999999999999", "Tue, 31 Feb 2026 99:99:99 +9999", "client:", "sip:@", "\u202e", "' OR 1=1 --",
    "<Response><Dial>+1</Dial></Response>", "RE" + "f" * 32, "x" * 300]))
params_strategy = st.dictionaries(st.sampled_from(NAMES), hostile_text, max_size=8)
query_strategy = st.sampled_from(["", "?dir=in", "?dir=out&line=%2B74951112233&client=%2B7&ref=~%21%21",
                                  "?ref=~Zm9v&dir=sideways", "?line=" + "9" * 300])

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(path=st.sampled_from(PATHS), body=st.binary(max_size=300), content_type=st.sampled_from(
    [FORM, FORM + "; charset=utf-8", "application/json", "text/plain", "multipart/form-data; boundary=x"]))
def test_unsigned_garbage_is_refused_without_a_500(app, path, body, content_type):
    answer = app.test_client().post(f"/webhooks/twilio/{path}", data=body, content_type=content_type,
                                    headers={"X-Twilio-Signature": "AAAA"})
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.data[:200])


@SETTINGS
@given(path=st.sampled_from(PATHS), params=params_strategy, query=query_strategy)
def test_signed_but_hostile_callbacks_never_make_a_500(app, path, params, query):
    """Even with the right signature (someone holding the token, or a Twilio bug), odd values are a 400 or a failed
    delivery for the administrator to see, never a 500 and never a crashed worker."""
    url = f"http://localhost/webhooks/twilio/{path}{query}"
    answer = app.test_client().post(url.removeprefix("http://localhost"), data=urlencode(params), content_type=FORM,
                                    headers={"X-Twilio-Signature": signature(url, params)})
    assert answer.status_code < 500, (answer.status_code, answer.data[:200])
    duplicate = answer.is_json and (answer.json or {}).get("status") == "duplicate"
    if path in ("voice", "fallback", "dial") and answer.status_code == 200 and not duplicate:
        # (a repeat of an inline delivery whose handler failed gets core's JSON notice, not the fallback: reported)
        assert answer.content_type.startswith("text/xml") and answer.data.startswith(b"<?xml")
