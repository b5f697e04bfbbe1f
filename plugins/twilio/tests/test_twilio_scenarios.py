"""Whole call scenarios replayed as Twilio reports them, through the app's real ``/webhooks/twilio/...`` endpoints
(signed over the address Twilio calls) and, where the CRM asks Twilio something, against the loopback REST API
(``twilio_fake``): a missed call called back from the CRM, a transfer to another manager, a recording Twilio
finishes late, and a call's callbacks out of order and repeated.

(An incoming answered call, an incoming missed call and a click-to-call are in ``test_twilio_webhooks.py``.)"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import JSON, column, select, table
from twilio_support import CLIENT, LINE, T0, client_of, dial_end, leg, post, read_dial, recording, rows, sid, voice

from mayak import Activity, Call, InboxItem, Task, User, WebhookDelivery, db, enqueue, utcnow
from mayak.testing import create_user, empty_tables, post_form, sign_in, wait_for_jobs

LOCAL = "http://localhost/webhooks/twilio"
PARENT, OLGA_LEG, IVAN_LEG, BACK_LEG = sid("CA", 0x5A1), sid("CA", 0x5B2), sid("CA", 0x5C3), sid("CA", 0x5D4)
REC = sid("RE", 0x5E5)
AUDIO = b"ID3\x04" + b"\x01" * 900
OUTBOX = table("outbox_event", column("id"), column("name"), column("payload", JSON))
ATTACHMENT = table("attachment", column("id"), column("activity_id"), column("size"))


def manager(app: Flask, email: str, extension: str, name: str) -> int:
    """A manager whose Twilio client ``extension`` rings for their clients, who may call their own clients."""
    user = create_user(app, email, full_name=name, grants={("contact", "view"): "own", ("call", "view"): "own"})
    with app.app_context():
        db.session.get(User, user.id).extension = extension
        db.session.commit()
    return int(user.id)


def aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def twilio_calls(app: Flask) -> list[Call]:
    return rows(app, Call, Call.provider == "twilio")


def events_of(app: Flask, call_id: int) -> list[tuple[str, dict[str, Any]]]:
    """The ``call_*`` and ``recording_*`` events the outbox holds about the call, oldest first."""
    with app.app_context():
        found = db.session.execute(select(OUTBOX.c.name, OUTBOX.c.payload).order_by(OUTBOX.c.id)).all()
    return [(name, payload["data"]) for name, payload in found
            if name.startswith(("call_", "recording_")) and payload.get("subject_id") == call_id]


def entries_of(app: Flask, call_id: int) -> list[Activity]:
    """The timeline entries that show the call."""
    return [a for a in rows(app, Activity, Activity.kind == "call") if (a.data or {}).get("call_id") == call_id]


# The status callbacks are recorded by jobs, the <Dial> action inline, in its own transaction: the tests let the
# jobs that create the call finish before the action comes, as it comes a whole talk after the leg's first
# callback. (Posted at once on PostgreSQL, the action races the job that creates the call, and core's creation of
# a call does not survive that race: the later of two first events of one call fails on the unique key.)


def inbound_call(web: Any, caller: str = CLIENT) -> tuple[str, str]:
    """The voice URL rings the caller's manager; the ``<Dial>``'s status and action addresses."""
    answer = post(web, f"{LOCAL}/voice", voice(PARENT, caller))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    dialled = read_dial(answer.data)
    return dialled.status_urls[0], dialled.attrs["action"]


# --- missed, then called back --------------------------------------------------------------------------------------


def test_a_missed_call_called_back_from_the_crm_is_marked_called_back_and_its_one_task_done(app, twilio_api):
    """The client rings, Olga's phone rings out: a "Call back" task. Olga presses the card's call button: Twilio
    rings her client (the REST call), its TwiML dials the client, they talk. The missed call is called back at the
    moment the client answered, and the one task is done."""
    olga = manager(app, "olga@example.com", "olga", "Ольга Менеджер")
    contact = client_of(app, olga)
    web = app.test_client()
    status, action = inbound_call(web)
    ring = dict(frm=CLIENT, to="client:olga", direction="outbound-dial", parent=PARENT)
    for params in (leg(OLGA_LEG, "initiated", 1, seq=0, **ring), leg(OLGA_LEG, "ringing", 2, seq=1, **ring),
                   leg(OLGA_LEG, "no-answer", 22, seq=2, **ring)):
        assert post(web, status, params).status_code == 202
    wait_for_jobs(app)
    assert post(web, action, dial_end(PARENT, OLGA_LEG, "no-answer", None, CLIENT)).status_code == 200
    assert post(web, f"{LOCAL}/status", leg(PARENT, "completed", 23, frm=CLIENT, to=LINE, direction="inbound",
                                            duration=23)).status_code == 202
    wait_for_jobs(app)
    (missed,) = twilio_calls(app)
    assert (missed.outcome, missed.called_back_at, missed.contact_id) == ("missed", None, contact)
    (task,) = rows(app, Task)
    assert (task.id, task.status, task.owner_id) == (missed.callback_task_id, "open", olga)

    browser = app.test_client()
    sign_in(browser, "olga@example.com")
    answer = post_form(browser, "/calls/dial", {"number": CLIENT, "contact_id": contact})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    (placed,) = twilio_api.calls()
    agent_url = placed.form["StatusCallback"][0]
    client_url = read_dial(placed.form["Twiml"][0]).status_urls[0]
    assert (placed.form["To"], placed.form["From"]) == (["client:olga"], [LINE])
    (dialling,) = [c for c in twilio_calls(app) if c.id != missed.id]
    assert dialling.external_id.startswith("CA") and dialling.reference in agent_url
    agent = dict(frm=LINE, to="client:olga", direction="outbound-api")
    customer = dict(frm=LINE, to=CLIENT, direction="outbound-dial", parent=dialling.external_id)
    for url, params in ((agent_url, leg(dialling.external_id, "initiated", 300, seq=0, **agent)),
                        (agent_url, leg(dialling.external_id, "in-progress", 304, seq=2, **agent)),
                        (client_url, leg(BACK_LEG, "ringing", 306, seq=1, **customer)),
                        (client_url, leg(BACK_LEG, "in-progress", 311, seq=2, **customer)),
                        (client_url, leg(BACK_LEG, "completed", 356, seq=3, duration=45, **customer)),
                        (agent_url, leg(dialling.external_id, "completed", 357, seq=3, duration=53, **agent))):
        assert post(web, url, params).status_code == 202
    wait_for_jobs(app)

    missed, back = sorted(twilio_calls(app), key=lambda c: c.id)
    assert (back.id, back.direction, back.outcome, back.talk_seconds, back.user_id, back.contact_id) == \
        (dialling.id, "out", "answered", 45, olga, contact)
    assert aware(back.answered_at) == T0 + timedelta(seconds=311)
    assert (missed.outcome, aware(missed.called_back_at)) == ("missed", aware(back.answered_at))
    assert back.callback_task_id is None
    (task,) = rows(app, Task)
    assert task.status == "done", "the call that reached the client closes the call-back task"


# --- a transfer to another manager -----------------------------------------------------------------------------------


def test_a_call_transferred_to_another_manager_is_one_answered_call_of_the_manager_who_took_it_last(app, twilio_api):
    """Olga answers and transfers the client to Ivan: Twilio ends Olga's leg and a second ``<Dial>`` of the same
    parent call rings Ivan's client, whose leg reports to the same status address; the client hangs up after
    talking to Ivan. One call, answered at Olga's answer, Ivan's, and ended only when the caller's leg did: 28 s
    with Olga, 5 s ringing Ivan, 40 s with Ivan."""
    olga = manager(app, "olga@example.com", "olga", "Ольга Менеджер")
    ivan = manager(app, "ivan@example.com", "ivan", "Иван Менеджер")
    contact = client_of(app, olga)
    web = app.test_client()
    status, _action = inbound_call(web)
    first = dict(frm=CLIENT, to="client:olga", direction="outbound-dial", parent=PARENT)
    second = dict(frm=CLIENT, to="client:ivan", direction="outbound-dial", parent=PARENT)
    for params in (leg(OLGA_LEG, "initiated", 1, seq=0, **first), leg(OLGA_LEG, "ringing", 2, seq=1, **first),
                   leg(OLGA_LEG, "in-progress", 12, seq=2, **first),
                   leg(OLGA_LEG, "completed", 40, seq=3, duration=28, **first),  # the transfer
                   leg(IVAN_LEG, "initiated", 40, seq=0, **second), leg(IVAN_LEG, "ringing", 41, seq=1, **second),
                   leg(IVAN_LEG, "in-progress", 45, seq=2, **second)):
        assert post(web, status, params).status_code == 202
        wait_for_jobs(app)
    (talking,) = twilio_calls(app)
    assert (talking.state, talking.ended_at, talking.extension, talking.user_id) == ("answered", None, "ivan", ivan), \
        "Olga's leg ending is a transfer, not the conversation's end"
    assert [name for name, _ in events_of(app, talking.id)] == ["call_started", "call_answered"]
    for url, params in ((status, leg(IVAN_LEG, "completed", 85, seq=3, duration=40, **second)),
                        (f"{LOCAL}/status", leg(PARENT, "completed", 85, frm=CLIENT, to=LINE, direction="inbound",
                                                duration=85))):
        assert post(web, url, params).status_code == 202
    wait_for_jobs(app)

    (call,) = twilio_calls(app)
    assert (call.external_id, call.direction, call.state, call.outcome) == (PARENT, "in", "ended", "answered")
    assert (call.extension, call.user_id, call.contact_id) == ("ivan", ivan, contact), "the one who took it last"
    assert (aware(call.answered_at), aware(call.ended_at)) == (T0 + timedelta(seconds=12), T0 + timedelta(seconds=85))
    assert (call.wait_seconds, call.talk_seconds) == (11, 28 + 5 + 40)
    assert call.legs[OLGA_LEG] == {"state": "answered", "extension": "olga"}
    assert call.legs[IVAN_LEG] == {"state": "answered", "extension": "ivan"}
    assert call.callback_task_id is None and rows(app, Task) == []
    (entry,) = entries_of(app, call.id)
    assert (entry.contact_id, entry.data["user_id"], entry.data["extension"], entry.data["duration"]) == \
        (contact, ivan, "ivan", 73)
    names = [name for name, _ in events_of(app, call.id)]
    assert Counter(names) == {"call_started": 1, "call_answered": 1, "call_ended": 1}
    (ended,) = [data for name, data in events_of(app, call.id) if name == "call_ended"]
    assert (ended["user_id"], ended["talk_seconds"], ended["outcome"]) == (ivan, 73, "answered")
    assert olga != ivan


# --- a recording finished late ---------------------------------------------------------------------------------------


def test_a_recording_twilio_finishes_late_waits_pending_and_the_sweep_brings_it_beside_the_call(app, twilio_api):
    """The recording callback comes, but Twilio still answers 404 for the file: the recording waits, due again
    after a pause. Twilio finishes it; once the pause is over the sweep (``core.recordings``) downloads it and keeps
    it on the call's timeline entry."""
    olga = manager(app, "olga@example.com", "olga", "Ольга Менеджер")
    contact = client_of(app, olga)
    twilio_api.recordings[REC] = None  # Twilio is still processing it
    web = app.test_client()
    status, action = inbound_call(web)
    child = dict(frm=CLIENT, to="client:olga", direction="outbound-dial", parent=PARENT)
    for params in (leg(OLGA_LEG, "ringing", 2, seq=1, **child), leg(OLGA_LEG, "in-progress", 12, seq=2, **child),
                   leg(OLGA_LEG, "completed", 72, seq=3, duration=60, **child)):
        assert post(web, status, params).status_code == 202
    wait_for_jobs(app)
    assert post(web, action, dial_end(PARENT, OLGA_LEG, "completed", 60, CLIENT)).status_code == 200
    recorded = post(web, f"{LOCAL}/recording?dir=in&line=%2B74951112233", recording(PARENT, REC, 12, 60))
    assert recorded.status_code == 202
    wait_for_jobs(app)

    (call,) = twilio_calls(app)
    assert (call.outcome, call.talk_seconds, call.recording_ref["ref"]) == ("answered", 60, REC)
    assert (call.recording_state, call.recording_attempts, call.recording_attachment_id) == ("pending", 1, None)
    assert "20404" in call.recording_error
    assert aware(call.recording_next_at) > utcnow(), "tried again after a pause, not at once"

    with app.app_context():  # the sweep before the pause is over leaves it alone
        enqueue("core.recordings")
        db.session.commit()
    wait_for_jobs(app)
    (call,) = twilio_calls(app)
    assert (call.recording_state, call.recording_attempts) == ("pending", 1)

    twilio_api.recordings[REC] = AUDIO
    with app.app_context():  # the pause is over
        db.session.get(Call, call.id).recording_next_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        enqueue("core.recordings")
        db.session.commit()
    wait_for_jobs(app)

    (call,) = twilio_calls(app)
    assert (call.recording_state, call.recording_attempts, call.recording_error) == ("ready", 2, "")
    assert call.recording_next_at is None and call.recording_ref["size"] == len(AUDIO)
    (entry,) = entries_of(app, call.id)
    assert entry.contact_id == contact
    with app.app_context():
        (attachment,) = db.session.execute(select(ATTACHMENT).where(ATTACHMENT.c.id == call.recording_attachment_id))
    assert (attachment.activity_id, attachment.size) == (entry.id, len(AUDIO))
    fetched = [s.path for s in twilio_api.seen if s.path.endswith(".mp3")]
    assert fetched == [f"/2010-04-01/Accounts/{twilio_api.account_sid}/Recordings/{REC}.mp3"] * 2
    assert [name for name, _ in events_of(app, call.id)].count("recording_ready") == 1


