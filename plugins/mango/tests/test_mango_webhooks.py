"""Mango's notifications posted, signed, to the app's real ``/webhooks/mango/...`` endpoints: what the calls become,
in any order, repeated, forged; routing a waiting call to the client's manager; a missed call's task, closed when the
manager calls the client back; a transfer; a recording Mango prepares late."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from mango_support import (
    CLIENT,
    LINE,
    T0,
    abonent,
    call,
    calls,
    inbound_call,
    notify,
    post_all,
    summary,
)
from sqlalchemy import JSON, Integer, String, column, func, select, table

from mayak import Activity, Call, Contact, Task, User, WebhookDelivery, db, enqueue, utcnow
from mayak.testing import create_user, csrf_token, sample_contact, sign_in, wait_for_jobs

# what the public API does not export, read as tables, the way a report would
OUTBOX = table("outbox_event", column("name", String), column("payload", JSON))
ATTACHMENT = table("attachment", column("id", Integer), column("activity_id", Integer), column("size", Integer))


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


def manager(app, email: str = "anna@example.com", extension: str = "101",
            grants: dict[tuple[str, str], str] | None = None) -> int:
    user = create_user(app, email, full_name="Анна Менеджер", grants=grants)
    with app.app_context():
        db.session.get(User, user.id).extension = extension
        db.session.commit()
    return user.id


def client_of(app, owner_id: int | None = None) -> int:
    contact_id = sample_contact(app, "Ольга", phone=f"+{CLIENT}")
    if owner_id is not None:
        with app.app_context():
            db.session.get(Contact, contact_id).owner_id = owner_id
            db.session.commit()
    return contact_id


def outbox(app, name: str) -> list[dict]:
    with app.app_context():
        return list(db.session.scalars(select(OUTBOX.c.payload).where(OUTBOX.c.name == name)))


def test_a_whole_inbound_call_ends_as_one_answered_call_with_its_recording(app, mango):
    mango.recordings["rec-E1"] = b"ID3\x04\x00" + b"\x00" * 1000
    owner = manager(app)
    contact = client_of(app)
    post_all(app, inbound_call("E1"))
    wait_for_jobs(app)  # the recording's download, from the loopback Mango
    (found,) = calls(app)
    assert (found["provider"], found["external_id"], found["direction"]) == ("mango", "E1", "in")
    assert (found["state"], found["outcome"], found["extension"], found["user_id"]) == ("ended", "answered", "101",
                                                                                        owner)
    assert (found["client_number"], found["line_number"], found["contact_id"]) == (f"+{CLIENT}", f"+{LINE}",
                                                                                  contact)
    assert (found["started_at"], found["answered_at"], found["ended_at"]) == (at(0), at(12), at(72))
    assert (found["wait_seconds"], found["talk_seconds"], found["reason"]) == (12, 60, "1110 caller hung up")
    assert found["recording_state"] == "ready"
    assert ("queries/recording/post", {"recording_id": "rec-E1", "action": "download"}) in mango.requests
    with app.app_context():
        entry = db.session.scalar(select(Activity).where(Activity.contact_id == contact, Activity.kind == "call"))
        assert entry is not None and entry.data["duration"] == 60
        sizes = list(db.session.scalars(select(ATTACHMENT.c.size).where(ATTACHMENT.c.activity_id == entry.id)))
        assert sizes == [1005]
    for name in ("call_started", "call_answered", "call_ended"):
        assert len(outbox(app, name)) == 1, name
    assert outbox(app, "call_missed") == []


def without_name(found: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "external_id"} for row in found]


def test_notifications_in_any_order_repeated_or_stale_give_the_same_call(app, mango):
    """The same call told in four orders, each under its own entry id (all else alike): four equal calls."""
    orders = {
        "in order": lambda notes: notes,
        "reversed, each twice": lambda notes: [n for note in reversed(notes) for n in (note, note)],
        "shuffled": lambda notes: [notes[i] for i in (3, 0, 6, 4, 1, 5, 2)],
        "legs crossed": lambda notes: [notes[i] for i in (1, 4, 3, 0, 2, 6, 5)],
    }
    manager(app)
    client_of(app)
    results = {}
    for told, (name, order) in enumerate(orders.items(), start=1):
        entry = f"E{told}"
        mango.recordings[f"rec-{entry}"] = b"ID3" + b"\x00" * 100
        post_all(app, order(inbound_call(entry)))
        wait_for_jobs(app)
        (found,) = [c for c in calls(app) if c["external_id"] == entry]
        results[name] = without_name([found])
        assert len(outbox(app, "call_ended")) == told, name
        assert len(outbox(app, "call_answered")) == told, name
        with app.app_context():  # a leg's end heard before its answer was missed for a moment: never for good
            assert db.session.scalar(select(func.count()).select_from(Task).where(Task.status == "open")) == 0, name
            entries = list(db.session.scalars(select(Activity).where(Activity.kind == "call")))
            assert len(entries) == told, (name, "one timeline entry per call, however often it was told")
    for name, found in results.items():
        assert found == results["in order"], (name, {k: (v, results["in order"][0][k]) for k, v in found[0].items()
                                                     if v != results["in order"][0][k]})
    assert results["in order"][0]["talk_seconds"] == 60 and results["in order"][0]["recording_state"] == "ready"
    # stale notifications after the end: a leg's earlier seq with another extension, the menu's first ring again
    for told in range(1, len(orders) + 1):
        post_all(app, [call(f"E{told}", f"E{told}-101", 1, "Appeared", T0 + 80, to=abonent("102")),
                       call(f"E{told}", f"E{told}-ivr", 1, "Appeared", T0 + 1, location="ivr")])
    assert without_name(calls(app)) == results["in order"] * len(orders)
    assert "commands/route" not in mango.paths(), "a stale ring in the menu is never routed"


def test_a_ring_group_and_a_transfer(app, mango):
    first = manager(app, "anna@example.com", "101")
    manager(app, "boris@example.com", "102")
    third = manager(app, "vera@example.com", "103")
    client_of(app)
    post_all(app, [call("G", "G-ivr", 1, "Appeared", T0, location="ivr"),
                   call("G", "G-101", 1, "Appeared", T0 + 2, to=abonent("101")),
                   call("G", "G-102", 1, "Appeared", T0 + 2, to=abonent("102")),
                   call("G", "G-ivr", 2, "Disconnected", T0 + 2, location="ivr", reason=1183),
                   call("G", "G-102", 2, "Disconnected", T0 + 9, to=abonent("102"), reason=1182)])
    (ringing,) = calls(app)
    assert (ringing["state"], ringing["ended_at"], ringing["extension"]) == ("ringing", None, "101"), \
        "a phone of the group that stopped ringing does not end the call"
    assert outbox(app, "call_ended") == [] and outbox(app, "call_missed") == []
    # 101 answers and transfers to 103; 103's answer reaches Mayak before 101's
    post_all(app, [call("G", "G-103", 1, "Appeared", T0 + 38, frm={"extension": "101"}, to=abonent("103")),
                   call("G", "G-103", 2, "Connected", T0 + 40, frm={"extension": "101"}, to=abonent("103")),
                   call("G", "G-101", 2, "Connected", T0 + 9, to=abonent("101"))])
    (talking,) = calls(app)
    assert (talking["state"], talking["answered_at"], talking["extension"], talking["user_id"]) == (
        "answered", at(9), "103", third), "the later answer keeps the call; the first one keeps its time"
    post_all(app, [call("G", "G-101", 3, "Disconnected", T0 + 40, to=abonent("101"), reason=1183),
                   call("G", "G-103", 3, "Disconnected", T0 + 100, to=abonent("103"), reason=1120),
                   summary("G", create=T0, talk=T0 + 9, end=T0 + 100, reason=1120, to=abonent("101"))])
    (done,) = calls(app)
    assert (done["state"], done["outcome"], done["extension"], done["user_id"], done["talk_seconds"],
            done["reason"]) == ("ended", "answered", "103", third, 91, "1120 callee hung up"), \
        "the summary naming the first extension does not hand the call back to it"
    assert (done["answered_at"], done["ended_at"]) == (at(9), at(100))
    assert first != third and len(outbox(app, "call_ended")) == 1


def test_a_missed_call_sets_one_call_back_task(app, mango):
    owner = manager(app)
    stranger = "79035550101"
    missed = [call("M1", "M1-ivr", 1, "Appeared", T0, location="ivr", frm={"number": stranger}),
              call("M1", "M1-101", 1, "Appeared", T0 + 3, frm={"number": stranger}, to=abonent("101")),
              call("M1", "M1-101", 2, "Disconnected", T0 + 25, frm={"number": stranger}, to=abonent("101"),
                   reason=1111),
              call("M1", "M1-ivr", 2, "Disconnected", T0 + 26, location="ivr", frm={"number": stranger},
                   reason=1110),
              summary("M1", create=T0, end=T0 + 26, reason=1110, frm={"number": stranger})]
    post_all(app, missed)
    post_all(app, [call("M2", "M2-ivr", 1, "Appeared", T0 + 300, location="ivr", frm={"number": stranger}),
                   summary("M2", create=T0 + 300, end=T0 + 320, reason=1110, frm={"number": stranger})])
    found = calls(app)
    assert [(c["state"], c["outcome"], c["client_number"]) for c in found] == [("missed", "missed", f"+{stranger}")] * 2
    with app.app_context():
        tasks = list(db.session.scalars(select(Task)))
        assert len(tasks) == 1 and tasks[0].owner_id == owner and tasks[0].status == "open"
        assert tasks[0].title.startswith("Call back:")
    assert len(outbox(app, "call_missed")) == 2 and "commands/route" not in mango.paths()


GRANTS = {("contact", "view"): "all", ("call", "view"): "own"}


def missed_call(entry: str, start: int) -> list[tuple[str, dict]]:
    """The client's call rings 101 for 22 s and nobody picks up; the client hangs up in the voice menu."""
    return [call(entry, f"{entry}-ivr", 1, "Appeared", start, location="ivr"),
            call(entry, f"{entry}-101", 1, "Appeared", start + 3, to=abonent("101")),
            call(entry, f"{entry}-101", 2, "Disconnected", start + 25, to=abonent("101"), reason=1111),
            call(entry, f"{entry}-ivr", 2, "Disconnected", start + 26, location="ivr", reason=1110),
            summary(entry, create=start, end=start + 26, reason=1110)]


