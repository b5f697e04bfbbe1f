"""Core telephony (issue 13, item 1 and 2): calls folded from any provider's events in any order, on the client's
timeline, through the inbox, missed calls never forgotten (one "call back" task per client), internal calls and
the company's own numbers never leads, owner-first routing, and recordings brought into the CRM's storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from core.db import db, unit_of_work
from core.models import (
    Activity,
    AssignmentRule,
    Attachment,
    Call,
    InboxItem,
    OutboxEvent,
    OwnNumber,
    Task,
    User,
    utcnow,
)
from core.plugins.provider_facades import route_call
from core.plugins.providers import CallDirection, CallEvent, CallState, IncomingCall, RecordingRef
from core.services.clients import contacts
from core.services.platform.context import Actor
from core.services.telephony import calls, recordings
from core.services.work import deals, inbox
from core.testing.fixtures import create_user, wait_for_jobs
from tests.plugins import telecom

T0 = (datetime.now(UTC) - timedelta(minutes=10)).replace(microsecond=0)  # recent: recordings are still wanted
CLIENT = "+79161234567"
LINE = "+74951112233"


@pytest.fixture
def pbx_app(app, make_app):
    telecom.RECORDINGS.clear()
    return make_app(extra_plugins=[("telecom", telecom)])


def ev(call_id: str, state: CallState, seconds: int, *, direction: CallDirection = CallDirection.INBOUND,
       **fields: object) -> CallEvent:
    base: dict[str, object] = {"from_number": CLIENT, "to_number": LINE} if direction == CallDirection.INBOUND else \
        {"from_number": LINE, "to_number": CLIENT}
    return CallEvent(call_id=call_id, state=state, direction=direction,
                     occurred_at=T0 + timedelta(seconds=seconds), **{**base, **fields})  # type: ignore[arg-type]


def answered_call(call_id: str = "pbx-1", extension: str = "101") -> list[CallEvent]:
    return [ev(call_id, CallState.RINGING, 0, extension=extension),
            ev(call_id, CallState.ANSWERED, 12, extension=extension),
            ev(call_id, CallState.ENDED, 72, duration=60,
               recording=RecordingRef(ref=f"rec-{call_id}", duration=60))]


def missed_call(call_id: str, at: int = 0) -> list[CallEvent]:
    return [ev(call_id, CallState.RINGING, at, extension="101"), ev(call_id, CallState.MISSED, at + 25)]


def _client(app, owner_id: int | None, *, phone: str = CLIENT, with_deal: bool = False) -> dict[str, int]:
    with app.app_context(), unit_of_work():
        admin = Actor(user=db.session.scalar(select(User).where(User.is_admin.is_(True)).limit(1)))
        person = contacts.save(admin, None, {"first_name": "Ольга", "last_name": "Звонкова", "owner_id": owner_id,
                                             "phones": [{"raw": phone}]})
        found = {"contact": person.id}
        if with_deal:
            pipeline = deals.ensure_default_pipeline()
            deal = deals.save(admin, None, {"title": "Поставка", "pipeline_id": pipeline.id, "contact_id": person.id,
                                            "owner_id": owner_id})
            found["deal"] = deal.id
        return found


def _manager(app, email: str = "olga.m@example.com", extension: str | None = "101") -> int:
    user = create_user(app, email, full_name="Менеджер Первый")
    with app.app_context(), unit_of_work():
        db.session.get(User, user.id).extension = extension
    return user.id


def _record(app, events: list[CallEvent], provider: str = "fakepbx") -> list[int]:
    """Fold ``events`` as a webhook job would, and let the jobs it queued (a recording's first try) run."""
    with app.app_context(), unit_of_work():
        touched = [c.id for c in calls.record_events(provider, events)]
    wait_for_jobs(app)
    return touched


def _events(name: str) -> list[dict]:
    return [e.payload for e in db.session.scalars(select(OutboxEvent).where(OutboxEvent.name == name)
                                                  .order_by(OutboxEvent.id))]


def test_an_answered_call_from_a_client_lands_on_their_deal_and_timeline_once(pbx_app, admin):
    manager = _manager(pbx_app)
    client = _client(pbx_app, manager, with_deal=True)
    (call_id,) = set(_record(pbx_app, answered_call()))
    _record(pbx_app, answered_call())  # the provider retried every webhook: nothing changes
    with pbx_app.app_context():
        call = db.session.get(Call, call_id)
        assert (call.state, call.outcome, call.direction) == ("ended", "answered", "in")
        assert (call.contact_id, call.deal_id, call.user_id, call.extension) == (client["contact"], client["deal"],
                                                                                 manager, "101")
        assert (call.client_number, call.line_number, call.wait_seconds, call.talk_seconds) == (CLIENT, LINE, 12, 60)
        assert call.answered_at == T0 + timedelta(seconds=12) and call.ended_at == T0 + timedelta(seconds=72)
        item = db.session.get(InboxItem, call.inbox_item_id)
        assert (item.status, item.deal_id, item.channel) == ("attached", client["deal"], "phone")
        entries = list(db.session.scalars(select(Activity).where(Activity.contact_id == client["contact"],
                                                                 Activity.kind == "call")))
        assert len(entries) == 1, "the call and its inbox item share one timeline entry"
        assert entries[0].data["call_id"] == call.id and entries[0].data["duration"] == 60
        assert entries[0].data["deal_id"] == client["deal"] and "missed" not in entries[0].data
        for name in ("call_started", "call_answered", "call_ended"):
            assert [e["subject_id"] for e in _events(name)] == [call.id], name
        assert _events("call_missed") == []
        assert call.recording_state == "pending"


FACTS = ("state", "outcome", "direction", "client_number", "line_number", "user_id", "extension", "contact_id",
         "deal_id", "started_at", "answered_at", "ended_at", "wait_seconds", "talk_seconds", "recording_state")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(3)), repeats=st.lists(st.integers(0, 2), max_size=3))
