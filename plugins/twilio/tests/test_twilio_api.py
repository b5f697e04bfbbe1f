"""Twilio's REST API as the provider speaks it, against a loopback server answering as Twilio documents: Basic auth,
click-to-call through ``Calls.json`` with our reference in the callback address, Twilio's refusals in the user's
words, recordings that are not ready yet, and the account behind *Check connection*."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from flask_babel import force_locale
from twilio_support import ACCOUNT, CLIENT, LINE, TOKEN, read_dial, sid

from mayak import (
    BAD_CREDENTIALS,
    BAD_NUMBER,
    NO_MONEY,
    UNAVAILABLE,
    CallRequest,
    ProviderError,
    RecordingRef,
    telephony,
)
from plugins.twilio.api import RECORDING_NOT_READY
from plugins.twilio.provider import NO_EXTENSION


def place(app, **request):
    with app.test_request_context(base_url="https://crm.example.com"):
        return telephony(key="twilio").place_call(CallRequest(**{"to": CLIENT, "extension": "olga",
                                                                 "reference": "ref-42", **request}))


def test_click_to_call_rings_the_manager_then_dials_the_client_with_our_reference(app, twilio_api):
    handle = place(app)
    (seen,) = twilio_api.calls()
    assert seen.method == "POST" and seen.path == f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
    assert seen.authorization.startswith("Basic ") and twilio_api._authorised(seen.authorization)
    form = {k: v if k == "StatusCallbackEvent" else v[0] for k, v in seen.form.items()}
    assert (form["To"], form["From"], form["Timeout"]) == ("client:olga", LINE, "20")
    assert form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    status = "https://crm.example.com/webhooks/twilio/status?dir=out&line=%2B74951112233&client=%2B79161234567" \
             "&ref=ref-42"
    assert form["StatusCallback"] == status and form["StatusCallbackMethod"] == "POST"
    dialled = read_dial(form["Twiml"])
    assert dialled.targets == [("Number", CLIENT)] and dialled.status_urls == [status]
    assert dialled.attrs["callerId"] == LINE and dialled.attrs["record"] == "record-from-answer-dual"
    assert dialled.attrs["recordingStatusCallback"] == status.replace("/status", "/recording")
    assert "action" not in dialled.attrs, "the REST call's own status callback reports the end"
    assert (handle.provider, handle.reference) == ("twilio", "ref-42")
    assert handle.call_id.startswith("CA") and handle.raw["to"] == "client:olga"
    assert parse_qs(urlsplit(status).query)["ref"] == ["ref-42"]
    place(app, to="olga2", reference="ref-43")  # a colleague's extension: an internal call through Twilio
    assert read_dial(twilio_api.calls()[-1].form["Twiml"][0]).targets == [("Client", "olga2")]


def test_twilios_refusals_reach_the_user_in_their_language_with_twilios_words(app, make_app, twilio_api):
    with pytest.raises(ProviderError) as bad:
        place(app, to="+7abc")
    assert bad.value.message == BAD_NUMBER and twilio_api.calls() == [], "checked before Twilio is asked"
    with pytest.raises(ProviderError) as bad:
        place(app, extension="sip:broken")
    assert bad.value.message == NO_EXTENSION
    with app.test_request_context(), force_locale("ru"):
        assert str(bad.value).startswith("Twilio не может вызвать этот внутренний номер"), str(bad.value)
    with pytest.raises(ProviderError) as bad:
        place(app, extension="olga!")
    assert (bad.value.message, bad.value.code) == (BAD_NUMBER, "21211")
    assert bad.value.provider_message == "21211: Invalid 'To' Phone Number: client:olga!"
    with app.test_request_context(), force_locale("ru"):
        assert str(bad.value) == ("Провайдер не может связаться с этим номером; проверьте его. (ответ провайдера: "
                                  "21211: Invalid 'To' Phone Number: client:olga!)")
    twilio_api.refuse_with = (401, {"code": 20005, "message": "Account not active", "status": 401})
    with pytest.raises(ProviderError) as broke:
        place(app)
    assert (broke.value.message, broke.value.code, broke.value.retry) == (NO_MONEY, "20005", False)
    twilio_api.refuse_with = (429, {"code": 20429, "message": "Too Many Requests", "status": 429})
    with pytest.raises(ProviderError) as busy:
        place(app)
    assert (busy.value.message, busy.value.retry) == (UNAVAILABLE, True)
    wrong = make_app(plugins={"twilio": {}}, TWILIO_AUTH_TOKEN="not-the-token")
    with pytest.raises(ProviderError) as refused:
        place(wrong)
    assert (refused.value.message, refused.value.code) == (BAD_CREDENTIALS, "20003")
    assert refused.value.provider_message == "20003: Authenticate"
    with wrong.app_context(), pytest.raises(ProviderError):
        telephony(key="twilio").check_connection()
    assert "not-the-token" not in str(refused.value) and TOKEN not in str(refused.value)


def test_a_recording_is_fetched_once_twilio_has_processed_it_and_the_account_is_checked(app, twilio_api):
    rec = RecordingRef(ref=sid("RE", 7), url="https://evil.example.com/steal", duration=30)
    twilio_api.recordings[rec.ref] = None  # processing
    with app.app_context():
        with pytest.raises(ProviderError) as waiting:
            telephony(key="twilio").fetch_recording(rec)
        assert (waiting.value.message, waiting.value.retry) == (RECORDING_NOT_READY, True)
        twilio_api.recordings[rec.ref] = b"ID3\x04" + b"\x00" * 500
        assert telephony(key="twilio").fetch_recording(rec) == b"ID3\x04" + b"\x00" * 500
        with pytest.raises(ProviderError):
            telephony(key="twilio").fetch_recording(RecordingRef(ref="../Calls"))
    paths = [s.path for s in twilio_api.seen]
    assert paths == [f"/2010-04-01/Accounts/{ACCOUNT}/Recordings/{rec.ref}.mp3"] * 2, \
        "always our account's recording resource, never the address a callback named"
    with app.test_request_context():
        assert telephony(key="twilio").check_connection().ok
        twilio_api.account_status = "suspended"
        health = telephony(key="twilio").check_connection()
        assert not health.ok and "suspended" in health.detail and TOKEN not in health.detail