def call_back(entry: str, start: int, reference: str | None) -> list[tuple[str, dict]]:
    """101 calls the client: the client picks up 10 s after being dialled, they talk 60 s. Placed from the CRM
    (``reference``: Mango rings 101 first, then dials the client, echoing our command id), or from 101's desk
    phone (one leg, from the extension out to the number)."""
    me, client = {"extension": "101", "number": "sip:101@vpbx.mangosip.ru"}, {"number": CLIENT, "line_number": LINE}
    out = f"{entry}-out"
    notes = []
    if reference is not None:
        notes += [call(entry, f"{entry}-101", 1, "Appeared", start - 4, frm={"number": LINE}, to=abonent("101"),
                       command_id=reference),
                  call(entry, f"{entry}-101", 2, "Connected", start - 1, frm={"number": LINE}, to=abonent("101"),
                       command_id=reference)]
    notes += [call(entry, out, 1, "Appeared", start, frm=me, to=client, command_id=reference),
              call(entry, out, 2, "Connected", start + 10, frm=me, to=client, command_id=reference),
              call(entry, out, 3, "Disconnected", start + 70, frm=me, to=client, reason=1120, command_id=reference)]
    if reference is not None:
        notes.append(call(entry, f"{entry}-101", 3, "Disconnected", start + 70, frm={"number": LINE},
                          to=abonent("101"), reason=1110, command_id=reference))
    notes.append(summary(entry, direction=2, create=start, talk=start + 10, end=start + 70, reason=1120, frm=me,
                         to=client, command_id=reference))
    return notes