def test_events_in_any_order_and_repeated_give_the_same_call(pbx_app, admin, order, repeats):
    """Whatever order a call's webhooks arrive in, and however many come twice, the call ends up the same, with one
    timeline entry and each call event emitted once."""
    if "test.call_manager" not in pbx_app.extensions:  # once per test: hypothesis runs the body many times
        pbx_app.extensions["test.call_manager"] = _manager(pbx_app)
        _client(pbx_app, pbx_app.extensions["test.call_manager"], with_deal=True)
    with pbx_app.app_context():
        entries_before = db.session.scalar(select(func.count()).select_from(Activity).where(Activity.kind == "call"))
    call_key = f"perm-{entries_before}"
    steps = answered_call(call_key)
    for index in [*order, *repeats]:
        _record(pbx_app, [steps[index]])
    with pbx_app.app_context():
        call = db.session.scalar(select(Call).where(Call.external_id == call_key))
        facts = {name: getattr(call, name) for name in FACTS}
        assert facts == {"state": "ended", "outcome": "answered", "direction": "in", "client_number": CLIENT,
                         "line_number": LINE, "user_id": pbx_app.extensions["test.call_manager"], "extension": "101",
                         "contact_id": facts["contact_id"], "deal_id": facts["deal_id"], "started_at": T0,
                         "answered_at": T0 + timedelta(seconds=12), "ended_at": T0 + timedelta(seconds=72),
                         "wait_seconds": 12, "talk_seconds": 60, "recording_state": "pending"}
        assert facts["contact_id"] is not None and facts["deal_id"] is not None
        entries = db.session.scalar(select(func.count()).select_from(Activity).where(Activity.kind == "call"))
        assert entries == entries_before + 1
        for name in ("call_started", "call_answered", "call_ended"):
            assert [e["subject_id"] for e in _events(name)].count(call.id) == 1, name
        assert _events("call_missed") == []