# --- out of order and repeated ---------------------------------------------------------------------------------------


def _deliveries() -> list[tuple[str, dict[str, str]]]:
    """One answered, recorded inbound call as Twilio reports it (after the voice URL): Olga's leg, the number's own
    status callback for the caller's leg, the recording."""
    status = f"{LOCAL}/status?dir=in&line=%2B74951112233"
    child = dict(frm=CLIENT, to="client:olga", direction="outbound-dial", parent=PARENT)
    return [(status, leg(OLGA_LEG, "initiated", 1, seq=0, **child)),
            (status, leg(OLGA_LEG, "ringing", 2, seq=1, **child)),
            (status, leg(OLGA_LEG, "in-progress", 12, seq=2, **child)),
            (f"{LOCAL}/recording?dir=in&line=%2B74951112233", recording(PARENT, REC, 12, 60)),
            (status, leg(OLGA_LEG, "completed", 72, seq=3, duration=60, **child)),
            (f"{LOCAL}/status", leg(PARENT, "completed", 73, frm=CLIENT, to=LINE, direction="inbound", duration=75))]


def _replay(app: Flask, deliveries: list[tuple[str, dict[str, str]]]) -> dict[str, Any]:
    """Olga, her client, the voice URL's request, then the deliveries in the order given; what the call came to."""
    olga = manager(app, "olga@example.com", "olga", "Ольга Менеджер")
    contact = client_of(app, olga)
    web = app.test_client()
    inbound_call(web)
    for url, params in deliveries:
        assert post(web, url, params).status_code in (200, 202)
    wait_for_jobs(app)
    (call,) = twilio_calls(app)
    facts = ("external_id", "direction", "state", "outcome", "client_number", "line_number", "extension",
             "started_at", "answered_at", "ended_at", "wait_seconds", "talk_seconds", "reason", "legs",
             "recording_state", "callback_task_id", "called_back_at")
    return {
        "call": {**{f: getattr(call, f) for f in facts}, "user": call.user_id == olga,
                 "contact": call.contact_id == contact, "recording": call.recording_ref["ref"]},
        "timeline": [(e.contact_id == contact, {k: v for k, v in e.data.items() if k not in ("call_id", "user_id")})
                     for e in entries_of(app, call.id)],
        "events": Counter(name for name, _ in events_of(app, call.id)),
        "open_tasks": len([t for t in rows(app, Task) if t.status == "open"]),
        "inbox": [(i.phone_e164, i.state, i.contact_id == contact) for i in rows(app, InboxItem)],
    }


