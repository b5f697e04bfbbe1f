"""The plugin against a loopback server speaking Zadarma's REST API (``zadarma_fake``): click-to-call, recordings,
extensions and the connection check, signed requests only, and Zadarma's refusals in the user's language."""

from __future__ import annotations

import json

import pytest
from flask_babel import force_locale

from mayak import (
    BAD_CREDENTIALS,
    BAD_NUMBER,
    NO_MONEY,
    UNAVAILABLE,
    CallRequest,
    Extension,
    IncomingCall,
    ProviderError,
    RecordingRef,
    RouteAnswer,
    db,
    enqueue,
    telephony,
)
from mayak.testing import post_form, sign_in, wait_for_jobs
from plugins.zadarma.tests import support
from plugins.zadarma.tests.support import CLIENT, notification, post_all
from plugins.zadarma.tests.zadarma_fake import KEY

AUDIO = b"ID3\x03\x00\x00\x00" + b"\xff\xfb" * 512  # an MP3's first bytes are enough for the CRM


def provider(app):
    with app.app_context():
        return telephony(key="zadarma")


def test_click_to_call_rings_the_extension_then_the_client(zadarma_app, zadarma):
    with zadarma_app.app_context():
        handle = telephony(key="zadarma").place_call(CallRequest(to=CLIENT, extension="101", reference="r-1"))
    assert (handle.provider, handle.call_id, handle.reference) == ("zadarma", None, "r-1")
    [(path, params, authorised)] = zadarma.requests
    assert path == "/v1/request/callback/" and authorised
    assert params == {"from": "101", "to": "79001234567", "sip": "101", "format": "json"}


def test_click_to_call_from_the_crm_is_one_call_with_zadarmas_notifications(zadarma_app, zadarma, admin):
    owner = support.manager(zadarma_app)
    contact = support.client_of(zadarma_app, owner)
    browser = zadarma_app.test_client()
    sign_in(browser, "olga.m@example.com")
    answer = post_form(browser, "/calls/dial", {"number": CLIENT, "contact_id": contact})  # the card's call button
    assert answer.status_code == 200, answer.get_data(as_text=True)
    [(path, params, authorised)] = zadarma.requests
    assert (path, params["from"], params["to"], authorised) == ("/v1/request/callback/", "101", "79001234567", True)
    [dialled] = support.calls(zadarma_app)
    call_id = dialled.id
    # Zadarma echoes no reference: its notifications are matched by the number dialled, moments ago
    out = "out_5b2f0d"
    post_all(zadarma_app.test_client(), [
        notification("NOTIFY_OUT_START", out),
        notification("NOTIFY_OUT_END", out, caller_id=support.LINE_RAW, duration="64", disposition="answered",
                     status_code="16", is_recorded="0")])
    [call] = support.calls(zadarma_app)
    assert (call.id, call.external_id, call.outcome, call.talk_seconds, call.user_id, call.contact_id) == \
        (call_id, out, "answered", 64, owner, contact)


@pytest.mark.parametrize(("status", "words", "message", "retry"), [
    (400, "Not enough money on the balance", NO_MONEY, False),
    (400, "Wrong number 'to'", BAD_NUMBER, False),
    (429, "Too many requests", UNAVAILABLE, True),
    (500, "Internal error", UNAVAILABLE, True),
])
def test_zadarmas_refusals_are_said_in_the_users_words_with_its_own(zadarma_app, zadarma, status, words, message,
                                                                    retry):
    zadarma.callback_error = (status, words)
    with zadarma_app.test_request_context(), pytest.raises(ProviderError) as caught:
        telephony(key="zadarma").place_call(CallRequest(to=CLIENT, extension="101"))
    assert caught.value.message == message and caught.value.provider_message == words
    assert caught.value.retry is retry and caught.value.code == str(status)


def test_a_refusal_reads_in_russian(zadarma_app, zadarma):
    zadarma.callback_error = (400, "Not enough money on the balance")
    with zadarma_app.test_request_context(), force_locale("ru"):
        with pytest.raises(ProviderError) as caught:
            telephony(key="zadarma").place_call(CallRequest(to=CLIENT, extension="101"))
        shown = str(caught.value)
    assert "пополните" in shown and "Not enough money" in shown


def test_without_an_extension_nothing_is_asked(zadarma_app, zadarma):
    with zadarma_app.test_request_context(), force_locale("ru"):
        with pytest.raises(ProviderError) as caught:
            telephony(key="zadarma").place_call(CallRequest(to=CLIENT))
        shown = str(caught.value)
    assert caught.value.code == "no_extension" and "внутренний номер" in shown
    assert zadarma.requests == []


def test_a_number_zadarma_cannot_dial_is_refused_before_asking(zadarma_app, zadarma):
    with zadarma_app.test_request_context(), pytest.raises(ProviderError) as caught:
        telephony(key="zadarma").place_call(CallRequest(to="12", extension="101"))
    assert caught.value.message == BAD_NUMBER and zadarma.requests == []