@pytest.mark.parametrize("dialled", ["click-to-call", "desk phone"])
def test_a_missed_call_then_called_back_closes_its_one_task(app, mango, dialled):
    owner = manager(app, grants=GRANTS)
    contact = client_of(app, owner)
    post_all(app, missed_call("M1", T0))
    (missed,) = calls(app)
    assert (missed["state"], missed["outcome"], missed["contact_id"]) == ("missed", "missed", contact)
    with app.app_context():
        (task,) = db.session.scalars(select(Task))
        assert (task.status, task.owner_id, task.contact_id) == ("open", owner, contact)
    reference = None
    if dialled == "click-to-call":  # the manager presses "call" on the client's card
        browser = app.test_client()
        sign_in(browser, "anna@example.com")
        pressed = browser.post("/calls/dial", data={"number": f"+{CLIENT}", "contact_id": str(contact)},
                               headers={"HX-Request": "true", "X-CSRFToken": csrf_token(browser)})
        assert pressed.status_code == 200, pressed.get_data(as_text=True)
        ((path, command),) = mango.requests
        assert path == "commands/callback" and command["to_number"] == CLIENT
        reference = command["command_id"]
    post_all(app, call_back("B1", T0 + 300, reference))
    with app.app_context():
        earlier, back = db.session.scalars(select(Call).order_by(Call.id))
        assert (back.external_id, back.direction, back.state, back.outcome, back.reference) == (
            "B1", "out", "ended", "answered", reference)
        assert (back.contact_id, back.user_id, back.extension, back.talk_seconds) == (contact, owner, "101", 60)
        assert back.answered_at == at(310) and back.callback_task_id is None
        assert (earlier.outcome, earlier.called_back_at, earlier.callback_task_id) == ("missed", at(310), task.id)
        tasks = list(db.session.scalars(select(Task)))
        assert [(t.id, t.status) for t in tasks] == [(task.id, "done")], "the one task, closed by the call back"
    assert len(outbox(app, "call_missed")) == 1 and len(outbox(app, "call_answered")) == 1
    # the call back told again changes nothing
    post_all(app, call_back("B1", T0 + 300, reference))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Call)) == 2
        assert [t.status for t in db.session.scalars(select(Task))] == ["done"]