def test_callbacks_out_of_order_and_each_twice_give_the_same_call_as_in_order(app, twilio_api):
    """The same call's callbacks reversed (the caller's end and the recording before Olga's answer), each delivered
    twice: the same facts as in order, one timeline entry, one ``call_ended``."""
    twilio_api.recordings[REC] = AUDIO
    in_order = _replay(app, _deliveries())
    # no <Dial> action here (its moment is when it arrives, which no reordering keeps): the caller's leg ends the
    # call, talked from Olga's answer (12) to the caller's hang-up (73)
    assert (in_order["call"]["state"], in_order["call"]["outcome"], in_order["call"]["talk_seconds"]) == \
        ("ended", "answered", 61)
    assert len(in_order["timeline"]) == 1 and in_order["call"]["recording_state"] == "ready"
    assert in_order["events"] == {"call_started": 1, "call_answered": 1, "call_ended": 1, "recording_ready": 1}

    wait_for_jobs(app)
    empty_tables(app)
    scrambled = _replay(app, [one for one in reversed(_deliveries()) for _ in range(2)])
    assert scrambled["call"] == in_order["call"]
    assert scrambled["timeline"] == in_order["timeline"]
    assert scrambled["inbox"] == in_order["inbox"]
    assert scrambled["open_tasks"] == in_order["open_tasks"] == 0
    # the caller's end before Olga's answer makes the call missed for a moment (core's documented way): its
    # call_missed and call-back task come and go; everything else happens once, as in order
    assert {k: n for k, n in scrambled["events"].items() if k != "call_missed"} == in_order["events"]


