"""Twilio's callbacks through the app's real ``/webhooks/twilio/...`` endpoints, signed as Twilio signs them: whole
calls folded into one CRM call each (behind a proxy too), a missed call's call-back task, a click-to-call found by
our reference, forgeries and repeats that change nothing, the voice URL's TwiML and its fallback."""

from __future__ import annotations

import time
from datetime import timedelta

import twilio_slowroute
from sqlalchemy import func, select
from twilio_support import (
    ACCOUNT,
    CLIENT,
    LINE,
    PUBLIC,
    STRANGER,
    T0,
    TOKEN,
    client_of,
    dial_end,
    leg,
    manager,
    post,
    read_dial,
    recording,
    rows,
    sid,
    signature,
    via_proxy,
    voice,
)

from mayak import Activity, Call, CallRequest, InboxItem, Task, WebhookDelivery, db, telephony
from mayak.testing import post_form, wait_for_jobs

LOCAL = "http://localhost/webhooks/twilio"
PARENT, CHILD, OTHER, CHILD2 = sid("CA", 0xA1), sid("CA", 0xB2), sid("CA", 0xC3), sid("CA", 0xC4)
REC = sid("RE", 0xD4)


def twilio_calls(app) -> list[Call]:
    return rows(app, Call, Call.provider == "twilio")


def test_a_whole_inbound_call_behind_a_proxy_is_one_answered_call_with_the_right_facts(make_app, twilio_api):
    """nginx in front: Twilio signs https://crm.example.com/...; Mayak (MAYAK_BEHIND_PROXY) sees the forwarded
    scheme and host, answers with callbacks on the public address, and folds every leg into one call."""
    app = make_app(plugins={"twilio": {}}, config={"MAYAK_BEHIND_PROXY": True})
    olga = manager(app, "olga@example.com", "olga")
    contact_id = client_of(app, olga)
    twilio_api.recordings[REC] = b"ID3\x04" + b"\x01" * 900
    web = app.test_client()

    answer = via_proxy(web, f"{PUBLIC}/webhooks/twilio/voice", voice(PARENT, CLIENT))
    assert answer.status_code == 200 and answer.content_type.startswith("text/xml")
    dialled = read_dial(answer.data)
    assert dialled.targets == [("Client", "olga")], "the caller's own manager rings"
    assert dialled.caller_names == ["Анна"]
    status = f"{PUBLIC}/webhooks/twilio/status?dir=in&line=%2B74951112233"
    assert dialled.status_urls == [status]
    assert dialled.attrs["action"] == status.replace("/status", "/dial")

    child = dict(frm=CLIENT, to="client:olga", direction="outbound-dial", parent=PARENT)
    for params in (leg(CHILD, "initiated", 1, seq=0, **child), leg(CHILD, "ringing", 2, seq=1, **child),
                   leg(CHILD, "in-progress", 12, seq=2, **child),
                   leg(CHILD, "completed", 72, seq=3, duration=60, **child)):
        assert via_proxy(web, status, params).status_code == 202
    wait_for_jobs(app)  # the leg's callbacks (jobs) made the call before the <Dial> action (inline) comes
    hung_up = via_proxy(web, dialled.attrs["action"], dial_end(PARENT, CHILD, "completed", 60, CLIENT))
    assert hung_up.status_code == 200 and b"<Hangup />" in hung_up.data
    parent = leg(PARENT, "completed", 73, frm=CLIENT, to=LINE, direction="inbound", duration=75)
    assert via_proxy(web, f"{PUBLIC}/webhooks/twilio/status", parent).status_code == 202  # the number's own webhook
    assert via_proxy(web, dialled.attrs["recordingStatusCallback"], recording(PARENT, REC, 12, 60)).status_code == 202
    wait_for_jobs(app)

    (call,) = twilio_calls(app)
    assert (call.external_id, call.direction, call.state, call.outcome) == (PARENT, "in", "ended", "answered")
    assert (call.client_number, call.line_number, call.extension, call.user_id, call.contact_id) == (
        CLIENT, LINE, "olga", olga, contact_id)
    assert (call.started_at, call.answered_at) == (T0 + timedelta(seconds=1), T0 + timedelta(seconds=12))
    assert (call.wait_seconds, call.talk_seconds, call.reason) == (11, 60, "")
    assert call.legs[CHILD] == {"state": "answered", "extension": "olga"} and call.legs[PARENT] == {"state": "ended"}
    assert call.recording_ref["ref"] == REC and call.recording_state == "ready", call.recording_error
    assert call.callback_task_id is None
    (entry,) = rows(app, Activity, Activity.contact_id == contact_id, Activity.kind == "call")
    assert entry.data["duration"] == 60 and "missed" not in entry.data
    assert entry.data["call_id"] == call.id
    (item,) = rows(app, InboxItem, InboxItem.source == "twilio")
    assert (item.contact_id, item.phone_e164, item.state) == (contact_id, CLIENT, "ended")

    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "crm.example.com"}
    inner = post(web, f"{LOCAL}/voice", voice(OTHER, CLIENT), headers=forwarded)
    assert inner.status_code == 403, "signed for http://localhost, called as https://crm.example.com"


