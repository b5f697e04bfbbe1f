"""Whole scenarios as the PBX reports them: AMI event streams from the fake manager interface, read by the provider's
``listen`` and handed to ``record_call_events`` — a missed call the manager calls back, a call transferred from one
extension to another, a recording the PBX finishes late, and a call's events delivered backwards and twice."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from asterisk_fake import FakeAmi
from asterisk_streams import (
    CALL_BACK,
    CLIENT,
    INBOUND_ANSWERED,
    INBOUND_MISSED,
    RECORDING,
    TRANSFER_LINKEDID,
    TRANSFERS,
)
from asterisk_support import (
    ATTACHMENT,
    AUDIO,
    calls,
    client_of,
    deliver_into,
    listen_once,
    manager,
    outbox,
    recordings_server,
)
from flask import Flask
from sqlalchemy import func, select

from mayak import Activity, Call, CallEvent, Task, db, enqueue, utcnow
from mayak.testing import wait_for_jobs
from plugins.asterisk.provider import forget_calls_in_progress

MISSED, ANSWERED, CALLED_BACK = "1764500000.51", "1764500000.41", "1764500000.91"
FACTS = ("direction", "state", "outcome", "client_number", "line_number", "extension", "user_id", "contact_id",
         "started_at", "answered_at", "ended_at", "wait_seconds", "talk_seconds", "reason", "callback_task_id",
         "recording_state", "called_back_at")


def pbx_app(make_app, ami: FakeAmi, recordings_url: str = "") -> Flask:
    conf = {"port": ami.port, **({"recordings_url": recordings_url} if recordings_url else {})}
    return make_app(plugins={"asterisk": conf}, MAYAK_FETCH_ALLOW="127.0.0.1")


def hear(app: Flask, ami: FakeAmi, stream: str, *, deliver: bool = True) -> list[CallEvent]:
    ami.on_login = stream
    return listen_once(app, deliver=deliver)


def row(app: Flask, external_id: str) -> Call:
    with app.app_context():
        found = db.session.scalar(select(Call).where(Call.provider == "asterisk", Call.external_id == external_id))
        assert found is not None, external_id
        db.session.expunge(found)
        return found


def timeline(app: Flask) -> list[Activity]:
    with app.app_context():
        entries = list(db.session.scalars(select(Activity).where(Activity.kind == "call").order_by(Activity.id)))
        for entry in entries:
            db.session.expunge(entry)
        return entries


def tasks(app: Flask) -> list[tuple[int, str]]:
    with app.app_context():
        return [(t.id, t.status) for t in db.session.scalars(select(Task).order_by(Task.id))]


# -- missed, then called back ------------------------------------------------------------------------------------


def test_a_missed_call_then_called_back_from_the_desk_phone_closes_its_one_task(app, make_app, ami: FakeAmi):
    pbx = pbx_app(make_app, ami)
    owner = manager(pbx)
    contact = client_of(pbx, owner)
    hear(pbx, ami, INBOUND_MISSED)  # the ring group rang 25 s, nobody picked up
    missed = row(pbx, MISSED)
    assert (missed.state, missed.outcome, missed.contact_id, missed.called_back_at) == ("missed", "missed", contact,
                                                                                       None)
    assert tasks(pbx) == [(missed.callback_task_id, "open")]
    hear(pbx, ami, CALL_BACK)  # 101 dials the client's number from the desk phone; they talk 60 s
    back = row(pbx, CALLED_BACK)
    assert (back.direction, back.state, back.outcome, back.client_number) == ("out", "ended", "answered", CLIENT)
    assert (back.contact_id, back.user_id, back.extension, back.talk_seconds) == (contact, owner, "101", 60)
    assert back.callback_task_id is None
    missed = row(pbx, MISSED)
    assert missed.called_back_at == back.answered_at and missed.outcome == "missed"
    assert tasks(pbx) == [(missed.callback_task_id, "done")], "the one task, closed by the call that reached them"
    assert len(outbox(pbx, "call_missed")) == 1
    forget_calls_in_progress()  # a listener started afresh, told the whole call again: nothing changes
    assert len(hear(pbx, ami, CALL_BACK)) == 4
    assert row(pbx, MISSED).called_back_at == back.answered_at and len(tasks(pbx)) == 1


# -- a transfer ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "end"), [("blind", 105), ("attended", 100)])
def test_a_call_transferred_between_extensions_is_the_last_managers_and_talked_to_its_end(app, make_app,
                                                                                          ami: FakeAmi, kind, end):
    pbx = pbx_app(make_app, ami)
    first = manager(pbx)
    second = manager(pbx, "vera@example.com", "103")
    contact = client_of(pbx, first)
    heard = hear(pbx, ami, TRANSFERS[kind])
    linked = TRANSFER_LINKEDID[kind]
    with pbx.app_context():
        assert set(calls()) == {linked}, "one call, whatever channels the transfer made"
    found = row(pbx, linked)
    assert (found.direction, found.state, found.outcome, found.contact_id) == ("in", "ended", "answered", contact)
    assert (found.extension, found.user_id) == ("103", second), "the call is the manager's who took it last"
    assert found.answered_at - found.started_at == timedelta(seconds=12) and found.wait_seconds == 12
    assert found.ended_at - found.answered_at == timedelta(seconds=end - 12)
    assert found.talk_seconds == end - 12, "the client talked from the first answer to the end, to 101 then 103"
    (entry,) = timeline(pbx)
    assert (entry.data["user_id"], entry.data["extension"], entry.data["duration"]) == (second, "103", end - 12)
    assert tasks(pbx) == []
    assert [len(outbox(pbx, name)) for name in ("call_answered", "call_ended", "call_missed")] == [1, 1, 0]
    assert first != second
    with pbx.app_context():  # the batch replayed backwards, each event twice: nothing changes
        deliver_into(pbx)([event for told in reversed(heard) for event in (told, told)])
    again = row(pbx, linked)
    assert [getattr(again, name) for name in FACTS] == [getattr(found, name) for name in FACTS]
    assert len(timeline(pbx)) == 1 and len(outbox(pbx, "call_ended")) == 1


def test_a_transfer_told_backwards_one_event_at_a_time_stays_with_the_last_manager(app, make_app, ami: FakeAmi):
    """Delivered one event per batch, last first, the first manager's "answered" is folded after the second's: the
    call stays with the extension that answered last by time, not the one told last (replays, two listeners)."""
    pbx = pbx_app(make_app, ami)
    manager(pbx)
    second = manager(pbx, "vera@example.com", "103")
    heard = hear(pbx, ami, TRANSFERS["blind"], deliver=False)
    deliver = deliver_into(pbx)
    with pbx.app_context():
        for event in reversed(heard):
            deliver([event])
    found = row(pbx, TRANSFER_LINKEDID["blind"])
    assert (found.extension, found.user_id) == ("103", second)


# -- a recording finished late -----------------------------------------------------------------------------------


def sweep(app: Flask, *, pause_over: bool) -> None:
    """The scheduled ``core.recordings`` job, once; ``pause_over``: after the pause the last try set (the clock
    moved on)."""
    with app.app_context():
        if pause_over:
            for waiting in db.session.scalars(select(Call).where(Call.recording_state == "pending")):
                waiting.recording_next_at = utcnow() - timedelta(seconds=1)
        enqueue("core.recordings")
        db.session.commit()
    wait_for_jobs(app)


def test_a_recording_the_pbx_finishes_late_is_brought_in_by_the_sweep(app, make_app, ami: FakeAmi):
    served: dict[str, bytes] = {}  # MixMonitor has not closed the file yet: the folder answers 404
    with recordings_server(served) as (url, fetched):
        pbx = pbx_app(make_app, ami, url)
        owner = manager(pbx)
        contact = client_of(pbx, owner)
        hear(pbx, ami, INBOUND_ANSWERED)  # and the first try, right after the call
        first = row(pbx, ANSWERED)
        assert (first.outcome, first.recording_state, first.recording_attempts) == ("answered", "pending", 1)
        assert utcnow() < first.recording_next_at <= utcnow() + timedelta(seconds=31)
        assert first.recording_ref["ref"] == RECORDING and first.recording_attachment_id is None
        sweep(pbx, pause_over=False)
        assert len(fetched) == 1, "not asked again before the pause is over"
        sweep(pbx, pause_over=True)  # still not there: a longer pause
        second = row(pbx, ANSWERED)
        assert (second.recording_state, second.recording_attempts, len(fetched)) == ("pending", 2, 2)
        assert second.recording_next_at > utcnow() + timedelta(seconds=45)
        served[RECORDING] = AUDIO
        sweep(pbx, pause_over=True)
        sweep(pbx, pause_over=True)
    assert fetched == [(f"/monitor/{RECORDING}", None)] * 3, "asked until it was there, then never again"
    ready = row(pbx, ANSWERED)
    assert (ready.recording_state, ready.recording_attempts, ready.recording_error) == ("ready", 3, "")
    assert ready.recording_next_at is None
    (entry,) = timeline(pbx)
    assert entry.contact_id == contact
    with pbx.app_context():
        attached = db.session.execute(select(ATTACHMENT.c.id, ATTACHMENT.c.size)
                                      .where(ATTACHMENT.c.activity_id == entry.id)).all()
    assert [tuple(found) for found in attached] == [(ready.recording_attachment_id, len(AUDIO))]
    assert len(outbox(pbx, "recording_ready")) == 1


# -- out of order, repeated -------------------------------------------------------------------------------------------


ORDERS = {
    "in order": lambda events: [events],
    "backwards, each twice, in one batch": lambda events: [[e for told in reversed(events) for e in (told, told)]],
    "backwards, each twice, one at a time": lambda events: [[e] for told in reversed(events) for e in (told, told)],
}


@pytest.mark.parametrize("stream", ["answered", "missed", "called back"])
def test_a_calls_events_backwards_and_twice_give_the_same_call(app, make_app, ami: FakeAmi, stream):
    """The same call told in three orders, each under its own Linkedid (all else alike): three equal calls, each
    with one timeline entry, one ``call_ended``, and for the missed ones one call-back task among them."""
    with recordings_server() as (url, fetched):
        pbx = pbx_app(make_app, ami, url)
        owner = manager(pbx)
        client_of(pbx, owner)
        heard = hear(pbx, ami, {"answered": INBOUND_ANSWERED, "missed": INBOUND_MISSED,
                                "called back": CALL_BACK}[stream], deliver=False)
        deliver = deliver_into(pbx)
        names = []
        for told, order in enumerate(ORDERS.values()):
            name = f"{heard[0].call_id}~{told}"
            names.append(name)
            with pbx.app_context():
                for batch in order(heard):
                    deliver([replace(event, call_id=name) for event in batch])
            wait_for_jobs(pbx)
    found = {name: row(pbx, name) for name in names}
    facts = {name: {k: getattr(call, k) for k in FACTS} for name, call in found.items()}
    for name, order in zip(names[1:], list(ORDERS)[1:], strict=True):
        assert facts[name] == facts[names[0]], (order, {k: (v, facts[names[0]][k]) for k, v in facts[name].items()
                                                        if v != facts[names[0]][k]})
    expected = {"answered": ("ended", "answered", "101", 60, "ready"), "missed": ("missed", "missed", "101", None, ""),
                "called back": ("ended", "answered", "101", 60, "")}[stream]
    first = facts[names[0]]
    assert (first["state"], first["outcome"], first["extension"], first["talk_seconds"],
            first["recording_state"]) == expected
    entries = timeline(pbx)
    assert sorted(entry.data["call_id"] for entry in entries) == sorted(call.id for call in found.values()), \
        "one timeline entry per call"
    assert len(outbox(pbx, "call_ended")) == len(ORDERS) and len(outbox(pbx, "call_started")) == len(ORDERS)
    assert len(outbox(pbx, "call_missed")) == (len(ORDERS) if stream == "missed" else 0)
    with pbx.app_context():
        count = db.session.scalar(select(func.count()).select_from(Task))
    assert count == (1 if stream == "missed" else 0)
    if stream == "answered":
        assert len(fetched) == len(ORDERS), "each call's recording fetched once"