def test_missed_calls_from_a_new_number_make_one_lead_and_one_call_back_task(pbx_app, admin):
    rule_owner = create_user(pbx_app, "duty@example.com", full_name="Дежурный")
    with pbx_app.app_context(), unit_of_work():
        db.session.add(AssignmentRule(name="Звонки", strategy="fixed", user_id=rule_owner.id, channel="phone",
                                      follow_up_minutes=10))
    first = _record(pbx_app, missed_call("m1"))[0]
    second = _record(pbx_app, missed_call("m2", at=300))[0]
    with pbx_app.app_context():
        one, two = db.session.get(Call, first), db.session.get(Call, second)
        assert (one.state, one.outcome, two.outcome) == ("missed", "missed", "missed")
        assert one.callback_task_id is not None and one.callback_task_id == two.callback_task_id
        task = db.session.get(Task, one.callback_task_id)
        assert task.owner_id == rule_owner.id and task.status == "open"
        assert abs(task.due_at - (utcnow() + timedelta(minutes=10))) < timedelta(minutes=1), "due from now"
        assert task.title.endswith("(916) 123-45-67"), task.title  # the number as the manager dials it
        assert [e["data"]["task_id"] for e in _events("call_missed")] == [task.id, task.id]
        items = list(db.session.scalars(select(InboxItem)))
        assert len(items) == 2 and {i.proposal for i in items} == {"new_lead"} and {i.status for i in items} == {"new"}
    # an operator accepts the first call as a lead: the call and its task follow the new client and deal,
    # and the lead gets no second follow-up task
    with pbx_app.app_context(), unit_of_work():
        boss = Actor(user=db.session.get(User, admin.id))
        item = inbox.accept(boss, db.session.get(InboxItem, one.inbox_item_id))
        contact_id, deal_id = item.contact_id, item.deal_id
    with pbx_app.app_context():
        one = db.session.get(Call, first)
        assert (one.contact_id, one.deal_id) == (contact_id, deal_id)
        task = db.session.get(Task, one.callback_task_id)
        assert (task.contact_id, task.deal_id) == (contact_id, deal_id)
        assert db.session.scalar(select(func.count()).select_from(Task).where(Task.deal_id == deal_id)) == 1
        entry = db.session.scalar(select(Activity).where(Activity.contact_id == contact_id, Activity.kind == "call"))
        assert entry.data["call_id"] == one.id and entry.data["missed"] is True


def test_a_missed_call_from_a_client_is_their_managers_to_call_back_and_the_call_back_closes_it(pbx_app, admin):
    manager = _manager(pbx_app, extension="102")
    client = _client(pbx_app, manager)
    missed = _record(pbx_app, missed_call("m1"))[0]
    _record(pbx_app, missed_call("m2", at=60))
    with pbx_app.app_context():
        call = db.session.get(Call, missed)
        task = db.session.get(Task, call.callback_task_id)
        assert (task.owner_id, task.contact_id, task.status) == (manager, client["contact"], "open")
        assert "Ольга Звонкова" in task.title
    # the manager calls the client back and they talk
    _record(pbx_app, [ev("out-1", CallState.RINGING, 600, direction=CallDirection.OUTBOUND, extension="102"),
                      ev("out-1", CallState.ANSWERED, 610, direction=CallDirection.OUTBOUND, extension="102"),
                      ev("out-1", CallState.ENDED, 700, direction=CallDirection.OUTBOUND, duration=90)])
    with pbx_app.app_context():
        assert db.session.get(Task, task.id).status == "done"
        assert all(c.called_back_at == T0 + timedelta(seconds=610)
                   for c in db.session.scalars(select(Call).where(Call.outcome == "missed")))
        outbound = db.session.scalar(select(Call).where(Call.external_id == "out-1"))
        assert (outbound.direction, outbound.outcome, outbound.inbox_item_id) == ("out", "answered", None)


def test_an_answer_that_arrives_after_the_end_takes_the_missed_call_back(pbx_app, admin):
    _client(pbx_app, _manager(pbx_app))
    call_id = _record(pbx_app, [ev("late", CallState.RINGING, 0, extension="101"),
                                ev("late", CallState.ENDED, 80, duration=0)])[0]
    with pbx_app.app_context():
        task_id = db.session.get(Call, call_id).callback_task_id
        assert task_id is not None
    _record(pbx_app, [ev("late", CallState.ANSWERED, 20, extension="101")])
    with pbx_app.app_context():
        call = db.session.get(Call, call_id)
        assert (call.outcome, call.callback_task_id, call.talk_seconds) == ("answered", None, 0)
        assert db.session.get(Task, task_id).status == "cancelled"