def test_the_public_address_setting_checks_signatures_when_a_proxy_forwards_no_headers(make_app, twilio_api):
    app = make_app(plugins={"twilio": {"public_url": PUBLIC}})
    web = app.test_client()
    answer = post(web, "http://10.0.0.5:8000/webhooks/twilio/voice", voice(PARENT, STRANGER),
                  signed_url=f"{PUBLIC}/webhooks/twilio/voice")
    assert answer.status_code == 200
    dialled = read_dial(answer.data)
    assert dialled.targets == [("Client", "reception")], "nobody's caller: the fallback rings"
    assert dialled.status_urls == [f"{PUBLIC}/webhooks/twilio/status?dir=in&line=%2B74951112233"]
    assert post(web, "http://10.0.0.5:8000/webhooks/twilio/voice", voice(OTHER, STRANGER),
                signed_url="https://elsewhere.example.com/webhooks/twilio/voice").status_code == 403


def test_an_inbound_call_nobody_answers_is_missed_with_one_call_back_task(app, twilio_api):
    web = app.test_client()
    dialled = read_dial(post(web, f"{LOCAL}/voice", voice(PARENT, STRANGER)).data)
    assert dialled.targets == [("Client", "reception")]
    status = dialled.status_urls[0]
    assert status == f"{LOCAL}/status?dir=in&line=%2B74951112233", "the address Twilio called, proven by its signature"
    child = dict(frm=STRANGER, to="client:reception", direction="outbound-dial", parent=PARENT)
    for params in (leg(CHILD, "initiated", 1, seq=0, **child), leg(CHILD, "ringing", 2, seq=1, **child),
                   leg(CHILD, "no-answer", 22, seq=2, **child)):
        assert post(web, status, params).status_code == 202
    assert b"<Hangup />" in post(web, dialled.attrs["action"], dial_end(PARENT, CHILD, "no-answer", None,
                                                                        STRANGER)).data
    post(web, f"{LOCAL}/status", leg(PARENT, "completed", 23, frm=STRANGER, to=LINE, direction="inbound",
                                     duration=23))
    wait_for_jobs(app)
    (call,) = twilio_calls(app)
    assert (call.state, call.outcome, call.client_number, call.talk_seconds) == ("missed", "missed", STRANGER, None)
    assert call.legs[CHILD]["state"] == "ringing" and call.extension == "reception"
    (task,) = rows(app, Task, Task.id == call.callback_task_id)
    assert task.status == "open" and "916" not in task.title and "555-01-01" in task.title
    (item,) = rows(app, InboxItem, InboxItem.source == "twilio")
    assert (item.status, item.proposal, item.phone_e164) == ("new", "new_lead", STRANGER)


