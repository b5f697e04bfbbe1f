"""Provider kinds (issue 11, item 2): facades that find providers or fail loudly, a default and a per-team choice,
a provider's refusal in the user's language, and a plugin's inbox channel and timeline kind in the pages."""

from __future__ import annotations

import types
from decimal import Decimal

import pytest
from flask_babel import force_locale

from core.db import db, unit_of_work
from core.errors import ProviderError, ProviderNotFound, StartupError
from core.models import Activity, Team, User
from core.plugins import hookimpl
from core.plugins.provider_facades import channel_keys, mail, messaging, providers, route_call, telephony
from core.plugins.providers import (
    MESSAGING,
    NO_MONEY,
    CallState,
    ChannelSpec,
    DeliveryState,
    IncomingCall,
    OutgoingMessage,
)
from core.plugins.webhooks import WebhookRequest
from core.services.clients import contacts, timeline
from core.services.platform import providers as provider_choices
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.testing.fixtures import create_user, post_form, sign_in
from tests.plugins import telecom


@pytest.fixture
def telecom_app(app, make_app):
    telecom.SENT.clear()
    return make_app(extra_plugins=[("telecom", telecom)])


def test_without_a_provider_plugin_the_facades_fail_loudly(app):
    with app.app_context(), unit_of_work():
        for facade in (telephony, messaging, mail):
            with pytest.raises(ProviderNotFound):
                facade()
        assert providers(MESSAGING) == []
        assert "sms" not in channel_keys() and "phone" in channel_keys()


def test_facades_find_providers_and_follow_the_default_and_the_team_choice(telecom_app):
    admin = create_user(telecom_app, "admin@example.com", is_admin=True)
    with telecom_app.test_request_context(), unit_of_work():
        actor = Actor(user=db.session.get(User, admin.id))
        assert [s.key for s in providers(MESSAGING, "sms")] == ["fakesms", "othersms"]
        assert messaging().key == "fakesms", "no choice yet: the first registered one"
        assert telephony().key == "fakepbx" and messaging(key="othersms").key == "othersms"
        with pytest.raises(ProviderNotFound):
            mail()
        with pytest.raises(ProviderNotFound):
            messaging("whatsapp")
        with pytest.raises(ProviderNotFound):
            messaging(key="fakepbx")

        north, south = Team(name="Север"), Team(name="Юг")
        db.session.add_all([north, south])
        db.session.flush()
        provider_choices.set_choice(actor, "messaging:sms", "othersms")
        provider_choices.set_choice(actor, "messaging:sms", "fakesms", team_id=north.id)
        db.session.commit()
        assert messaging().key == "othersms"
        assert messaging(team=north).key == "fakesms" and messaging(team=south.id).key == "othersms"
        with pytest.raises(InvalidInput):
            provider_choices.set_choice(actor, "messaging:sms", "fakepbx")
        with pytest.raises(InvalidInput):
            provider_choices.set_choice(actor, "mail", "fakesms")

        result = messaging(team=north).send(OutgoingMessage(to="+79001234567", text="Здравствуйте"))
        assert (result.provider, result.cost, result.parts) == ("fakesms", Decimal("2.50"), 1)
        assert [("fakesms", OutgoingMessage(to="+79001234567", text="Здравствуйте"))] == telecom.SENT
        assert messaging().balance().amount == Decimal("100.00")
        assert telephony().check_connection().ok is False

        request = WebhookRequest(method="POST", path="/webhooks/telecom/status", headers={},
                                 query={}, body=b"id=fakesms-1&code=103&time=1704110400")
        [status] = messaging().parse_status(request)
        assert (status.message_id, status.state) == ("fakesms-1", DeliveryState.DELIVERED)
        call = WebhookRequest(method="POST", path="/webhooks/telecom/pbx", headers={}, query={},
                              body=b'{"event": "end", "pbx_call_id": "in_1", "time": 1704110400, "caller": "+7900"}')
        [event] = telephony().parse_webhook(call)
        assert (event.call_id, event.state) == ("in_1", CallState.ENDED)
        incoming = IncomingCall(call_id="in_2", from_number="+79001234567")
        answer = route_call(incoming)
        assert answer is not None and answer.extensions == ("101",)
        assert telephony().route_reply(incoming, answer).data == b'{"redirect": "101"}'


