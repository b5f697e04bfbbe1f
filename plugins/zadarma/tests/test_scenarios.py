"""Whole call scenarios replayed as Zadarma posts them, through the app's real ``/webhooks/zadarma/calls`` endpoint
(signed as Zadarma signs) and, where the CRM asks Zadarma something, against the loopback API (``zadarma_fake``):
a missed call called back from the CRM, a transfer between extensions, a recording Zadarma stores late, and a
call's notifications out of order and repeated.

(An incoming answered call, an incoming missed call and a click-to-call are in ``test_webhook.py`` and
``test_api.py``.)"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import JSON, column, select, table

from mayak import Activity, Call, db, enqueue, utcnow
from mayak.testing import empty_tables, post_form, sign_in, wait_for_jobs
from plugins.zadarma.tests import support
from plugins.zadarma.tests.support import CLIENT, CLIENT_RAW, LINE_RAW, notification, post_all
from plugins.zadarma.tests.zadarma_fake import now_utc

AUDIO = b"ID3\x03\x00\x00\x00" + b"\xff\xfb" * 512
OUTBOX = table("outbox_event", column("id"), column("name"), column("payload", JSON))
ATTACHMENT = table("attachment", column("id"), column("activity_id"), column("size"), column("content_type"))


def aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def call_events(app: Flask, call_id: int) -> Counter[str]:
    """How many of each ``call_*`` / ``recording_*`` event the outbox holds about the call."""
    with app.app_context():
        found = db.session.execute(select(OUTBOX.c.name, OUTBOX.c.payload)).all()
    return Counter(name for name, payload in found
                   if name.startswith(("call_", "recording_")) and (payload or {}).get("subject_id") == call_id)


def call_entries(app: Flask, call_id: int) -> list[Activity]:
    """The timeline entries that show the call."""
    with app.app_context():
        found = [a for a in db.session.scalars(select(Activity).where(Activity.kind == "call"))
                 if (a.data or {}).get("call_id") == call_id]
        for entry in found:
            db.session.expunge(entry)
        return found


def rec_ref(moment: datetime) -> str:
    """``call_id_with_rec`` as Zadarma names a recording: its start as a Unix time."""
    return f"{int(moment.timestamp())}.{moment.microsecond or 123456}"


# --- missed, then called back --------------------------------------------------------------------------------------


def test_a_missed_call_called_back_from_the_crm_is_marked_called_back_and_its_one_task_done(zadarma_app, zadarma,
                                                                                            admin):
    """The client rings twice and nobody answers (one "Call back" task for both); the manager presses the card's
    call button: Zadarma's callback rings extension 101, then the client, and they talk. Both missed calls are
    called back at the moment the client answered, and the task is done."""
    app = zadarma_app
    owner = support.manager(app)
    contact = support.client_of(app, owner)
    web = app.test_client()
    post_all(web, support.missed_call("in_missed_first", start=now_utc() - timedelta(minutes=5)))
    post_all(web, support.missed_call("in_missed_again", start=now_utc() - timedelta(minutes=3)))
    missed = support.calls(app)
    assert [(c.outcome, c.called_back_at) for c in missed] == [("missed", None)] * 2
    [task] = support.tasks(app)
    assert task.status == "open" and task.owner_id == owner and task.contact_id == contact
    assert {c.callback_task_id for c in missed} == {task.id}, "one task per client number, however many tries"

    browser = app.test_client()
    sign_in(browser, "olga.m@example.com")
    answer = post_form(browser, "/calls/dial", {"number": CLIENT, "contact_id": contact})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    [(path, params, authorised)] = zadarma.requests
    assert (path, params["from"], params["to"], authorised) == ("/v1/request/callback/", "101", CLIENT_RAW, True)
    out = "out_callback_5a1e"
    post_all(web, [notification("NOTIFY_OUT_START", out),
                   notification("NOTIFY_OUT_END", out, caller_id=LINE_RAW, duration="35", disposition="answered",
                                status_code="16", is_recorded="0")])

    *earlier, back = support.calls(app)
    assert [c.id for c in earlier] == [c.id for c in missed]
    assert (back.external_id, back.direction, back.outcome, back.talk_seconds, back.user_id, back.contact_id) == \
        (out, "out", "answered", 35, owner, contact)
    assert back.callback_task_id is None
    for call in earlier:
        assert call.outcome == "missed" and aware(call.called_back_at) == aware(back.answered_at)
    [task] = support.tasks(app)
    assert task.status == "done", "the call that reached the client closes the call-back task"
    assert len(support.tasks(app)) == 1


# --- a transfer between extensions ---------------------------------------------------------------------------------


def test_a_call_transferred_to_another_extension_is_one_answered_call_of_the_manager_who_took_it_last(app, client,
                                                                                                      admin):
    """Reception (100) answers the client's call and transfers it to Olga (101): within the same ``pbx_call_id``
    Zadarma reports NOTIFY_INTERNAL and NOTIFY_ANSWER for 101, then the end with 101 and the whole talk time."""
    reception = support.manager(app, "reception@example.com", "100")
    olga = support.manager(app, "olga.m@example.com", "101")
    contact = support.client_of(app, reception)
    pbx = "in_transfer_77c2"
    start = now_utc() - timedelta(seconds=90)
    deliveries = [
        notification("NOTIFY_START", pbx, start=start),
        notification("NOTIFY_INTERNAL", pbx, start=start, internal="100"),
        notification("NOTIFY_ANSWER", pbx, start=start, internal="100"),
        notification("NOTIFY_INTERNAL", pbx, start=start, internal="101"),  # the transfer rings Olga
        notification("NOTIFY_ANSWER", pbx, start=start, internal="101"),
        notification("NOTIFY_END", pbx, start=start, internal="101", duration="75", disposition="answered",
                     status_code="16", is_recorded="0", call_id_with_rec=""),
    ]
    for fields in deliveries:  # seconds apart, as the PBX sends them
        post_all(client, [fields])

    [call] = support.calls(app)
    assert (call.external_id, call.direction, call.state, call.outcome) == (pbx, "in", "ended", "answered")
    assert (call.extension, call.user_id, call.contact_id) == ("101", olga, contact), "the one who took it last"
    assert call.talk_seconds == 75 and call.callback_task_id is None
    assert set(call.legs) == {"100", "101"}
    assert call.started_at <= call.answered_at <= call.ended_at
    [entry] = call_entries(app, call.id)
    assert entry.contact_id == contact and entry.data["user_id"] == olga and entry.data["extension"] == "101"
    assert entry.data["duration"] == 75
    assert call_events(app, call.id) == {"call_started": 1, "call_answered": 1, "call_ended": 1}
    with app.app_context():
        [ended] = [p for n, p in db.session.execute(select(OUTBOX.c.name, OUTBOX.c.payload)) if n == "call_ended"]
    assert (ended["data"]["user_id"], ended["data"]["talk_seconds"], ended["data"]["outcome"]) == \
        (olga, 75, "answered")
    assert support.tasks(app) == [] and reception != olga


# --- a recording stored late ---------------------------------------------------------------------------------------


def test_a_recording_zadarma_stores_late_waits_pending_and_the_sweep_brings_it_beside_the_call(zadarma_app, zadarma,
                                                                                              admin):
    """The call ends recorded, but Zadarma has not stored the file yet ("Record not found"): the recording waits,
    due again after a pause. Zadarma stores it (and says so with NOTIFY_RECORD); once the pause is over the sweep
    (``core.recordings``) downloads it through a fresh link and keeps it on the call's timeline entry."""
    app = zadarma_app
    contact = support.client_of(app, support.manager(app))
    start = now_utc() - timedelta(seconds=70)
    ref = rec_ref(start + timedelta(seconds=18))
    web = app.test_client()
    post_all(web, support.inbound_call("in_rec_late_3f", start=start, recording=ref))
    wait_for_jobs(app)

    [call] = support.calls(app)
    assert (call.recording_state, call.recording_attempts, call.recording_attachment_id) == ("pending", 1, None)
    assert "Record not found" in call.recording_error
    assert aware(call.recording_next_at) > utcnow(), "tried again after a pause, not at once"
    asked = [(p, q["call_id"]) for p, q, ok in zadarma.requests if ok]
    assert asked == [("/v1/pbx/record/request/", ref)] and zadarma.downloads == 0

    with app.app_context():  # the sweep before the pause is over leaves it alone
        enqueue("core.recordings")
        db.session.commit()
    wait_for_jobs(app)
    [call] = support.calls(app)
    assert (call.recording_state, call.recording_attempts) == ("pending", 1)

    zadarma.recordings[ref] = AUDIO
    post_all(web, [notification("NOTIFY_RECORD", "in_rec_late_3f", call_id_with_rec=ref)])
    [call] = support.calls(app)
    assert call.recording_state == "pending" and call.recording_ref["ref"] == ref

    with app.app_context():  # the pause is over
        db.session.get(Call, call.id).recording_next_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        enqueue("core.recordings")
        db.session.commit()
    wait_for_jobs(app)

    [call] = support.calls(app)
    assert (call.recording_state, call.recording_attempts, call.recording_error) == ("ready", 2, "")
    assert call.recording_next_at is None and call.recording_ref["size"] == len(AUDIO)
    [entry] = call_entries(app, call.id)
    assert entry.contact_id == contact
    with app.app_context():
        [attachment] = db.session.execute(select(ATTACHMENT).where(ATTACHMENT.c.id == call.recording_attachment_id))
    assert (attachment.activity_id, attachment.size) == (entry.id, len(AUDIO))
    assert zadarma.downloads == 1
    assert call_events(app, call.id)["recording_ready"] == 1


