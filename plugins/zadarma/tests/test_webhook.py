"""Zadarma's notifications posted through the app's real ``/webhooks/zadarma/calls`` endpoint, signed as Zadarma
signs them: whole calls end as the CRM's calls, forgeries and repeats change nothing, NOTIFY_START is answered with
whom to ring, and no body, however hostile, gets a 500."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from mayak import Activity, db
from mayak.testing import post_form, wait_for_jobs
from plugins.zadarma.tests import support
from plugins.zadarma.tests.support import CLIENT, LINE, URL, notification, post, post_all
from plugins.zadarma.tests.zadarma_fake import notification_signature


def test_the_address_check_is_answered_with_its_echo(client):
    answer = client.get(f"{URL}?zd_echo=5f0c8a2b9d")
    assert answer.status_code == 200 and answer.get_data(as_text=True) == "5f0c8a2b9d"
    assert answer.mimetype == "text/plain"
    assert client.get(URL).status_code == 403  # a GET that is not the check
    assert client.get(f"{URL}?zd_echo=%3Cscript%3E").status_code == 403  # nothing but an echo is echoed


def test_a_whole_inbound_call_is_one_answered_call_of_the_clients_manager(app, client, admin):
    owner = support.manager(app)
    contact = support.client_of(app, owner)
    answers = post_all(client, support.inbound_call())
    assert json.loads(answers[0].data)["redirect"] == "101"  # NOTIFY_START: the owner's extension rings first
    [call] = support.calls(app)
    assert (call.provider, call.external_id, call.direction, call.state, call.outcome) == \
        ("zadarma", "in_ae6b03b3b0765d127ec0b739", "in", "ended", "answered")
    assert (call.client_number, call.line_number, call.extension, call.user_id, call.contact_id) == \
        (CLIENT, LINE, "101", owner, contact)
    assert call.talk_seconds == 42 and 0 <= call.wait_seconds < 60
    assert call.started_at <= call.answered_at < call.ended_at
    assert call.recording_ref["ref"] == "1704110400.123456" and call.recording_state == "pending"
    assert call.callback_task_id is None and support.tasks(app) == []
    with app.app_context():
        [entry] = db.session.scalars(select(Activity).where(Activity.kind == "call"))
        assert entry.contact_id == contact and entry.data["duration"] == 42
    assert {d.status for d in support.deliveries(app)} == {"processed"}


def test_a_missed_call_sets_the_call_back_task(app, client, admin):
    owner = support.manager(app)
    support.client_of(app, owner)
    post_all(client, support.missed_call())
    [call] = support.calls(app)
    assert (call.state, call.outcome, call.reason) == ("missed", "missed", "no answer (19)")
    [task] = support.tasks(app)
    assert task.id == call.callback_task_id and task.status == "open" and task.owner_id == owner
    assert "Звонкова" in task.title


def test_an_unknown_callers_missed_call_is_a_lead_with_its_call_back_task(app, client, admin):
    post_all(client, support.missed_call())
    [call] = support.calls(app)
    assert call.outcome == "missed" and call.contact_id is None and call.inbox_item_id is not None
    assert [t.id for t in support.tasks(app)] == [call.callback_task_id]


def test_a_forged_or_missing_signature_is_refused_and_changes_nothing(app, client, admin):
    before = support.counts(app)
    for fields in support.inbound_call():
        assert post(client, fields, secret="not-the-secret").status_code == 403
        assert post(client, fields, signed=False).status_code == 403
    # the signed fields kept, an unsigned one changed: Zadarma signs only some fields, and those still bind
    start = support.notification("NOTIFY_START")
    forged = {**start, "caller_id": "79990000000"}
    assert client.post(URL, data=forged, headers={"Signature": notification_signature(start)}).status_code == 403
    assert support.counts(app) == before
    assert {d.status for d in support.deliveries(app)} == {"refused"}
    post_all(client, support.inbound_call())  # refusals never block the real notifications
    assert len(support.calls(app)) == 1


def test_a_repeated_notification_and_a_replay_change_nothing(app, client, admin_client):
    support.client_of(app, support.manager(app))
    deliveries = support.inbound_call()
    first = post_all(client, deliveries)
    once, stored = support.counts(app), len(support.deliveries(app))
    again = post_all(client, deliveries)
    assert [a.data for a in again] == [a.data for a in first]  # a repeat gets the first answer (the routing, too)
    assert len(support.deliveries(app)) == stored  # and is not even stored again
    assert support.counts(app) == once
    # an administrator replays every delivery (Administration → Webhooks): the handlers run again, change nothing
    for row in support.deliveries(app):
        assert post_form(admin_client, f"/admin/webhooks/{row.id}/replay").status_code in (302, 303)
    wait_for_jobs(app)
    assert {d.status for d in support.deliveries(app)} == {"processed"}
    assert support.counts(app) == once
    [call] = support.calls(app)
    assert (call.outcome, call.talk_seconds) == ("answered", 42)


def test_notify_start_rings_the_owner_and_names_the_caller(app, client, admin):
    support.client_of(app, support.manager(app, extension="105"))
    answer = post(client, notification("NOTIFY_START"))
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    body = json.loads(answer.data)
    assert body["redirect"] == "105" and body["return_timeout"] == 20
    assert "Звонкова" in body["caller_name"]
    support.settle(app)  # the start is recorded right after the answer
    [call] = support.calls(app)
    assert call.state == "ringing" and call.client_number == CLIENT  # the start is recorded as well


def test_an_unknown_caller_is_left_to_the_pbx(app, client, admin):
    answer = post(client, notification("NOTIFY_START"))
    assert answer.status_code == 200 and answer.data == b""
    support.settle(app)
    assert len(support.calls(app)) == 1


def test_routing_switched_off_answers_nothing(app, make_app, admin):
    support.client_of(app, support.manager(app))
    quiet = make_app(plugins={"zadarma": {"route_incoming": False}})
    answer = post(quiet.test_client(), notification("NOTIFY_START"))
    assert answer.status_code == 200 and answer.data == b""


def test_multipart_notifications_give_the_same_call(app, client, admin):
    deliveries = support.inbound_call()
    for fields in deliveries:
        answer = post(client, fields, as_multipart=True, header_boundary="not-the-one-in-the-body")
        assert answer.status_code == 200, answer.get_data(as_text=True)
    support.settle(app)
    [call] = support.calls(app)
    assert (call.outcome, call.talk_seconds, call.client_number) == ("answered", 42, CLIENT)
    # the same notifications form-encoded are repeats, however they were encoded
    stored = len(support.deliveries(app))
    post_all(client, deliveries)
    assert len(support.deliveries(app)) == stored and len(support.calls(app)) == 1


def test_an_outbound_call_and_its_recording(app, client, admin):
    support.client_of(app, support.manager(app))
    out = "out_7c1d"
    post_all(client, [notification("NOTIFY_OUT_START", out),
                      notification("NOTIFY_OUT_END", out, caller_id=support.LINE_RAW, duration="31",
                                   disposition="answered", status_code="16", is_recorded="0"),
                      notification("NOTIFY_RECORD", out, call_id_with_rec="1-1704110400.5-101-rec")])
    [call] = support.calls(app)
    assert (call.direction, call.outcome, call.client_number, call.extension, call.talk_seconds) == \
        ("out", "answered", CLIENT, "101", 31)
    assert call.recording_ref["ref"] == "1-1704110400.5-101-rec" and call.inbox_item_id is None


def test_an_unreadable_but_signed_notification_is_a_400(client):
    fields = {"event": "NOTIFY_START", "caller_id": "1", "called_did": "2", "call_start": "soon", "pbx_call_id": "x"}
    assert post(client, fields).status_code == 400
    sms = {"event": "NOTIFY_SMS", "caller_id": "1"}
    assert client.post(URL, data=sms, headers={"Signature": "c2lnbg=="}).status_code == 403  # no signature to check


FIELD = st.sampled_from(["event", "pbx_call_id", "call_start", "caller_id", "called_did", "internal", "destination",
                         "duration", "disposition", "is_recorded", "call_id_with_rec", "status_code", "x"])
VALUE = st.one_of(st.text(max_size=60), st.sampled_from(
    ["NOTIFY_START", "NOTIFY_END", "NOTIFY_ANSWER", "NOTIFY_RECORD", "NOTIFY_OUT_END", "NOTIFY_INTERNAL",
     "2024-01-01 12:00:00", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"), "79001234567", "100", "answered",
     "busy", "1", "0", "in_" + "a" * 300, "99999999999999999999"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.dictionaries(FIELD, VALUE, max_size=10), multipart=st.booleans())
def test_hostile_signed_notifications_never_break_anything(app, client, fields, multipart):
    """Signed with the real secret (so they get past the signature), any fields: a 200 or a 400, never a 500, and
    the handler never fails on them."""
    if fields.get("event") not in support.SIGNED_EVENTS:
        fields["event"] = "NOTIFY_END"
    answer = post(client, fields, as_multipart=multipart)
    assert answer.status_code in (200, 400), answer.get_data(as_text=True)
    support.settle(app)
    assert not support.deliveries(app, status="failed")
    assert not support.rows(app, "job_record", status="failed")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300), content_type=st.sampled_from(
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "multipart/form-data",
     "application/json", "text/plain"]), signature=st.one_of(st.none(), st.text(max_size=40)))
def test_garbage_bodies_never_get_a_500(app, client, body, content_type, signature):
    printable = signature is not None and signature.isascii() and signature.isprintable()
    headers = {"Signature": signature} if printable else {}
    answer = client.post(URL, data=body, content_type=content_type, headers=headers)
    assert answer.status_code in (400, 403, 415), answer.get_data(as_text=True)


def test_the_core_hands_a_form_encoded_body_to_the_plugin(app, client):
    """Zadarma posts forms. The body must reach the endpoint as sent (kept here on a refused delivery): a core
    that parsed ``request.form`` before the webhook view read the body hands over ``b""`` and every notification
    fails its signature check."""
    fields = notification("NOTIFY_START")
    assert post(client, fields, secret="not-the-secret").status_code == 403
    [refused] = support.deliveries(app, status="refused")
    assert bytes(refused.body) == urlencode(fields).encode(), (
        "the core lost the form-encoded body before the webhook view read it (core.web.security.refuse_nul parses "
        "request.form first; core.web.body_limit.apply could keep the bounded bytes with request.get_data())")
