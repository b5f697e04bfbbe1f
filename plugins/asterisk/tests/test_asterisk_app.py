"""The plugin inside Mayak: the AMI stream folded into the right calls (answered with the Cdr's talk time and its
recording brought in, missed → a call-back task, a colleague's call → no lead), our click-to-call found by its
reference, the dialplan's routing lookup, recordings over HTTP, the settings page and "Check connection".

Only the public API is imported (``mayak``, ``mayak.testing``), as in the plugin; what it does not export — the
call, attachment and webhook delivery rows — is read as tables, the way a report would."""

from __future__ import annotations

import threading
import time

import pytest
from asterisk_fake import TOKEN, FakeAmi
from asterisk_streams import (
    CLIENT,
    CLIENT_RAW,
    DIALLED,
    INBOUND_ANSWERED,
    INBOUND_MISSED,
    INTERNAL,
    LINE,
    LINE_RAW,
    RECORDING,
    originated,
)
from asterisk_support import (
    ATTACHMENT,
    AUDIO,
    DELIVERY,
    calls,
    client_of,
    deliver_into,
    listen_once,
    manager,
    recordings_server,
)
from flask import Flask
from sqlalchemy import func, select

from mayak import (
    BAD_CREDENTIALS,
    InboxItem,
    ProviderError,
    RecordingRef,
    Task,
    db,
    enqueue,
    force_locale,
    telephony,
)
from mayak.testing import post_form, sign_in, wait_for_jobs
from plugins.asterisk.provider import NO_EXTENSION
from plugins.asterisk.settings_form import AsteriskForm


def test_the_event_stream_becomes_the_right_calls(app, admin, make_app, ami: FakeAmi):
    with recordings_server() as (url, fetched):
        pbx_app = make_app(plugins={"asterisk": {"port": ami.port, "recordings_url": url}},
                           MAYAK_FETCH_ALLOW="127.0.0.1")
        owner = manager(pbx_app)
        colleague = manager(pbx_app, "petr@example.com", "102")
        contact = client_of(pbx_app, owner)
        ami.on_login = INBOUND_ANSWERED + INTERNAL
        events = listen_once(pbx_app)
        ami.on_login = INBOUND_MISSED
        listen_once(pbx_app)
        with pbx_app.app_context():  # the scheduled sweep, for a recording whose first try was missed
            enqueue("core.recordings")
            db.session.commit()
        wait_for_jobs(pbx_app)
    with pbx_app.app_context():
        found = calls()
        assert set(found) == {"1764500000.41", "1764500000.51", "1764500000.61"}
        talked = found["1764500000.41"]
        assert (talked.direction, talked.state, talked.outcome) == ("in", "ended", "answered")
        assert (talked.client_number, talked.line_number, talked.extension, talked.user_id) == (CLIENT, LINE, "101",
                                                                                                 owner)
        assert (talked.wait_seconds, talked.talk_seconds, talked.contact_id) == (12, 60, contact)
        assert talked.callback_task_id is None
        assert talked.recording_state == "ready", talked.recording_error
        assert db.session.execute(select(ATTACHMENT.c.size).where(ATTACHMENT.c.id == talked.recording_attachment_id)
                                  ).scalar() == len(AUDIO)
        assert fetched == [(f"/monitor/{RECORDING}", None)]
        missed = found["1764500000.51"]
        assert (missed.direction, missed.state, missed.outcome, missed.extension) == ("in", "missed", "missed", "101")
        task = db.session.get(Task, missed.callback_task_id)
        assert (task.owner_id, task.contact_id, task.status) == (owner, contact, "open")
        internal = found["1764500000.61"]
        assert (internal.direction, internal.outcome, internal.talk_seconds) == ("internal", "answered", 30)
        assert (internal.client_number, internal.user_id, internal.inbox_item_id) == (None, owner, None)
        assert internal.callback_task_id is None
        items = list(db.session.scalars(select(InboxItem)))
        assert {i.id for i in items} == {talked.inbox_item_id, missed.inbox_item_id}, "a colleague is no lead"
        assert db.session.scalar(select(func.count()).select_from(Task)) == 1
        assert colleague != owner
    with pbx_app.app_context():  # the same events again (a replayed batch): nothing changes
        deliver_into(pbx_app)(events)
        assert calls() == found
        assert db.session.scalar(select(func.count()).select_from(Task)) == 1


def test_our_click_to_call_is_found_by_its_reference(app, admin, make_app, ami: FakeAmi):
    pbx_app = make_app(plugins={"asterisk": {"port": ami.port}}, MAYAK_FETCH_ALLOW="127.0.0.1")
    owner = manager(pbx_app)
    contact = client_of(pbx_app, owner, phone=DIALLED)
    ami.originate = originated
    ami.close_after_stream = False
    stopping = threading.Event()
    deliver = deliver_into(pbx_app)

    def listen() -> None:
        with pbx_app.app_context():
            telephony(key="asterisk").listen(deliver, stopping)

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    try:
        assert ami.logged_in.wait(3)
        browser = pbx_app.test_client()
        sign_in(browser, "olga@example.com")
        pressed = post_form(browser, "/calls/dial", {"number": DIALLED, "contact_id": str(contact)})
        assert pressed.status_code == 200, pressed.get_data(as_text=True)[:300]
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            with pbx_app.app_context():
                if [row.talk_seconds for row in calls().values()] == [95]:
                    break
            time.sleep(0.1)
    finally:
        stopping.set()
        listener.join(3)
    (sent,) = ami.named("Originate")
    with pbx_app.app_context():
        (call,) = calls().values()
        assert call.external_id == "1764500000.71", "one call: the button's, named by the PBX's Linkedid"
        assert ("ActionID", f"mayak-{call.reference}") in sent and ("Variable", f"MAYAK_REF={call.reference}") in sent
        assert (call.direction, call.outcome, call.talk_seconds, call.extension) == ("out", "answered", 95, "101")
        assert (call.user_id, call.contact_id, call.client_number) == (owner, contact, DIALLED)