def test_a_dial_action_repeated_and_replayed_later_keeps_the_moment_the_call_ended(app, admin_client, twilio_api):
    """Twilio dates no ``<Dial>`` action: the moment it arrived is the call's end. Twilio's retry of it is a
    repeat, and an administrator's replay long after runs it again: neither moves the end (or the talk time)."""
    client_of(app, manager(app, "olga@example.com", "olga", "Ольга Менеджер"))
    web = app.test_client()
    status, action = inbound_call(web)
    child = dict(frm=CLIENT, to="client:olga", direction="outbound-dial", parent=PARENT)
    for params in (leg(OLGA_LEG, "in-progress", 12, seq=2, **child),
                   leg(OLGA_LEG, "completed", 72, seq=3, duration=60, **child)):
        assert post(web, status, params).status_code == 202
    wait_for_jobs(app)
    hang_up = dial_end(PARENT, OLGA_LEG, "completed", 60, CLIENT)
    assert b"<Hangup />" in post(web, action, hang_up).data
    assert post(web, action, hang_up).status_code == 200
    wait_for_jobs(app)
    (call,) = twilio_calls(app)
    (delivery,) = rows(app, WebhookDelivery, WebhookDelivery.external_id == f"dial:{PARENT}:{OLGA_LEG}")
    assert aware(call.ended_at) == aware(delivery.received_at) and call.talk_seconds == 60

    assert post_form(admin_client, f"/admin/webhooks/{delivery.id}/replay").status_code in (302, 303)
    wait_for_jobs(app)
    (replayed,) = rows(app, WebhookDelivery, WebhookDelivery.id == delivery.id)
    assert replayed.status == "processed" and replayed.attempts == 2
    (again,) = twilio_calls(app)
    assert (aware(again.ended_at), again.talk_seconds, again.state) == (aware(call.ended_at), 60, "ended")
    assert [name for name, _ in events_of(app, call.id)].count("call_ended") == 1