def test_a_click_to_calls_callbacks_find_the_call_by_our_reference(app, twilio_api):
    olga = manager(app, "olga@example.com", "olga")
    contact_id = client_of(app, olga)
    with app.app_context():  # what core stores before it asks the provider to place the call
        placed = Call(provider="twilio", external_id="ref:c2c-1", reference="c2c-1", direction="out",
                      state="dialing", client_number=CLIENT, user_id=olga, contact_id=contact_id, legs={})
        db.session.add(placed)
        db.session.commit()
        placed_id = placed.id
    with app.test_request_context(base_url="http://localhost"):
        handle = telephony(key="twilio").place_call(CallRequest(to=CLIENT, extension="olga", reference="c2c-1",
                                                                user_id=olga))
    (request,) = twilio_api.calls()
    status = request.form["StatusCallback"][0]
    assert status == f"{LOCAL}/status?dir=out&line=%2B74951112233&client=%2B79161234567&ref=c2c-1"
    client_leg = read_dial(request.form["Twiml"][0]).status_urls[0]
    agent = dict(frm=LINE, to="client:olga", direction="outbound-api")
    customer = dict(frm=LINE, to=CLIENT, direction="outbound-dial", parent=handle.call_id)
    web = app.test_client()
    for url, params in ((status, leg(handle.call_id, "initiated", 0, seq=0, **agent)),
                        (status, leg(handle.call_id, "ringing", 1, seq=1, **agent)),
                        (status, leg(handle.call_id, "in-progress", 6, seq=2, **agent)),
                        (client_leg, leg(CHILD, "initiated", 7, seq=0, **customer)),
                        (client_leg, leg(CHILD, "ringing", 8, seq=1, **customer)),
                        (client_leg, leg(CHILD, "in-progress", 15, seq=2, **customer)),
                        (client_leg, leg(CHILD, "completed", 60, seq=3, duration=45, **customer)),
                        (status, leg(handle.call_id, "completed", 61, seq=3, duration=55, **agent))):
        assert post(web, url, params).status_code == 202
    wait_for_jobs(app)
    (call,) = twilio_calls(app)
    assert (call.id, call.external_id, call.reference) == (placed_id, handle.call_id, "c2c-1")
    assert (call.direction, call.state, call.outcome, call.talk_seconds, call.wait_seconds) == (
        "out", "ended", "answered", 45, 15)
    assert (call.extension, call.user_id, call.client_number, call.line_number) == ("olga", olga, CLIENT, LINE)
    assert rows(app, InboxItem) == [], "our own call is no incoming work"

    # another click-to-call: the client's line is busy
    busy = f"{LOCAL}/status?dir=out&line=%2B74951112233&client=%2B79161234567&ref=c2c-2"
    customer = dict(frm=LINE, to=CLIENT, direction="outbound-dial", parent=OTHER)
    for params in (leg(OTHER, "in-progress", 103, seq=2, **agent), leg(CHILD2, "busy", 109, seq=2, **customer),
                   leg(OTHER, "completed", 110, seq=3, duration=7, **agent)):
        assert post(web, busy, params).status_code == 202
    wait_for_jobs(app)
    (second,) = rows(app, Call, Call.external_id == OTHER)
    assert (second.direction, second.outcome, second.reason, second.callback_task_id) == ("out", "busy", "busy", None)