# -- the routing lookup ------------------------------------------------------------------------------------------


def lookup(app: Flask, **query: str) -> tuple[int, str, str]:
    response = app.test_client().get("/webhooks/asterisk/route", query_string=query,
                                     headers={k: v for k, v in (("X-Mayak-Token", query.pop("header", "")),) if v})
    return response.status_code, response.get_data(as_text=True), response.content_type


def test_the_dialplan_learns_the_callers_manager(app, admin):
    owner = manager(app, extension="105")
    client_of(app, owner)
    assert lookup(app, caller=CLIENT_RAW, did=LINE_RAW, token=TOKEN) == (200, "105", "text/plain; charset=utf-8")
    assert lookup(app, caller="8" + CLIENT_RAW[1:], header=TOKEN)[:2] == (200, "105"), "the header carries it too"
    assert lookup(app, caller="79990000001", did=LINE_RAW, token=TOKEN)[:2] == (200, ""), "unknown: the PBX decides"
    assert lookup(app, caller="", did=LINE_RAW, token=TOKEN)[:2] == (200, ""), "a hidden number"
    with app.app_context():
        stored = db.session.execute(select(DELIVERY).where(DELIVERY.c.plugin == "asterisk")).all()
        assert len(stored) == 4 and all("token" not in row.query for row in stored), "the token is never stored"
        assert all("x-mayak-token" not in row.headers for row in stored)


def test_the_lookup_refuses_a_wrong_token(app, admin):
    owner = manager(app, extension="105")
    client_of(app, owner)
    for token in ("", "wrong-token-0123456789abcdef", TOKEN[:-1], TOKEN + "x"):
        status, body, _ = lookup(app, caller=CLIENT_RAW, did=LINE_RAW, **({"token": token} if token else {}))
        assert status == 403 and "105" not in body, token
    with app.app_context():
        refused = db.session.execute(select(DELIVERY).where(DELIVERY.c.plugin == "asterisk")).all()
        assert [row.status for row in refused] == ["refused"] * 4, "refusals are kept for the administrator"


# -- recordings ------------------------------------------------------------------------------------------------


def test_recordings_over_http_say_when_to_try_again(app, make_app):
    with recordings_server() as (url, seen):
        pbx_app = make_app(plugins={"asterisk": {"recordings_url": url, "recordings_user": "crm"}},
                           MAYAK_FETCH_ALLOW="127.0.0.1")
        with pbx_app.app_context():
            provider = telephony(key="asterisk")
            assert provider.fetch_recording(RecordingRef(ref=RECORDING)) == AUDIO
            with pytest.raises(ProviderError) as not_yet:
                provider.fetch_recording(RecordingRef(ref="2026/11/21/in-2.wav"))
            assert not_yet.value.retry and not_yet.value.provider_message == "HTTP 404"
            with pytest.raises(ProviderError) as forbidden:
                provider.fetch_recording(RecordingRef(ref="forbidden.wav"))
            assert forbidden.value.message is BAD_CREDENTIALS and not forbidden.value.retry
            with pytest.raises(ProviderError) as outside:
                provider.fetch_recording(RecordingRef(ref="../../etc/passwd.wav"))
            assert not outside.value.retry
    assert [path for path, _ in seen] == [f"/monitor/{RECORDING}", "/monitor/2026/11/21/in-2.wav",
                                          "/monitor/forbidden.wav"], "a path leaving the folder is never asked for"
    assert seen[0][1] == "Basic Y3JtOg==", "HTTP basic credentials when a user is set"


# -- administration ------------------------------------------------------------------------------------------------


def test_the_settings_page_saves_checks_and_keeps_secrets(app, admin, make_app, ami: FakeAmi):
    pbx_app = make_app(plugins={"asterisk": {"port": ami.port}}, MAYAK_FETCH_ALLOW="127.0.0.1")
    browser = pbx_app.test_client()
    sign_in(browser, admin.email)
    page = browser.get("/admin/plugins/asterisk").get_data(as_text=True)
    assert "PJSIP/{extension}" in page and "from-internal" in page
    assert "ami-secret" not in page and TOKEN not in page, "secrets are never shown"
    fields = {"host": "127.0.0.1", "port": str(ami.port), "username": "mayak", "context": "crm-out",
              "channel": "PJSIP/{extension}", "internal_pattern": r"\d{3}", "dial_format": "national",
              "dial_prefix": "", "recordings_url": "", "recordings_user": "", "recordings_dir": ""}
    refused = post_form(browser, "/admin/plugins/asterisk", {**fields, "internal_pattern": "(unclosed"})
    assert refused.status_code == 422
    saved = post_form(browser, "/admin/plugins/asterisk", fields)
    assert saved.status_code == 302
    with pbx_app.app_context():
        conf = telephony(key="asterisk").settings
        assert (conf.context, conf.internal_pattern, conf.dial_format) == ("crm-out", r"\d{3}", "national")
        assert conf.secret == "ami-secret-0123456789", "an empty secret field keeps the saved secret"
    checked = post_form(browser, "/admin/plugins/asterisk/check").get_data(as_text=True)
    assert "7.0.3" in checked and "127.0.0.1" in checked
    assert ami.named("Ping"), "Check connection logs in and pings the manager interface"


def test_messages_read_in_russian(migrated_app):
    with migrated_app.app_context(), force_locale("ru"):
        assert str(NO_EXTENSION).startswith("Внутренний номер менеджера")
        assert str(AsteriskForm.routing_token.args[0]) == "Токен запроса маршрутизации"
