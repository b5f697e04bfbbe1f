"""One unit of work per request, job and command (issue 11, item 6): services never commit; idempotent inserts
use SAVEPOINTs, so a duplicate never undoes the caller's other writes; inbox items follow their thing's events in
any order."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core.db import db, unit_of_work
from core.models import Activity, AuditEntry, Company, Contact, InboxItem, OutboxEvent, User
from core.services.clients import companies, contacts, timeline
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.services.work import deals, inbox
from core.testing.fixtures import post_form
from tests.test_query_budget import counted

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _actor(user_id: int) -> Actor:
    return Actor(db.session.get(User, user_id))


def _client(app, admin_id: int) -> int:  # type: ignore[no-untyped-def]
    with app.app_context(), unit_of_work():
        return contacts.save(_actor(admin_id), None, {"first_name": "Вера", "phones": [{"raw": "+7 916 100-20-30"}]}).id


def test_a_duplicate_timeline_entry_keeps_the_callers_other_writes(app, admin):
    """The entry's insert meets the unique (source, external_id) inside a SAVEPOINT: the duplicate returns the
    stored entry and the company written before it in the same unit of work is committed with it."""
    contact_id = _client(app, admin.id)
    with app.app_context(), unit_of_work():
        first = timeline.record(kind="call", contact_id=contact_id, source="pbx", external_id="call-7", title="1")
        first_id = first.id
    with app.app_context(), unit_of_work():
        companies.save(_actor(admin.id), None, {"name": "ООО «Икс»"})  # X: the caller's own write
        # a racing delivery: the other entry is in the session but not flushed when record() looks for it, so
        # the lookup misses and the insert itself hits the unique key
        with db.session.no_autoflush:
            db.session.add(Activity(kind="call", contact_id=contact_id, source="pbx", external_id="call-8"))
            again = timeline.record(kind="call", contact_id=contact_id, source="pbx", external_id="call-8")
        repeat = timeline.record(kind="call", contact_id=contact_id, source="pbx", external_id="call-7")
        assert repeat.id == first_id and again.external_id == "call-8"
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(func.count(Company.id)).where(Company.name == "ООО «Икс»")) == 1
        assert db.session.scalar(select(func.count(Activity.id)).where(Activity.source == "pbx")) == 2


@pytest.mark.postgres
def test_a_duplicate_from_a_concurrent_transaction_keeps_the_callers_other_writes(app, admin):
    """A real race on PostgreSQL: another transaction inserts the same entry and commits while this one's insert
    waits on the unique index; this one gets the other's entry and still commits its own company."""
    contact_id = _client(app, admin.id)
    with app.app_context(), unit_of_work():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite has one writer: two transactions cannot race on a unique index")
        other = db.engine.connect()
        other_tx = other.begin()
        other.execute(Activity.__table__.insert().values(kind="call", contact_id=contact_id, source="pbx",
                                                         external_id="call-9", title="other", body="", data={},
                                                         occurred_at=T0, created_at=T0))
        timer = threading.Timer(0.5, other_tx.commit)
        timer.start()
        try:
            with unit_of_work():
                companies.save(_actor(admin.id), None, {"name": "ООО «Игрек»"})
                entry = timeline.record(kind="call", contact_id=contact_id, source="pbx", external_id="call-9",
                                        title="mine")
                assert entry.title == "other"
        finally:
            timer.join()
            other.close()
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(func.count(Company.id)).where(Company.name == "ООО «Игрек»")) == 1
        assert db.session.scalar(select(func.count(Activity.id)).where(Activity.external_id == "call-9")) == 1


def test_refused_input_undoes_only_that_save(app, admin):
    """A save refused for its input rolls back its own SAVEPOINT, not what the caller wrote before."""
    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        companies.save(actor, None, {"name": "ООО «Зет»"})
        with pytest.raises(InvalidInput):
            contacts.save(actor, None, {"first_name": "", "phones": []})
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(func.count(Company.id)).where(Company.name == "ООО «Зет»")) == 1
        assert db.session.scalar(select(func.count(Contact.id))) == 0


def _refusals():  # type: ignore[no-untyped-def]
    """Every save service that runs in core.db.savepoint(), each with input it refuses."""
    from core.services.work import assignment, lead_forms, pipelines, tasks

    return {
        "contact": lambda actor: contacts.save(actor, None, {"first_name": "", "phones": []}),
        "company": lambda actor: companies.save(actor, None, {"name": ""}),
        "deal": lambda actor: deals.save(actor, None, {"title": ""}),
        "task": lambda actor: tasks.save(actor, None, {"title": ""}),
        "pipeline": lambda actor: pipelines.save(actor, None, {"name": ""}),
        "assignment rule": lambda actor: assignment.save_rule(actor, None, {}),
        "lead form": lambda actor: lead_forms.save(actor, None, {}),
    }