def recording_of(app, entry: str) -> Call:
    with app.app_context():
        found = db.session.scalar(select(Call).where(Call.external_id == entry))
        db.session.expunge(found)
        return found


def sweep(app, *, pause_over: bool) -> None:
    """The scheduled ``core.recordings`` job, once; ``pause_over``: after the pause the last try set (the clock
    moved on)."""
    with app.app_context():
        if pause_over:
            for waiting in db.session.scalars(select(Call).where(Call.recording_state == "pending")):
                waiting.recording_next_at = utcnow() - timedelta(seconds=1)
        enqueue("core.recordings")
        db.session.commit()
    wait_for_jobs(app)


def test_a_recording_mango_prepares_late_is_brought_in_by_the_sweep(app, mango):
    audio = b"ID3\x04\x00" + b"\x07" * 2000
    mango.recordings["rec-L1"] = audio
    mango.preparing["rec-L1"] = 2  # Mango answers 3320, "not ready", to the first two asks
    manager(app)
    contact = client_of(app)
    post_all(app, inbound_call("L1"))
    wait_for_jobs(app)  # the recording's first try, right after the call
    asks = lambda: mango.paths().count("queries/recording/post")  # noqa: E731
    first = recording_of(app, "L1")
    assert (first.outcome, first.recording_state, first.recording_attempts, asks()) == ("answered", "pending", 1, 1)
    assert utcnow() < first.recording_next_at <= utcnow() + timedelta(seconds=31)
    assert "not prepared" in first.recording_error
    sweep(app, pause_over=False)
    assert (recording_of(app, "L1").recording_attempts, asks()) == (1, 1), "not asked again before the pause is over"
    sweep(app, pause_over=True)
    second = recording_of(app, "L1")
    assert (second.recording_state, second.recording_attempts, asks()) == ("pending", 2, 2)
    assert second.recording_next_at > utcnow() + timedelta(seconds=45), "the pause grows"
    sweep(app, pause_over=True)
    ready = recording_of(app, "L1")
    assert (ready.recording_state, ready.recording_attempts, ready.recording_error, asks()) == ("ready", 3, "", 3)
    assert ready.recording_next_at is None
    with app.app_context():
        (entry,) = db.session.scalars(select(Activity).where(Activity.contact_id == contact, Activity.kind == "call"))
        attached = db.session.execute(select(ATTACHMENT.c.id, ATTACHMENT.c.size)
                                      .where(ATTACHMENT.c.activity_id == entry.id)).all()
        assert [tuple(row) for row in attached] == [(ready.recording_attachment_id, len(audio))]
    assert len(outbox(app, "recording_ready")) == 1
    sweep(app, pause_over=True)
    assert asks() == 3, "a recording brought in is never asked for again"


