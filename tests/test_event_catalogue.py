"""The event contract (issue 11, item 1): every event documented, typed payloads that round-trip, each change to
client data emitting its event with the right origin, one import_finished per import, demo traffic marked, the
webhook plugin skipping the origins it is told to, and the catalogue page."""

from __future__ import annotations

import json
import re
import time
import typing
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core import create_app
from core.db import db, unit_of_work
from core.errors import StartupError
from core.jobs.dispatch import dispatch_pending
from core.models import Contact, EventDelivery, OutboxEvent, User
from core.plugins import facades
from core.plugins.events import CORE_EVENTS, EVENTS, ContactCreated, Event, Origin, UserCreated
from core.services.clients import companies, company_merge, contacts, timeline
from core.services.platform import events
from core.services.platform.context import Actor
from core.services.users import tokens
from core.services.work import deals, inbox, tasks
from core.testing.fixtures import PROJECT_ROOT, app_environ, post_form, wait_for_jobs
from tests.import_samples import write
from tests.loopback import HookReceiver

DOCS = PROJECT_ROOT / "docs" / "events.md"


def _outbox(app: Any, name: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    with app.app_context(), unit_of_work():
        query = select(OutboxEvent).order_by(OutboxEvent.id)
        if name is not None:
            query = query.where(OutboxEvent.name == name)
        return [(row.name, dict(row.payload)) for row in db.session.scalars(query)]


def _clear_outbox(app: Any) -> None:
    with app.app_context(), unit_of_work():
        db.session.execute(EventDelivery.__table__.delete())
        db.session.execute(OutboxEvent.__table__.delete())
        db.session.commit()


def _actor(user_id: int, via: str = "web") -> Actor:
    return Actor(db.session.get(User, user_id), via=via)


# --- the catalogue and its documentation ------------------------------------------------------------------


def _bundled_catalogue(tmp_path: Path) -> dict[str, type[Event]]:
    """The catalogue of an app with the repository's plugins.toml (core and the bundled plugins)."""
    plugins_file = tmp_path / "plugins.toml"
    plugins_file.write_text((PROJECT_ROOT / "plugins.toml").read_text(encoding="utf-8"), encoding="utf-8")
    built = create_app({"TESTING": True}, environ=app_environ(f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "i",
                                                             MAYAK_PLUGINS_FILE=str(plugins_file)))
    with built.app_context(), unit_of_work():
        return dict(facades.event_catalogue())


def _documented() -> dict[str, str]:
    """Each ``### `name``` section of docs/events.md and its text."""
    text = DOCS.read_text(encoding="utf-8")
    parts = re.split(r"^### `(\w+)`\s*$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_event_in_the_catalogue_is_documented_with_its_fields(tmp_path):
    catalogue = _bundled_catalogue(tmp_path)
    documented = _documented()
    assert set(catalogue) - set(documented) == set(), "document these events in docs/events.md"
    assert set(documented) - set(catalogue) == set(), "docs/events.md documents events that do not exist"
    for name, cls in catalogue.items():
        section = documented[name]
        assert f"Version {cls.version} · subject `{cls.subject_type}`" in section, name
        for field, _kind in cls.fields():
            assert f"| `{field}` |" in section, f"docs/events.md: {name} does not describe its field {field}"
    assert "webhook_ping" in catalogue, "the webhooks plugin's own event joins the catalogue"


def _sample(kind: Any) -> Any:
    if typing.get_origin(kind) in (typing.Union, __import__("types").UnionType):
        return _sample(next(arg for arg in typing.get_args(kind) if arg is not type(None)))
    if typing.get_origin(kind) is tuple:
        return (_sample(typing.get_args(kind)[0]),) * 2
    return {int: 7, str: "текст", bool: True, Decimal: Decimal("150000.50"),
            datetime: datetime(2026, 12, 1, 9, 30, tzinfo=UTC), date: date(2026, 12, 1)}[kind]


@pytest.mark.parametrize("cls", CORE_EVENTS, ids=lambda cls: cls.name)
def test_every_core_event_survives_the_outbox_as_json(cls):
    event = cls(subject_id=3, origin=Origin("api", user_id=2, detail="token:5"),
                **{name: _sample(kind) for name, kind in cls.fields()})
    payload = json.loads(json.dumps(event.to_payload()))
    assert payload["version"] == cls.version and payload["subject_type"] == cls.subject_type
    back = cls.from_payload(payload, id=11)
    assert back == type(event)(**{**event.__dict__, "id": 11})


def test_an_older_payload_without_a_new_field_takes_its_default():
    payload = ContactCreated(subject_id=1, origin=Origin("user", 1)).to_payload()
    del payload["data"]["company_id"]
    assert ContactCreated.from_payload(payload).company_id is None


def test_origins_and_handlers_are_checked():
    with pytest.raises(ValueError, match="unknown origin"):
        Origin("martians")
    from core.plugins.events import EventHandler

    with pytest.raises(ValueError, match="tuple of names"):
        EventHandler("x.y", "deal_won", print)  # type: ignore[arg-type]
    handler = EventHandler("x.y", ("deal_won", "user_created"), print, origins=("user",))
    assert handler.wants(UserCreated(subject_id=1, origin=Origin("user"), email="a@b.c"))
    assert not handler.wants(UserCreated(subject_id=1, origin=Origin("demo"), email="a@b.c"))


# --- services emit, with their origin ---------------------------------------------------------------------


def test_a_contact_made_on_the_web_and_through_the_api_says_so(app, admin, admin_client, client):
    response = post_form(admin_client, "/contacts/new", {"first_name": "Мария", "phone_raw": "+7 916 000-00-01",
                                                         "phone_kind": "mobile"})
    assert response.status_code in (200, 302, 303), response.data[:300]
    with app.app_context(), unit_of_work():
        token = tokens.create(_actor(admin.id), db.session.get(User, admin.id), "events")
        db.session.commit()
        token_id = tokens.authenticate(token).token.id
    created = client.post("/api/v1/contacts", headers={"Authorization": f"Bearer {token}"},
                          json={"first_name": "Анна"})
    assert created.status_code == 201, created.get_json()
    web, api = _outbox(app, "contact_created")
    assert web[1]["origin"] == {"kind": "user", "user_id": admin.id, "detail": ""}
    assert api[1]["origin"] == {"kind": "api", "user_id": admin.id, "detail": f"token:{token_id}"}
    assert api[1]["subject_type"] == "contact" and api[1]["subject_id"] == created.get_json()["data"]["id"]


def test_each_change_to_client_data_emits_its_event(app, admin, make_user):
    colleague = make_user("colleague@example.com", is_admin=True)
    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        pipeline = deals.ensure_default_pipeline()
        firm = companies.save(actor, None, {"name": "ООО Ромашка"})
        twin = companies.save(actor, None, {"name": "Ромашка ООО"})
        anna = contacts.save(actor, None, {"first_name": "Анна", "companies": [{"company_id": firm.id}]})
        db.session.commit()
        _clear_outbox(app)

        contacts.save(actor, anna, {"city": "Тула", "last_name": "Смирнова"}, partial=True)
        contacts.add_tags(actor, [anna.id], ["VIP"])
        contacts.reassign(actor, [anna.id], colleague.id)
        timeline.add_note(actor, contact=anna, body="Позвонить в понедельник")
        contacts.delete(actor, [anna.id])
        contacts.restore(actor, [anna.id])
        companies.save(actor, firm, {"city": "Казань"}, partial=True)
        company_merge.merge(actor, firm.id, [twin.id], {})
        deal = deals.save(actor, None, {"title": "Окна", "pipeline_id": pipeline.id, "contact_id": anna.id,
                                        "company_id": firm.id, "amount": "150000"})
        deals.save(actor, deal, {"title": "Окна ПВХ"}, partial=True)
        deals.move(actor, deal, next(s.id for s in pipeline.stages if s.kind == "won"))
        task = tasks.save(actor, None, {"title": "Перезвонить", "deal_id": deal.id})
        tasks.save(actor, task, {"priority": "high"}, partial=True)
        tasks.set_status(actor, task, "done")
        tasks.delete(actor, task)
        item, _created, _updated = inbox.receive(inbox.IncomingItem(
            channel="phone", source="manual:1", name="Лид", phone="+7 916 555 44 33", submitted_by_id=admin.id))
        inbox.reject(actor, item, "спам")
        db.session.commit()
        deal_id, anna_id, firm_id, twin_id = deal.id, anna.id, firm.id, twin.id

    emitted = _outbox(app)
    names = [name for name, _payload in emitted]
    assert names == [
        "contact_updated", "contact_tagged", "contact_reassigned", "note_added",
        "contact_deleted", "contact_restored", "company_updated", "company_merged",
        "deal_created", "deal_updated", "deal_stage_changed", "deal_won",
        "task_created", "task_updated", "task_completed", "task_deleted",
        "inbox_item_received", "inbox_item_rejected",
    ], names
    by_name = {name: payload for name, payload in emitted}
    assert emitted[0][1]["data"]["changed"] == ["city", "last_name"]
    assert by_name["contact_tagged"]["data"]["tags"] == ["VIP"]
    assert by_name["contact_reassigned"]["data"] == {"from_owner_id": admin.id, "to_owner_id": colleague.id}
    assert by_name["company_merged"]["subject_id"] == firm_id and by_name["company_merged"]["data"] == {
        "merged_ids": [twin_id]}
    assert by_name["deal_updated"]["data"]["changed"] == ["title"]
    won = by_name["deal_won"]
    assert won["subject_id"] == deal_id and won["data"]["contact_id"] == anna_id
    assert won["data"]["company_id"] == firm_id and won["data"]["amount"] == "150000.00"
    assert won["data"]["currency"] and won["data"]["owner_id"] == admin.id
    assert by_name["task_updated"]["data"]["changed"] == ["priority"]
    assert by_name["inbox_item_received"]["origin"]["kind"] == "user"
    assert {p["origin"]["kind"] for n, p in emitted if n != "inbox_item_received"} == {"user"}
    assert all(p["origin"]["user_id"] == admin.id for _n, p in emitted)


def test_an_unchanged_save_emits_nothing(app, admin):
    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        anna = contacts.save(actor, None, {"first_name": "Анна", "city": "Тула"})
        db.session.commit()
        _clear_outbox(app)
        contacts.save(actor, anna, {"city": "Тула"}, partial=True)
        db.session.commit()
    assert _outbox(app) == []


def test_demo_data_is_marked_demo(app, admin):
    from core.services.transfer import demo

    with app.app_context(), unit_of_work():
        demo.fill(8)
        db.session.commit()
    emitted = _outbox(app)
    assert {payload["origin"]["kind"] for _name, payload in emitted} == {"demo"}
    assert [name for name, _p in emitted].count("contact_created") == 8
    assert {"company_created", "deal_created", "task_created"} <= {name for name, _p in emitted}


def test_an_import_is_one_event(app, admin, tmp_path):
    path = write(tmp_path / "клиенты.csv")
    result = app.test_cli_runner().invoke(args=["import", "contacts", str(path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    emitted = _outbox(app)
    assert [name for name, _p in emitted] == ["import_finished"], "rows emit nothing of their own"
    finished = emitted[0][1]
    assert finished["origin"]["kind"] == "import" and finished["origin"]["detail"] == f"batch:{finished['subject_id']}"
    assert finished["data"]["created"] == summary["created"] == 6 and finished["data"]["rows"] == summary["rows"]
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(db.func.count(Contact.id))) == 6
    undone = app.test_cli_runner().invoke(args=["import", "undo", str(finished["subject_id"]), "--json"])
    assert undone.exit_code == 0, undone.output
    (name, payload), = _outbox(app)[1:]
    assert name == "import_undone" and payload["data"]["deleted"] == 6
    assert payload["origin"] == {"kind": "user", "user_id": admin.id, "detail": "cli"}


# --- delivery -------------------------------------------------------------------------------------------


@pytest.fixture
def receiver():
    hook = HookReceiver()
    yield hook
    hook.close()


def _webhook_app(make_app: Any, url: str, extra: str = "") -> Any:
    base = (PROJECT_ROOT / "plugins.toml").read_text(encoding="utf-8").split("[plugins.webhooks]")[0]
    return make_app(MAYAK_FETCH_ALLOW="127.0.0.1", MAYAK_TEST_WEBHOOK_SECRET="whsec-events",
                    plugins=base + f'[plugins.webhooks]\nurl = "{url}"\n'
                                   'secret = { env = "MAYAK_TEST_WEBHOOK_SECRET" }\n' + extra)


def _send_one_of_each_origin(hooked: Any, user_id: int, receiver: HookReceiver) -> None:
    with hooked.app_context(), unit_of_work():
        for kind in ("user", "demo", "import", "api"):
            events.emit(ContactCreated(subject_id=user_id, origin=Origin(kind, user_id=user_id)))
        db.session.commit()
    deadline = time.monotonic() + 15
    while len(receiver.bodies) < 2 and time.monotonic() < deadline:
        wait_for_jobs(hooked)
        time.sleep(0.1)
    wait_for_jobs(hooked)


@pytest.mark.parametrize(("skip", "sent"), [("", {"user", "import", "api"}),
                                            ('skip_origins = ["demo", "import"]\n', {"user", "api"})])
def test_the_webhook_plugin_skips_demo_and_what_it_is_told(app, admin, make_app, receiver, skip, sent):
    hooked = _webhook_app(make_app, receiver.url, skip)
    _send_one_of_each_origin(hooked, admin.id, receiver)
    assert {body["origin"]["kind"] for body in receiver.bodies} == sent
    body = receiver.bodies[0]
    assert body["event"] == "contact_created" and body["version"] == 1
    assert body["subject"] == {"type": "contact", "id": admin.id}
    with hooked.app_context(), unit_of_work():  # the skipped ones are done, not pending: nobody wants them
        assert db.session.scalar(select(db.func.count(OutboxEvent.id)).where(OutboxEvent.dispatched_at.is_(None))) == 0


def test_webhook_settings_name_real_events_and_origins(make_app):
    with pytest.raises(StartupError, match="deal_eaten"):
        make_app(plugins={"webhooks": {"events": ["deal_eaten"]}})
    with pytest.raises(StartupError, match="martians"):
        make_app(plugins={"webhooks": {"skip_origins": ["martians"]}})


def test_dispatch_is_once_per_event_and_handler_key(app, admin):
    with app.app_context(), unit_of_work():
        events.emit(UserCreated(subject_id=admin.id, origin=Origin("system"), email="x@example.com"))
        db.session.commit()
    wait_for_jobs(app)
    with app.app_context(), unit_of_work():
        assert dispatch_pending() == 0
        keys = list(db.session.scalars(select(EventDelivery.handler)))
        assert sorted(keys) == sorted(set(keys)) and "ops.user_created" in keys


def test_an_event_not_in_the_catalogue_is_refused(app):
    from tests.plugins.sample import SamplePinged

    with app.app_context(), unit_of_work(), pytest.raises(ValueError, match="unknown event"):
        events.emit(SamplePinged(subject_id=None, origin=Origin("system")))
    assert "sample_pinged" not in EVENTS


def test_a_plugin_event_is_emitted_and_delivered(app, make_app):
    from tests.plugins import sample
    from tests.plugins.sample import SamplePinged

    with_sample = make_app(extra_plugins=[("sample", sample)])
    with with_sample.app_context(), unit_of_work():
        row = events.emit(SamplePinged(subject_id=None, origin=Origin("provider", detail="sample"),
                                       words=("a", "b")))
        db.session.commit()
        event_id = row.id
    wait_for_jobs(with_sample)
    with with_sample.app_context(), unit_of_work():
        assert db.session.get(OutboxEvent, event_id).dispatched_at is not None
        assert "webhooks.forward" in set(db.session.scalars(select(EventDelivery.handler)))


def test_the_catalogue_page_lists_events_fields_and_handlers(app, admin_client, make_user, client):
    page = admin_client.get("/admin/events/")
    assert page.status_code == 200
    html = page.data.decode()
    for name in ("contact_created", "deal_won", "import_finished", "webhook_ping"):
        assert f'id="event-{name}"' in html
    assert "ops.user_created" in html and "webhooks.forward" in html and "Decimal" in html
    make_user("olga@example.com", locale="ru", is_admin=True)
    from core.testing.fixtures import sign_in

    sign_in(client, "olga@example.com")
    russian = client.get("/admin/events/").data.decode()
    assert "События" in russian and "Обработчики" in russian
    nobody = make_user("nobody@example.com")
    other = app.test_client()
    sign_in(other, nobody.email)
    assert other.get("/admin/events/").status_code in (302, 403)


def test_merged_companies_and_contacts_name_what_was_merged(app, admin):
    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        a = contacts.save(actor, None, {"first_name": "Анна", "phones": [{"raw": "+7 916 111-11-11"}]})
        b = contacts.save(actor, None, {"first_name": "Анна", "phones": [{"raw": "+7 916 111-11-11"}]})
        db.session.commit()
        _clear_outbox(app)
        from core.services.clients import merge

        record = merge.merge(actor, a.id, [b.id], {})
        merge.undo(actor, record.id)
        db.session.commit()
    (merged, merged_payload), (unmerged, unmerged_payload) = _outbox(app)[-2:]
    assert (merged, unmerged) == ("contact_merged", "contact_unmerged")
    assert merged_payload["data"]["merged_ids"] == unmerged_payload["data"]["restored_ids"] != []


def test_a_company_given_to_someone_else_and_a_task_comment_emit_too(app, admin, make_user):
    colleague = make_user("colleague2@example.com", is_admin=True)
    with app.app_context():
        actor = _actor(admin.id)
        firm = companies.save(actor, None, {"name": "ООО Василёк"})
        task = tasks.save(actor, None, {"title": "Позвонить"})
        db.session.commit()
        _clear_outbox(app)
        companies.save(actor, firm, {"owner_id": colleague.id}, partial=True)
        tasks.comment(actor, task, "Не дозвонился")
        db.session.commit()
    emitted = _outbox(app)
    assert [name for name, _p in emitted] == ["company_updated", "company_reassigned", "task_updated"]
    assert emitted[1][1]["data"] == {"from_owner_id": admin.id, "to_owner_id": colleague.id}
    assert emitted[2][1]["data"]["changed"] == ["comments"]


def test_events_chosen_in_the_admin_form_are_sent_without_a_restart(app, admin, make_app, receiver):
    from core.services.platform import plugin_settings as saved_settings

    hooked = _webhook_app(make_app, receiver.url, 'events = ["deal_won"]\n')

    def send_contact_created() -> None:
        with hooked.app_context(), unit_of_work():
            events.emit(ContactCreated(subject_id=admin.id, origin=Origin("user", user_id=admin.id)))
            db.session.commit()
        for _ in range(30):
            wait_for_jobs(hooked)
            if receiver.bodies:
                break
            time.sleep(0.1)

    send_contact_created()
    assert receiver.bodies == []  # not chosen: not sent
    with hooked.app_context(), unit_of_work():
        saved_settings.save_plugin(Actor(db.session.get(User, admin.id)), "webhooks",
                                   {"events": ["deal_won", "contact_created"]}, {})
        db.session.commit()
    send_contact_created()
    assert [body["event"] for body in receiver.bodies] == ["contact_created"]