def test_outbound_calls_nobody_answered_say_why(pbx_app, admin):
    for call_id, reason, outcome in (("o1", "busy", "busy"), ("o2", "", "no_answer"), ("o3", "CHANUNAVAIL", "failed")):
        _record(pbx_app, [ev(call_id, CallState.RINGING, 0, direction=CallDirection.OUTBOUND, extension="101"),
                          ev(call_id, CallState.ENDED, 30, direction=CallDirection.OUTBOUND, reason=reason)])
        with pbx_app.app_context():
            call = db.session.scalar(select(Call).where(Call.external_id == call_id))
            assert (call.state, call.outcome, call.callback_task_id) == ("ended", outcome, None)
            assert _events("call_missed") == []


def test_internal_calls_and_the_companys_own_numbers_are_never_leads(pbx_app, admin):
    _manager(pbx_app)
    internal = [ev("int", CallState.RINGING, 0, from_number="102", to_number="101", extension="101"),
                ev("int", CallState.MISSED, 20, from_number="102", to_number="101")]
    _record(pbx_app, internal)
    with pbx_app.app_context(), unit_of_work():
        db.session.add(OwnNumber(number="+79035550000", label="Мобильный директора"))
    _record(pbx_app, [ev("own", CallState.RINGING, 0, from_number="+7 903 555-00-00"),
                      ev("own", CallState.MISSED, 10, from_number="+7 903 555-00-00")])
    with pbx_app.app_context():
        internal_call = db.session.scalar(select(Call).where(Call.external_id == "int"))
        assert (internal_call.direction, internal_call.client_number, internal_call.outcome) == ("internal", None,
                                                                                                 "missed")
        own = db.session.scalar(select(Call).where(Call.external_id == "own"))
        assert own.client_number == "+79035550000" and own.outcome == "missed"
        assert db.session.scalar(select(func.count()).select_from(InboxItem)) == 0
        assert db.session.scalar(select(func.count()).select_from(Task)) == 0
        assert _events("call_missed") == []
        assert db.session.get(OwnNumber, LINE).seen_as_line, "the line the PBX reported is remembered as ours"
    # a call from one of our lines (a colleague calling through the PBX from outside) is not a lead either
    _record(pbx_app, [ev("from-line", CallState.RINGING, 0, from_number=LINE, to_number="+74950000000"),
                      ev("from-line", CallState.MISSED, 5, from_number=LINE, to_number="+74950000000")])
    with pbx_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(InboxItem)) == 0


def test_routing_rings_the_owners_extension_and_leaves_the_rest_to_the_pbx(pbx_app, admin):
    manager = _manager(pbx_app, extension="105")
    _client(pbx_app, manager)
    with pbx_app.app_context():
        answer = route_call(IncomingCall(call_id="r1", from_number="8 (916) 123-45-67", line_number=LINE))
        assert answer is not None and answer.extensions == ("105",) and answer.user_ids == (manager,)
        assert answer.caller_name == "Ольга Звонкова"
        assert route_call(IncomingCall(call_id="r2", from_number="+79990000001")) is None
    with pbx_app.app_context(), unit_of_work():
        db.session.get(User, manager).is_active = False
    with pbx_app.app_context():
        assert route_call(IncomingCall(call_id="r3", from_number=CLIENT)) is None, "a manager who left rings nobody"