# --- out of order and repeated -------------------------------------------------------------------------------------


def _one_call(pbx: str) -> tuple[datetime, list[dict[str, str]]]:
    """An answered, recorded inbound call that started 70 s ago, as Zadarma notifies it: when it started, and
    START, INTERNAL, ANSWER, END and RECORD."""
    start = now_utc() - timedelta(seconds=70)
    ref = rec_ref(start + timedelta(seconds=18))
    return start, [*support.inbound_call(pbx, start=start, recording=ref),
                   notification("NOTIFY_RECORD", pbx, call_id_with_rec=ref)]


def _replay(app: Flask, client: Any, order: Any) -> tuple[dict[str, Any], int]:
    """A manager, their client, then one call's notifications (``order`` of them) posted; what the call came to,
    and its wait. Zadarma's answer and end are dated when they arrive, so the wait follows the posting and is
    compared apart, to the second."""
    owner = support.manager(app)
    contact = support.client_of(app, owner)
    start, deliveries = _one_call("in_ooo_4b9d")
    for fields in order(deliveries):
        assert support.post(client, fields).status_code == 200
    support.settle(app)
    [call] = support.calls(app)
    assert aware(call.started_at) == start
    entries = call_entries(app, call.id)
    assert [e.data["wait"] for e in entries] == [call.wait_seconds]
    facts = ("external_id", "direction", "state", "outcome", "client_number", "line_number", "extension",
             "talk_seconds", "reason", "legs", "recording_state", "callback_task_id", "called_back_at")
    return {
        "call": {**{f: getattr(call, f) for f in facts}, "user": call.user_id == owner,
                 "contact": call.contact_id == contact, "recording": bool(call.recording_ref["ref"]),
                 "answered_to_end": aware(call.ended_at) - aware(call.answered_at)},
        "timeline": [(e.contact_id == contact, {k: v for k, v in e.data.items()
                                                if k not in ("call_id", "user_id", "wait")}) for e in entries],
        "events": call_events(app, call.id),
        "open_tasks": len([t for t in support.tasks(app) if t.status == "open"]),
        "inbox": [(i.phone_e164, i.state, i.contact_id == contact) for i in support.rows(app, "inbox_item")],
        "deliveries": len(support.deliveries(app)),
    }, call.wait_seconds


def test_notifications_out_of_order_and_each_twice_give_the_same_call_as_in_order(app, client, admin):
    """The same call's notifications reversed (the recording and the end before the start), each delivered twice:
    the same facts as in order, one timeline entry, one ``call_ended``."""
    in_order, waited = _replay(app, client, list)
    facts = in_order["call"]
    assert (facts["state"], facts["outcome"], facts["talk_seconds"], facts["extension"], facts["user"]) == \
        ("ended", "answered", 42, "101", True)
    assert facts["answered_to_end"] == timedelta(seconds=42) and facts["callback_task_id"] is None
    assert len(in_order["timeline"]) == 1 and in_order["open_tasks"] == 0
    assert in_order["events"] == {"call_started": 1, "call_answered": 1, "call_ended": 1}
    assert in_order["deliveries"] == 5

    wait_for_jobs(app)
    empty_tables(app)
    scrambled, waited_again = _replay(app, client, lambda d: [fields for fields in reversed(d) for _ in range(2)])
    assert scrambled == in_order, "the same call, one timeline entry, one call_ended; each repeat known as one"
    assert abs(waited_again - waited) <= 1
