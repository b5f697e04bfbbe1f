"""The JSON API: tokens, CRUD with the permission scopes, phone lookup in any format, timeline, OpenAPI."""

from __future__ import annotations

import pytest

from core.db import db, unit_of_work
from core.models import User
from core.services.platform.context import Actor
from core.services.users import tokens


def _token(app, user) -> dict[str, str]:
    with app.app_context(), unit_of_work():
        token = tokens.create(Actor(None, via="test"), db.session.get(User, user.id), "test")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin_api(app, admin):
    return _token(app, admin)


def test_token_is_required(client):
    response = client.get("/api/v1/contacts")
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/contacts", headers={"Authorization": "Bearer mk_nope"}).status_code == 401
    assert client.get("/api/v1/openapi.json").status_code == 200


def test_token_command_prints_the_token_last(app, admin):
    result = app.test_cli_runner().invoke(args=["users", "token", "create", admin.email])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("mk_")
    assert app.test_client().get("/api/v1/contacts", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_crud_and_phone_lookup(client, admin_api):
    created = client.post("/api/v1/contacts", headers=admin_api, json={
        "first_name": "Анна", "last_name": "Смирнова", "phones": [{"raw": "+7 (916) 765-43-21"}],
        "emails": [{"address": "Anna@Example.com"}], "id": 999, "created_at": "1999-01-01"})
    assert created.status_code == 201, created.get_json()
    data = created.get_json()["data"]
    assert data["id"] != 999 and data["phones"][0]["e164"] == "+79167654321"
    contact_id = data["id"]
    for typed in ("8 916 765-43-21", "+7(916)7654321", "9167654321"):
        found = client.get("/api/v1/contacts", headers=admin_api, query_string={"phone": typed}).get_json()
        assert [c["id"] for c in found["data"]] == [contact_id], typed
    bad = client.get("/api/v1/contacts", headers=admin_api, query_string={"phone": "abc"})
    assert bad.status_code == 422 and "phone" in bad.get_json()["error"]["fields"]

    patched = client.patch(f"/api/v1/contacts/{contact_id}", headers=admin_api, json={"city": "Тула"})
    assert patched.get_json()["data"]["city"] == "Тула" and patched.get_json()["data"]["last_name"] == "Смирнова"
    invalid = client.patch(f"/api/v1/contacts/{contact_id}", headers=admin_api,
                           json={"emails": [{"address": "nope"}]})
    assert invalid.status_code == 422 and "emails.0" in invalid.get_json()["error"]["fields"]
    assert client.get(f"/api/v1/contacts/{contact_id}", headers=admin_api).get_json()["data"]["emails"][0][
        "address"] == "Anna@example.com", "nothing half-written"
    timeline = client.get(f"/api/v1/contacts/{contact_id}/timeline", headers=admin_api)
    assert timeline.status_code == 200 and timeline.get_json()["data"] == []
    assert client.delete(f"/api/v1/contacts/{contact_id}", headers=admin_api).status_code == 204
    assert client.get(f"/api/v1/contacts/{contact_id}", headers=admin_api).status_code == 404


def test_errors_are_translated(client, admin_api):
    response = client.post("/api/v1/contacts", headers={**admin_api, "Accept-Language": "ru"},
                           json={"first_name": "X", "emails": [{"address": "bad"}]})
    assert "не адрес email" in response.get_json()["error"]["fields"]["emails.0"]


def test_own_scope_applies_to_the_api(app, client, admin, make_user, admin_api):
    seller = make_user("seller@example.com", grants={("contact", "view"): "own", ("contact", "create"): "own",
                                                      ("contact", "edit"): "own"})
    theirs = client.post("/api/v1/contacts", headers=admin_api, json={"first_name": "Чужой"}).get_json()["data"]
    seller_api = _token(app, seller)
    mine = client.post("/api/v1/contacts", headers=seller_api, json={"first_name": "Свой",
                                                                      "owner_id": admin.id}).get_json()["data"]
    assert mine["owner_id"] == seller.id, "owner_id from a user without assign is ignored"
    listed = client.get("/api/v1/contacts", headers=seller_api).get_json()["data"]
    assert [c["id"] for c in listed] == [mine["id"]]
    assert client.get(f"/api/v1/contacts/{theirs['id']}", headers=seller_api).status_code == 403
    assert client.patch(f"/api/v1/contacts/{theirs['id']}", headers=seller_api,
                        json={"city": "X"}).status_code == 403
    assert client.delete(f"/api/v1/contacts/{mine['id']}", headers=seller_api).status_code == 403
    assert client.get("/api/v1/companies", headers=seller_api).status_code == 403


def test_openapi_document_lists_the_paths(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    assert {"/contacts", "/contacts/{record_id}", "/contacts/{record_id}/timeline", "/companies"} <= set(doc["paths"])