def test_a_forged_or_tampered_callback_is_refused_and_changes_nothing(app, twilio_api):
    web = app.test_client()
    params = leg(PARENT, "completed", 30, frm=STRANGER, to=LINE, direction="inbound", duration=30)
    assert post(web, f"{LOCAL}/status", params, token="someone-elses-token").status_code == 403
    assert post(web, f"{LOCAL}/status", params, signed_url=f"{LOCAL}/recording").status_code == 403
    tampered = web.post("/webhooks/twilio/status", data={**params, "CallDuration": "3000"},
                        headers={"X-Twilio-Signature": signature(f"{LOCAL}/status", params)})
    assert tampered.status_code == 403
    assert web.post("/webhooks/twilio/status", data=params).status_code == 403, "no signature at all"
    assert post(web, f"{LOCAL}/voice", voice(PARENT, STRANGER), token="x" * 32).status_code == 403
    wait_for_jobs(app)
    assert twilio_calls(app) == [] and rows(app, Task) == []
    refused = rows(app, WebhookDelivery, WebhookDelivery.plugin == "twilio")
    assert len(refused) == 5 and {r.status for r in refused} == {"refused"}
    assert post(web, f"{LOCAL}/status", params).status_code == 202, "the real one still gets through"


def test_a_repeated_or_replayed_callback_changes_nothing(app, admin_client, twilio_api):
    web = app.test_client()
    calls = [leg(PARENT, "ringing", 0, frm=CLIENT, to=LINE, direction="inbound"),
             leg(PARENT, "completed", 40, frm=CLIENT, to=LINE, direction="inbound", duration=40)]
    for params in calls:
        assert post(web, f"{LOCAL}/status", params).status_code == 202
    wait_for_jobs(app)

    def facts() -> list[tuple]:
        with app.app_context():
            return [(c.state, c.outcome, c.ended_at, c.callback_task_id, c.legs)
                    for c in db.session.scalars(select(Call))] + [
                db.session.scalar(select(func.count()).select_from(Task)),
                db.session.scalar(select(func.count()).select_from(InboxItem))]

    once = facts()
    repeat = post(web, f"{LOCAL}/status", calls[1])
    assert repeat.status_code == 200 and repeat.json["status"] == "duplicate"
    (delivery,) = rows(app, WebhookDelivery, WebhookDelivery.external_id == f"{PARENT}:completed")
    assert post_form(admin_client, f"/admin/webhooks/{delivery.id}/replay").status_code in (302, 303)
    wait_for_jobs(app)
    (delivery,) = rows(app, WebhookDelivery, WebhookDelivery.id == delivery.id)
    assert delivery.status == "processed" and delivery.attempts == 2
    assert facts() == once


def test_a_slow_crm_sends_the_caller_to_the_fallback_which_rings_without_asking_it(make_app, twilio_api):
    app = make_app(plugins={"twilio": {}}, extra_plugins=[("slowroute", twilio_slowroute)])
    web = app.test_client()
    started = time.monotonic()
    answer = post(web, f"{LOCAL}/voice", voice(PARENT, CLIENT))
    assert time.monotonic() - started < 1.75 and answer.status_code == 200
    assert b"<Redirect method=\"POST\">fallback</Redirect>" in answer.data
    fallback = post(web, f"{LOCAL}/fallback", voice(PARENT, CLIENT))  # Twilio follows the relative redirect
    assert read_dial(fallback.data).targets == [("Client", "reception")]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the slow answer still finishes, and is recorded as late
        (late,) = rows(app, WebhookDelivery, WebhookDelivery.external_id == f"voice:{PARENT}")
        if late.status != "running":
            break
        time.sleep(0.05)
    assert late.status == "processed" and "deadline" in (late.error or "")


def test_the_endpoints_take_only_twilios_form_posts_and_the_admin_page_keeps_the_token_secret(app, admin_client):
    web = app.test_client()
    for path in ("status", "recording", "voice", "fallback", "dial"):
        assert web.get(f"/webhooks/twilio/{path}").status_code == 405
        assert web.post(f"/webhooks/twilio/{path}", json={"CallSid": PARENT}).status_code == 415
        too_big = web.post(f"/webhooks/twilio/{path}", data=b"a=" + b"x" * (300 * 1024),
                           content_type="application/x-www-form-urlencoded")
        assert too_big.status_code == 413
    assert rows(app, WebhookDelivery) == [] and twilio_calls(app) == []
    page = admin_client.get("/admin/plugins/twilio")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Account SID" in text and ACCOUNT in text and TOKEN not in text