def test_a_provider_refusal_reads_in_the_user_language(telecom_app):
    with telecom_app.test_request_context(), unit_of_work():
        with pytest.raises(ProviderError) as caught:
            messaging().send(OutgoingMessage(to="+79001234567", text="no money"))
        error = caught.value
        assert error.provider_message == "201: insufficient funds" and error.code == "201"
        with force_locale("en"):
            assert str(error) == ("There is not enough money on the provider account; top it up. "
                                  "(the provider said: 201: insufficient funds)")
        with force_locale("ru"):
            assert str(error) == ("На счёте у провайдера не хватает денег; пополните его. "
                                  "(ответ провайдера: 201: insufficient funds)")
        assert str(ProviderError(NO_MONEY)).startswith("There is not enough money")


def test_the_admin_chooses_providers_on_the_providers_page(telecom_app):
    admin = create_user(telecom_app, "admin@example.com", is_admin=True)
    client = telecom_app.test_client()
    sign_in(client, admin.email)
    page = client.get("/admin/providers")
    assert page.status_code == 200 and "Fake SMS" in page.text and "Fake PBX" in page.text
    saved = post_form(client, "/admin/providers", {"scope": "messaging:sms", "provider": "othersms"})
    assert saved.status_code == 302
    refused = post_form(client, "/admin/providers", {"scope": "telephony", "provider": "othersms"})
    assert refused.status_code == 302
    with telecom_app.app_context(), unit_of_work():
        assert messaging().key == "othersms" and telephony().key == "fakepbx"
    sales = create_user(telecom_app, "sales@example.com")
    other = telecom_app.test_client()
    sign_in(other, sales.email)
    assert other.get("/admin/providers").status_code == 403


def test_a_plugins_page_lists_the_providers_it_registered(telecom_app):
    admin = create_user(telecom_app, "admin@example.com", is_admin=True, locale="ru")
    client = telecom_app.test_client()
    sign_in(client, admin.email)
    page = client.get("/admin/plugins/telecom")
    assert page.status_code == 200
    assert "Телефония: Fake PBX" in page.text and "Сообщения: SMS: Fake SMS" in page.text and "othersms" in page.text
    assert "Fake PBX" not in client.get("/admin/plugins/l10n_ru").text


def test_a_plugin_channel_and_timeline_kind_appear_with_their_label_and_template(telecom_app):
    admin = create_user(telecom_app, "admin@example.com", is_admin=True)
    with telecom_app.test_request_context(), unit_of_work():
        actor = Actor(user=db.session.get(User, admin.id))
        assert "sms" in channel_keys()
        contact = contacts.save(actor, None, {"first_name": "Анна", "phones": [{"raw": "+7 916 765-43-21"}]})
        timeline.record(kind="sms_out", contact_id=contact.id, title="Ваш заказ готов",
                        data={"status": "queued", "provider": "fakesms"}, source="telecom", external_id="fakesms-1")
        db.session.commit()
        contact_id = contact.id
        with pytest.raises(ValueError):
            timeline.record(kind="fax", contact_id=contact.id)
    client = telecom_app.test_client()
    sign_in(client, admin.email)
    card = client.get(f"/contacts/{contact_id}")
    assert card.status_code == 200
    assert '<span class="telecom-status">queued</span>' in card.text and "Ваш заказ готов" in card.text
    assert f'href="/contacts/{contact_id}?kind=sms_out"' in card.text, "the plugin's kind is a timeline filter"
    filtered = client.get(f"/contacts/{contact_id}?kind=sms_out")
    assert "telecom-sms" in filtered.text

    with telecom_app.test_request_context(), unit_of_work():
        changed = timeline.update("telecom", "fakesms-1", data={"status": "delivered", "provider": None})
        assert changed is not None and timeline.update("telecom", "missing") is None
        db.session.commit()
        entry = db.session.query(Activity).filter_by(external_id="fakesms-1").one()
        assert entry.data == {"status": "delivered"} and entry.title == "Ваш заказ готов"
    assert '<span class="telecom-status">delivered</span>' in client.get(f"/contacts/{contact_id}").text

    with telecom_app.test_request_context(), unit_of_work():
        from core.services.work import inbox

        db.session.get(User, admin.id).locale = "ru"
        item, _created, _updated = inbox.receive(inbox.IncomingItem(
            channel="sms", source="telecom", name="Анна", phone="+7 916 765-43-21", body="Перезвоните"))
        inbox.accept(Actor(user=db.session.get(User, admin.id)), item)
        db.session.commit()
        written = db.session.query(Activity).filter_by(source="inbox", external_id=f"inbox:{item.id}").one()
        assert written.kind == "sms_out", "the channel says which timeline kind an accepted request writes"
    card = client.get(f"/contacts/{contact_id}?kind=sms_out").text
    assert "Отправлено SMS" in card, "the plugin kind's label, in the reader's language, on the filter"
    inbox_page = client.get("/inbox/?status=accepted")
    assert inbox_page.status_code == 200 and '<span class="badge text-bg-secondary">SMS</span>' in inbox_page.text