EARLIER_WRITES = {
    "flushed": lambda: (db.session.add(Company(name="ООО «Раньше»")), db.session.flush()),
    "pending": lambda: db.session.add(Company(name="ООО «Раньше»")),
    "bulk": lambda: db.session.execute(db.insert(Company).values(name="ООО «Раньше»")),
}


@pytest.mark.parametrize("earlier", [None, *EARLIER_WRITES])
@pytest.mark.parametrize("service", list(_refusals()))
def test_every_refused_save_keeps_exactly_the_callers_earlier_writes(app, admin, service, earlier):
    """Refused input undoes the save and nothing else, whether the caller wrote before (flushed, still pending in
    the session, or a bulk statement) or not; the transaction stays usable and commits what is left. A save in a
    transaction that wrote nothing runs without a SAVEPOINT (nothing earlier to keep)."""
    from core.services.platform.errors import ValidationError

    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        if earlier is not None:
            EARLIER_WRITES[earlier]()
        with counted(app) as sent, pytest.raises((InvalidInput, ValidationError)):
            _refusals()[service](actor)
        companies.save(_actor(admin.id), None, {"name": "ООО «После»"})
    with app.app_context():
        names = set(db.session.scalars(select(Company.name)))
        assert names == ({"ООО «После»"} if earlier is None else {"ООО «Раньше»", "ООО «После»"})
        assert db.session.scalar(select(func.count(Contact.id))) == 0
    if earlier is None:
        assert not [s for s in sent if s.startswith("SAVEPOINT")], sent


@pytest.mark.parametrize("earlier", [None, *EARLIER_WRITES])
def test_a_save_opens_a_savepoint_only_when_there_are_earlier_writes_to_keep(app, admin, earlier):
    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        if earlier is not None:
            EARLIER_WRITES[earlier]()
        with counted(app) as sent:
            contacts.save(actor, None, {"first_name": "Пётр", "phones": [{"raw": "+7 916 555-00-11"}]})
    assert bool([s for s in sent if s.startswith("SAVEPOINT")]) == (earlier is not None), sent


def test_services_leave_the_commit_to_the_caller(app, admin):
    """Without the caller's commit nothing a service wrote is kept."""
    with app.app_context(), unit_of_work():
        contacts.save(_actor(admin.id), None, {"first_name": "Призрак"})
        db.session.rollback()
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(func.count(Contact.id))) == 0


def test_a_request_commits_on_success_and_rolls_back_on_failure(app, admin, admin_client):
    made = post_form(admin_client, "/contacts/new", {"first_name": "Сохранённый"})
    assert made.status_code == 302
    refused = post_form(admin_client, "/contacts/new", {"first_name": "", "emails-0-address": "not an email"})
    assert refused.status_code in (400, 422)
    with app.app_context(), unit_of_work():
        names = set(db.session.scalars(select(Contact.first_name)))
        assert names == {"Сохранённый"}


def test_a_command_is_one_unit_of_work(app, admin):
    result = app.test_cli_runner().invoke(args=["demo-data", "--size", "4"])
    assert result.exit_code == 0, result.output
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(func.count(Contact.id))) == 4


CALL = [("ringing", 0, {}), ("answered", 5, {"operator": "101"}), ("ended", 65, {"duration": 60}),
        ("recording", 80, {"recording": "rec-1.mp3"})]


@pytest.mark.parametrize("order", list(itertools.permutations(range(4)))[::5])
def test_a_call_follows_its_events_in_any_order_on_one_item(app, order):
    """ringing -> answered -> ended -> recording, delivered in any order: one item, the newest state, every fact
    filled in, a late "ringing" never overwriting "ended"; each update audited as the provider."""
    with app.app_context(), unit_of_work():
        results = []
        for index in order:
            state, seconds, fields = CALL[index]
            results.append(inbox.receive(inbox.IncomingItem(
                channel="phone", source="pbx", external_id="call-42", phone="+7 903 555-00-11", state=state,
                occurred_at=T0 + timedelta(seconds=seconds), fields=fields,
                name="Звонящий" if state == "answered" else "")))
        assert [r.created for r in results] == [True, False, False, False]
        assert len({r.item.id for r in results}) == 1
    with app.app_context(), unit_of_work():
        item = db.session.scalar(select(InboxItem))
        assert db.session.scalar(select(func.count(InboxItem.id))) == 1
        assert item.state == "recording" and item.occurred_at == T0 + timedelta(seconds=80)
        assert item.fields == {"operator": "101", "duration": 60, "recording": "rec-1.mp3"}
        assert item.name == "Звонящий"
        updates = list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "inbox.updated")))
        assert updates and all(u.actor_id is None and u.actor_label == "provider" for u in updates)


