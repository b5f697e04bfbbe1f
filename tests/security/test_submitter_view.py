"""Issue 10, item 4: an external contact centre sees what it submitted, as submitted, and learns nothing of the
clients its leads matched (name, open deal, manager, outcome) on any inbox status, page, partial or API route."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db import db, unit_of_work
from core.models import InboxItem, Role, User
from core.models.inbox import INBOX_STATUSES
from core.services.clients import contacts
from core.services.platform.context import Actor
from core.services.users import tokens
from core.services.work import deals, inbox
from core.testing.fixtures import post_form
from tests.security.routes import all_routes

CLIENT_PHONE = "+7 916 123-45-67"
KNOWN_PHONE = "+7 916 222-33-44"
# what sorting learned about the leads: none of it may reach the contact centre
SECRETS = ("Засекреченный", "Тайная сделка", "Петров-менеджер", "seller@example.com", "Чужой лид",
           "причина-отказа", "Added to deals", "Proposed", "open deal")
SUBMITTED_KEYS = {"id", "channel", "status", "name", "phone", "email", "subject", "body", "utm", "received_at"}


@pytest.fixture
def world(app, admin, make_user):
    """A seller's client with an open deal, another client without one, and a contact centre with the seeded
    role (not a hand-made grant) that submits leads for both phones and a new person, by page and by API."""
    seller = make_user("seller@example.com", full_name="Петров-менеджер",
                       grants={(e, a): "own" for e in ("contact", "deal", "inbox") for a in ("view", "edit")})
    centre = make_user("centre@example.com", full_name="Колл-центр")
    with app.app_context(), unit_of_work():
        user = db.session.get(User, centre.id)
        user.roles = [db.session.scalar(select(Role).where(Role.key == "contact_centre"))]
        db.session.commit()
        boss = Actor(db.session.get(User, admin.id))
        client_contact = contacts.save(boss, None, {"first_name": "Засекреченный", "last_name": "Клиент",
                                                    "owner_id": seller.id, "phones": [{"raw": CLIENT_PHONE}]})
        contacts.save(boss, None, {"first_name": "Засекреченный", "last_name": "Второй", "owner_id": seller.id,
                                   "phones": [{"raw": KNOWN_PHONE}]})
        pipeline = deals.ensure_default_pipeline()
        deals.save(boss, None, {"title": "Тайная сделка", "pipeline_id": pipeline.id, "owner_id": seller.id,
                                "contact_id": client_contact.id})
        inbox.receive(inbox.IncomingItem(channel="phone", name="Чужой лид", phone="+7 903 000-00-00"))
        token = tokens.create(Actor(None, via="test"), db.session.get(User, centre.id))
    return {"centre": centre, "seller": seller, "admin": admin, "token": token}


def _submit_all(app, client, login, world):
    login(world["centre"])
    for name, phone in (("Лид по клиенту", CLIENT_PHONE), ("Лид по известному", KNOWN_PHONE),
                        ("Лид новый", "+7 916 555-66-77")):
        assert post_form(client, "/inbox/submit", {"name": name, "phone": phone}).status_code == 302
    api = {"Authorization": f"Bearer {world['token']}"}
    created = client.post("/api/v1/inbox", json={"name": "Лид через API", "phone": CLIENT_PHONE},
                          headers={**api, "Idempotency-Key": "cc-1"})
    assert created.status_code == 201
    assert set(created.json["data"]) <= SUBMITTED_KEYS and created.json["data"]["status"] == "submitted"
    again = client.post("/api/v1/inbox", json={"name": "Лид через API", "phone": CLIENT_PHONE},
                        headers={**api, "Idempotency-Key": "cc-1"})
    assert again.status_code == 200 and set(again.json["data"]) <= SUBMITTED_KEYS
    with app.app_context(), unit_of_work():  # the sales side sorts them: accepted, rejected with a reason, attached
        boss = Actor(db.session.get(User, world["admin"].id))
        items = {i.name: i for i in db.session.scalars(select(InboxItem))}
        assert items["Лид по клиенту"].status == "attached" and items["Лид через API"].status == "attached"
        inbox.accept(boss, items["Лид по известному"])
        inbox.reject(boss, items["Лид новый"], "причина-отказа")
        return {name: item.id for name, item in items.items()}


def _assert_clean(body: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in body, f"{where} shows {secret!r} to the contact centre"


def test_contact_centre_sees_its_leads_as_submitted_on_every_status_page_and_partial(app, client, login, world):
    ids = _submit_all(app, client, login, world)
    mine = ("Лид по клиенту", "Лид по известному", "Лид новый", "Лид через API")
    for status in (*INBOX_STATUSES, "", "bogus"):
        for extra in ("", f"&before={max(ids.values()) + 1}"):
            for headers in ({}, {"HX-Request": "true"}):
                response = client.get(f"/inbox/?status={status}{extra}", headers=headers)
                assert response.status_code == 200
                body = response.get_data(as_text=True)
                _assert_clean(body, f"/inbox/?status={status}{extra}")
                for name in mine:  # every status shows all of its own leads: the status itself is learned
                    assert name in body, (status, name)
    _assert_clean(client.get("/inbox/submit").get_data(as_text=True), "/inbox/submit")
    for name in mine:  # nothing can be sorted by the contact centre
        assert post_form(client, f"/inbox/{ids[name]}/accept").status_code == 403
    assert post_form(client, f"/inbox/{ids['Чужой лид']}/reject", {"reason": "x"}).status_code == 403


def test_contact_centre_api_returns_only_what_was_submitted(app, client, login, world):
    ids = _submit_all(app, client, login, world)
    api = {"Authorization": f"Bearer {world['token']}"}
    for status in INBOX_STATUSES:
        response = client.get(f"/api/v1/inbox?status={status}", headers=api)
        assert response.status_code == 200
        _assert_clean(response.get_data(as_text=True), f"/api/v1/inbox?status={status}")
        rows = response.json["data"]
        assert {r["name"] for r in rows} == {"Лид по клиенту", "Лид по известному", "Лид новый", "Лид через API"}
        for row in rows:
            assert set(row) <= SUBMITTED_KEYS and row["status"] == "submitted"
    for name, item_id in ids.items():
        response = client.get(f"/api/v1/inbox/{item_id}", headers=api)
        if name == "Чужой лид":
            assert response.status_code in (403, 404)
            continue
        assert response.status_code == 200 and set(response.json["data"]) <= SUBMITTED_KEYS
        assert response.json["data"]["phone"] in (CLIENT_PHONE, KNOWN_PHONE, "+7 916 555-66-77")
        _assert_clean(response.get_data(as_text=True), f"/api/v1/inbox/{item_id}")


def test_contact_centre_learns_nothing_on_any_route(app, client, login, world):
    """Every GET route of the URL map, pages and partials and API, with ids of the leads it sent."""
    ids = _submit_all(app, client, login, world)
    with app.app_context(), unit_of_work():
        attached = db.session.get(InboxItem, ids["Лид по клиенту"])
        targets = {"user_id": world["seller"].id, "team_id": 1, "role_id": 1, "record_id": 1,
                   "contact_id": attached.contact_id, "company_id": 1, "name": "city", "entity": "contacts",
                   "format": "csv", "collection": "contacts", "merge_id": 1, "attachment_id": 1, "view_id": 1,
                   "kind": "contact", "pipeline_id": 1, "deal_id": attached.deal_id, "task_id": 1,
                   "item_id": attached.id, "form_id": 1, "key": "none", "rule_id": 1, "batch_id": 1,
                   "token_id": 1, "plugin": "webhooks", "path": "events", "delivery_id": 1, "call_id": 1}
    api = {"Authorization": f"Bearer {world['token']}"}
    for route in all_routes(app, targets):
        if route.method != "GET" or route.endpoint in ("auth.logout",):
            continue
        for headers in ({}, {"HX-Request": "true"}):
            if route.endpoint.startswith("api."):
                headers = {**headers, **api}
            body = client.get(route.url, headers=headers).get_data(as_text=True)
            _assert_clean(body, route.url)


def test_sorters_still_see_the_whole_item(app, client, login, world, admin_client):
    _submit_all(app, client, login, world)
    page = admin_client.get("/inbox/?status=attached").get_data(as_text=True)
    assert "Засекреченный Клиент" in page and "Тайная сделка" in page and "Петров-менеджер" in page
    assert "Лид новый" not in page and "Лид новый" in admin_client.get("/inbox/?status=rejected").get_data(
        as_text=True)