def test_wrong_registrations_stop_start_up_with_one_line(app, make_app):
    clash = types.ModuleType("clash")
    clash.__file__ = __file__
    clash.register_channels = hookimpl(lambda: [ChannelSpec(key="phone", label="Phone again")])
    with pytest.raises(StartupError, match="'phone' is registered twice"):
        make_app(extra_plugins=[("clash", clash)])
    orphan = types.ModuleType("orphan")
    orphan.__file__ = __file__
    orphan.register_channels = hookimpl(lambda: [ChannelSpec(key="fax", label="Fax", timeline_kind="fax")])
    with pytest.raises(StartupError, match="unknown timeline kind 'fax'"):
        make_app(extra_plugins=[("orphan", orphan)])


def test_core_routes_a_known_caller_to_the_manager_who_owns_them(app, make_user):
    manager = make_user("manager@example.com")
    with app.test_request_context(), unit_of_work():
        owner = db.session.get(User, manager.id)
        admin = Actor(user=db.session.get(User, create_user(app, "boss@example.com", is_admin=True).id))
        contacts.save(admin, None, {"first_name": "Анна", "phones": [{"raw": "+7 916 765-43-21"}],
                                    "owner_id": owner.id})
        db.session.commit()
        answer = route_call(IncomingCall(call_id="c1", from_number="+79167654321"))
        assert answer is not None and answer.user_ids == (owner.id,) and answer.caller_name == "Анна"
        assert route_call(IncomingCall(call_id="c2", from_number="+79990000000")) is None, "unknown: the PBX decides"
        assert route_call(IncomingCall(call_id="c3", from_number=None)) is None
        owner.is_active = False
        db.session.commit()
        assert route_call(IncomingCall(call_id="c4", from_number="+79167654321")) is None


def test_the_api_takes_every_registered_channel_and_publishes_them(telecom_app):
    from core.db import unit_of_work
    from core.services.users import tokens

    admin = create_user(telecom_app, "admin@example.com", is_admin=True)
    with telecom_app.app_context(), unit_of_work():
        token = tokens.create(Actor(None, via="test"), db.session.get(User, admin.id), "test")
    api = {"Authorization": f"Bearer {token}"}
    client = telecom_app.test_client()
    made = client.post("/api/v1/inbox", json={"channel": "sms", "name": "Анна", "phone": "+7 916 765-43-21"},
                       headers=api)
    assert made.status_code == 201 and made.json["data"]["channel"] == "sms"
    refused = client.post("/api/v1/inbox", json={"channel": "fax", "name": "Анна", "phone": "+7 916 765-43-21"},
                          headers=api)
    assert refused.status_code == 422 and "channel" in refused.json["error"]["fields"]
    schema = client.get("/api/v1/openapi.json").json["components"]["schemas"]["InboxItem"]["properties"]["channel"]
    assert "sms" in schema["enum"] and "phone" in schema["enum"] and "x-mayak-registry" not in schema