def test_a_recording_is_fetched_with_growing_pauses_and_kept_beside_the_call(pbx_app, admin):
    client = _client(pbx_app, _manager(pbx_app))
    call_id = _record(pbx_app, answered_call("rec"))[0]
    now = T0 + timedelta(minutes=2)
    with pbx_app.app_context(), unit_of_work():  # the provider is still preparing it
        tried = db.session.get(Call, call_id).recording_attempts  # the job queued by the call may have tried once
        assert recordings.fetch(call_id, now) == "waiting"
        call = db.session.get(Call, call_id)
        pause = recordings.pause_after(tried + 1)
        assert call.recording_next_at == now + pause and "prepared" in call.recording_error
        assert recordings.due(now) == [] and recordings.due(now + pause) == [call_id]
    with pbx_app.app_context(), unit_of_work():
        assert recordings.fetch(call_id, now + pause) == "waiting"
        assert db.session.get(Call, call_id).recording_next_at == now + pause + 2 * pause
    telecom.RECORDINGS["rec-rec"] = b"ID3\x04\x00" + b"\x00" * 2000
    with pbx_app.app_context():
        assert recordings.fetch_due(now + timedelta(minutes=5)) == {"ready": 1}
    with pbx_app.app_context():
        call = db.session.get(Call, call_id)
        attachment = db.session.get(Attachment, call.recording_attachment_id)
        assert (call.recording_state, attachment.content_type, attachment.size) == ("ready", "audio/mpeg", 2005)
        assert attachment.activity.contact_id == client["contact"] and attachment.activity.kind == "call"
        assert call.recording_ref["url"] is None, "no provider link is kept once the file is ours"
        assert [e["data"]["attachment_id"] for e in _events("recording_ready")] == [attachment.id]
        assert recordings.fetch(call_id) == "skipped"


def test_a_recording_the_provider_refuses_or_never_readies_is_given_up(pbx_app, admin):
    _client(pbx_app, None)
    gone = _record(pbx_app, [ev("g", CallState.ANSWERED, 0), ev("g", CallState.ENDED, 30,
                                                                 recording=RecordingRef(ref="gone-1"))])[0]
    never = _record(pbx_app, [ev("n", CallState.ANSWERED, 0), ev("n", CallState.ENDED, 30,
                                                                  recording=RecordingRef(ref="never"))])[0]
    with pbx_app.app_context(), unit_of_work():
        assert db.session.get(Call, gone).recording_state == "failed", "refused at the first try: never retried"
        assert recordings.fetch(gone, T0 + timedelta(minutes=1)) == "skipped"
        assert recordings.fetch(never, T0 + timedelta(minutes=1)) == "waiting"
        assert recordings.fetch(never, T0 + timedelta(days=1, minutes=1)) == "failed"
        assert "404" in db.session.get(Call, gone).recording_error
        assert db.session.get(Call, never).recording_state == "failed"


@pytest.mark.parametrize("attempts", range(1, 12))
def test_recording_pauses_double_and_stop_growing_at_an_hour(attempts):
    pause = recordings.pause_after(attempts)
    assert pause == min(timedelta(seconds=30 * 2 ** (attempts - 1)), timedelta(hours=1))


@pytest.mark.parametrize("typed", ["+7 (916) 123-45-67", "89161234567", "9161234567", "79161234567",
                                   "+7 916 123 45 67", "8-916-123-45-67"])
def test_a_number_in_any_format_finds_the_same_client(app, make_app, admin, typed):
    """However the PBX writes the caller's number, it is the client whose phone was typed another way."""
    pbx_app = make_app(extra_plugins=[("telecom", telecom)], MAYAK_PHONE_REGION="RU")
    client = _client(pbx_app, None)
    call_id = _record(pbx_app, [ev("fmt", CallState.RINGING, 0, from_number=typed)])[0]
    with pbx_app.app_context():
        call = db.session.get(Call, call_id)
        assert (call.client_number, call.contact_id) == (CLIENT, client["contact"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(call_id=st.text(max_size=300), extension=st.text(max_size=30), reason=st.text(max_size=300))
def test_whatever_ids_a_provider_sends_the_events_are_kept_or_skipped_never_failing(pbx_app, admin, call_id,
                                                                                   extension, reason):
    """A provider's ids and words with control characters (a NUL PostgreSQL refuses), separators or too many
    characters: the call is kept with what the database can hold, or the event skipped when no id is left — the
    delivery never fails and is never retried for ever."""
    events = [ev(call_id, CallState.RINGING, 0, extension=extension),
              ev(call_id, CallState.ENDED, 30, reason=reason)]
    with pbx_app.app_context(), unit_of_work():
        touched = calls.record_events("fakepbx", events)
        assert len(touched) <= 1
        for call in touched:
            assert call.external_id and len(call.external_id) <= 200 and "\x00" not in call.external_id