def test_a_wrong_secret_is_refused_by_zadarma(app, make_app, zadarma):
    wrong = make_app(plugins={"zadarma": {"api_url": zadarma.url}}, MAYAK_FETCH_ALLOW="127.0.0.1",
                     ZADARMA_TEST_API_SECRET="not-the-secret")
    with wrong.test_request_context(), pytest.raises(ProviderError) as caught:
        telephony(key="zadarma").check_connection()
    assert caught.value.message == BAD_CREDENTIALS and caught.value.provider_message == "Not authorized"
    assert [authorised for _, _, authorised in zadarma.requests] == [False]


def test_a_recording_is_fetched_through_its_short_lived_link(zadarma_app, zadarma):
    pbx = provider(zadarma_app)
    with zadarma_app.app_context(), pytest.raises(ProviderError) as caught:
        pbx.fetch_recording(RecordingRef(ref="1704110400.123456"))
    assert caught.value.retry, "not stored yet: the core tries again later"
    zadarma.recordings["1704110400.123456"] = AUDIO
    with zadarma_app.app_context():
        assert pbx.fetch_recording(RecordingRef(ref="1704110400.123456")) == AUDIO
    asked = [(p, q.get("call_id"), q.get("lifetime"), ok) for p, q, ok in zadarma.requests]
    assert asked == [("/v1/pbx/record/request/", "1704110400.123456", "180", True)] * 2


def test_a_link_to_another_site_is_not_followed(zadarma_app, zadarma, monkeypatch):
    zadarma.recordings["r"] = AUDIO
    monkeypatch.setattr(zadarma, "url", "http://198.51.100.7")  # the link the fake gives now points elsewhere
    with zadarma_app.app_context(), pytest.raises(ProviderError) as caught:
        provider(zadarma_app).fetch_recording(RecordingRef(ref="r"))
    assert caught.value.code == "link" and zadarma.downloads == 0


def test_a_recorded_call_ends_with_its_audio_beside_the_call(zadarma_app, zadarma, admin):
    support.client_of(zadarma_app, support.manager(zadarma_app))
    post_all(zadarma_app.test_client(), support.inbound_call(recording="1704110400.777"))
    wait_for_jobs(zadarma_app)
    [call] = support.calls(zadarma_app)
    assert (call.recording_state, call.recording_attempts) == ("pending", 1)  # Zadarma was not done yet
    assert "Record not found" in call.recording_error
    zadarma.recordings["1704110400.777"] = AUDIO
    with zadarma_app.app_context():  # the core's next try, without waiting for its pause to pass
        enqueue("core.fetch_recording", call_id=call.id)
        db.session.commit()
    wait_for_jobs(zadarma_app)
    [call] = support.calls(zadarma_app)
    assert call.recording_state == "ready" and call.recording_ref["size"] == len(AUDIO)
    assert support.rows(zadarma_app, "attachment", id=call.recording_attachment_id)


def test_extensions_are_listed_with_their_names(zadarma_app, zadarma):
    with zadarma_app.app_context():
        found = telephony(key="zadarma").list_extensions()
    assert found == [Extension(number="100", name="Reception"), Extension(number="101", name="Olga")]
    assert all(ok for _, _, ok in zadarma.requests)


def test_check_connection_shows_the_balance(zadarma_app, zadarma):
    with zadarma_app.test_request_context():
        status = telephony(key="zadarma").check_connection()
    assert status.ok and "10.34 USD" in status.detail
    assert KEY not in status.detail


def test_check_connection_warns_of_a_time_zone_unlike_the_cabinets(app, make_app, zadarma):
    elsewhere = make_app(plugins={"zadarma": {"api_url": zadarma.url, "timezone": "UTC+5"}},
                         MAYAK_FETCH_ALLOW="127.0.0.1")
    with elsewhere.test_request_context():
        status = telephony(key="zadarma").check_connection()
    assert not status.ok and "UTC+3" in status.detail and "UTC+5" in status.detail


def test_routing_answers_in_zadarmas_words(app, admin):
    owner = support.manager(app, extension="107")
    pbx = provider(app)
    call = IncomingCall(call_id="in_1", from_number=CLIENT)
    with app.app_context():
        by_user = pbx.route_reply(call, RouteAnswer(user_ids=(owner,), caller_name="  ООО «Ромашка»:\n Анна "))
        assert json.loads(by_user.body) == {"redirect": "107", "return_timeout": 20,
                                            "caller_name": "ООО «Ромашка»: Анна"}
        assert json.loads(pbx.route_reply(call, RouteAnswer(hangup=True)).body) == {"hangup": 1}
        assert pbx.route_reply(call, RouteAnswer(extensions=("not-an-extension",))).body == b""
        assert pbx.route_reply(call, None).body == b""