def test_a_forged_or_unsigned_notification_is_refused_and_changes_nothing(app, mango):
    path, body = call("F1", "F1-ivr", 1, "Appeared", T0, location="ivr")
    forged = [notify(app, path, body, sign="0" * 64), notify(app, path, body, salt="guessed"),
              notify(app, path, body, key="otherpbx"),
              app.test_client().post(f"/webhooks/mango/{path}", data="json=%7B%7D",
                                     content_type="application/x-www-form-urlencoded")]
    for other, payload in (summary("F1", create=T0, end=T0 + 5), ("ping", {})):
        forged.append(notify(app, other, payload, salt="guessed"))
    assert [r.status_code for r in forged] == [403] * 6
    assert calls(app) == [] and mango.requests == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)
                                 .where(WebhookDelivery.status == "refused")) == 6
    assert notify(app, path, body).status_code == 200, "the real notification after the forgeries still counts"
    assert len(calls(app)) == 1
    ping = notify(app, "ping", {})
    assert (ping.status_code, ping.get_data()) == (200, b"")
    wrong_type = app.test_client().post("/webhooks/mango/ping", json={"json": "{}"})
    assert wrong_type.status_code == 415


def test_a_known_clients_call_waiting_in_the_menu_rings_their_manager_first(app, mango):
    owner = manager(app, extension="105")
    client_of(app, owner)
    post_all(app, [call("R1", "R1-ivr", 1, "Appeared", int(datetime.now(UTC).timestamp()), location="ivr")])
    (command,) = [c for p, c in mango.requests if p == "commands/route"]
    assert (command["call_id"], command["to_number"]) == ("R1-ivr", "105")
    assert command["command_id"].startswith("mayak-route-")
    post_all(app, [call("R1", "R1-105", 1, "Appeared", int(datetime.now(UTC).timestamp()), to=abonent("105"),
                        command_id=command["command_id"])])
    assert mango.paths().count("commands/route") == 1, "routed once, however many legs follow"
    (found,) = calls(app)
    assert (found["extension"], found["user_id"], found["reference"]) == ("105", owner, None)
    # an unknown caller, a call announced long ago: the PBX's scenario decides
    post_all(app, [call("R2", "R2-ivr", 1, "Appeared", int(datetime.now(UTC).timestamp()), location="ivr",
                        frm={"number": "79035550102"}),
                   call("R3", "R3-ivr", 1, "Appeared", int(datetime.now(UTC).timestamp()) - 120, location="ivr")])
    assert mango.paths().count("commands/route") == 1


def test_a_slow_mango_never_holds_the_notification_up(app, mango):
    owner = manager(app, extension="105")
    client_of(app, owner)
    mango.delay = 2.0  # Mango takes longer to accept the routing command than the call may wait
    started = datetime.now(UTC)
    response = notify(app, *call("S1", "S1-ivr", 1, "Appeared", int(started.timestamp()), location="ivr"))
    assert response.status_code == 200 and datetime.now(UTC) - started < timedelta(seconds=2.5)
    deadline = time.monotonic() + 10  # the late handler goes on after the fallback answer: give a loaded machine time
    while not calls(app) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [c["state"] for c in calls(app)] == ["ringing"], "the call is recorded all the same"


def test_routing_can_be_left_to_the_pbx(app, make_app, mango):
    pbx_only = make_app(plugins={"mango": {"route_incoming": False}})
    owner = manager(app, extension="105")
    client_of(app, owner)
    post_all(pbx_only, [call("P1", "P1-ivr", 1, "Appeared", int(datetime.now(UTC).timestamp()), location="ivr")])
    assert "commands/route" not in mango.paths() and len(calls(app)) == 1


def test_notifications_arriving_at_once_give_one_call(app, mango):
    """Mango posts a call's notifications one after another, but Mayak handles them side by side: the
    conversation's row lock keeps them from stepping on each other."""
    mango.recordings["rec-C7"] = b"ID3" + b"\x00" * 100
    manager(app)
    client_of(app)
    notes = inbound_call("C7") * 2

    def send(note: tuple[str, dict]) -> int:
        return notify(app, *note).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(send, notes))
    assert set(statuses) == {200}, statuses
    wait_for_jobs(app)
    (found,) = calls(app)
    assert (found["state"], found["outcome"], found["extension"], found["talk_seconds"]) == ("ended", "answered",
                                                                                            "101", 60)
    assert (found["started_at"], found["answered_at"], found["ended_at"]) == (at(0), at(12), at(72))
    assert found["recording_state"] == "ready"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)
                                 .where(WebhookDelivery.status == "failed")) == 0