def test_an_older_event_fills_in_but_never_overwrites(app):
    with app.app_context(), unit_of_work():
        inbox.receive(inbox.IncomingItem(channel="phone", source="pbx", external_id="c-1", state="ended",
                                         occurred_at=T0 + timedelta(minutes=2), fields={"duration": 90}))
        late = inbox.receive(inbox.IncomingItem(channel="phone", source="pbx", external_id="c-1", state="ringing",
                                                occurred_at=T0, fields={"duration": 0, "line": "2"},
                                                phone="+7 903 555-00-12"))
        assert not late.created and late.updated
        assert late.item.state == "ended" and late.item.fields == {"duration": 90, "line": "2"}
        assert late.item.phone_e164 == "+79035550012"
        same = inbox.receive(inbox.IncomingItem(channel="phone", source="pbx", external_id="c-1", state="ringing",
                                                occurred_at=T0, fields={"duration": 0, "line": "2"}))
        assert not same.created and not same.updated
        updated = list(db.session.scalars(select(OutboxEvent).where(OutboxEvent.name == "inbox_item_updated")))
        assert len(updated) == 1  # the repeat changed nothing and emitted nothing
        assert updated[0].payload["data"]["state"] == "ended" and "phone" in updated[0].payload["data"]["changed"]


def test_a_plain_repeat_is_still_one_item_and_a_changed_one_is_refused(app):
    with app.app_context(), unit_of_work():
        first = inbox.receive(inbox.IncomingItem(channel="web_form", source="form:1", external_id="k1", name="А"))
        again = inbox.receive(inbox.IncomingItem(channel="web_form", source="form:1", external_id="k1", name="А"))
        assert first.created and not again.created and not again.updated and again.item.id == first.item.id
        with pytest.raises(inbox.KeyReused):
            inbox.receive(inbox.IncomingItem(channel="web_form", source="form:1", external_id="k1", name="Б"))


def test_automatic_sorting_is_audited_as_the_provider(app, admin):
    """The inbox attaching a call to the client's open deal, and auto-accepting a new lead, leave audit lines
    naming the provider (no user)."""
    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        client = contacts.save(actor, None, {"first_name": "Ольга", "phones": [{"raw": "+7 916 222-33-44"}]})
        pipeline = deals.ensure_default_pipeline()
        deals.save(actor, None, {"title": "Окна", "pipeline_id": pipeline.id, "contact_id": client.id})
        inbox.set_auto_accept(actor, "email", True)
    with app.app_context(), unit_of_work():
        attached = inbox.receive(inbox.IncomingItem(channel="phone", source="pbx", external_id="a-1",
                                                    phone="+7 916 222-33-44")).item
        accepted = inbox.receive(inbox.IncomingItem(channel="email", source="mail", external_id="m-1",
                                                    email="new@example.com", name="Новый Клиент")).item
        assert attached.status == "attached" and accepted.status == "accepted"
        attached_id, accepted_id = attached.id, accepted.id
    with app.app_context(), unit_of_work():
        lines = {(e.action, e.target_id): e for e in db.session.scalars(select(AuditEntry))}
        attach = lines[("inbox.attached", str(attached_id))]
        assert attach.actor_id is None and attach.actor_label == "provider" and attach.changes["source"] == "pbx"
        assert lines[("inbox.accepted", str(accepted_id))].changes["automatic"] is True
        made = [e for (action, _id), e in lines.items() if action == "contact.created" and e.actor_id is None]
        assert made and made[0].changes["inbox_item"] == accepted_id


def test_a_plugins_timeline_writes_are_audited_as_the_plugin(app, admin):
    """What a plugin writes through the public entry points is audited under its name; a repeat is not."""
    from mayak import record_timeline_entry, update_timeline_entry

    contact_id = _client(app, admin.id)
    with app.app_context(), unit_of_work():
        record_timeline_entry(kind="call", contact_id=contact_id, source="pbx", external_id="c-5", title="Звонок")
        record_timeline_entry(kind="call", contact_id=contact_id, source="pbx", external_id="c-5", title="Звонок")
        update_timeline_entry(source="pbx", external_id="c-5", data={"duration": 42})
        update_timeline_entry(source="pbx", external_id="c-5", data={"duration": 42})
    with app.app_context():
        lines = list(db.session.scalars(select(AuditEntry).where(AuditEntry.action.like("timeline.%"))
                                        .order_by(AuditEntry.id)))
        assert [(e.action, e.actor_id, e.actor_label, e.target_id) for e in lines] == [
            ("timeline.recorded", None, "provider", str(contact_id)),
            ("timeline.updated", None, "provider", str(contact_id))]
        assert lines[0].changes["source"] == "pbx" and lines[1].changes["changed"] == ["data"]


def test_long_running_commands_commit_their_own_work_and_are_not_one_transaction():
    """A worker, the scheduler and the server run for days: wrapped as one unit of work, their whole life was one
    open transaction (inherited by every forked work horse)."""
    from core.commands import scheduler_command, serve, worker

    for command in (serve, worker, scheduler_command):
        assert getattr(command.callback, "_mayak_unit_of_work", False), command.name
