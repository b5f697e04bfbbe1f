"""Bad input to the API (issue 10, items 10 and 11): every error JSON in the documented shape wherever it is
raised; bodies of the wrong shape, huge or non-finite numbers, deep nesting and foreign content types refused
with 4xx naming the field; read-only fields ignored, unknown ones refused; NaN never stored nor answered; tags
created by concurrent requests without UNIQUE failures."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from core.api.openapi import document
from core.api.schemas import ERROR, SCHEMAS
from core.db import db, unit_of_work
from core.models import Contact, CustomField, InboxItem, LeadForm, Tag, Team, User
from core.services.clients import custom_fields
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.services.work import deals
from core.testing.fixtures import post_form
from tests.api_support import seed_one_of_each, token_headers
from tests.plugins import api_extension

ERROR_SHAPE = jsonschema_rs.validator_for(ERROR)


def _strict(text: str) -> Any:
    """JSON as a strict parser reads it: NaN and Infinity are not JSON."""
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} in a JSON answer")

    return json.loads(text, parse_constant=refuse)


def assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/json", response.get_data(as_text=True)[:200]
    body = _strict(response.get_data(as_text=True))
    ERROR_SHAPE.validate(body)
    return body["error"]  # type: ignore[no-any-return]


@pytest.fixture
def api(app, admin) -> dict[str, str]:
    return token_headers(app, admin.id)


@pytest.fixture
def seeded(app, admin) -> None:
    seed_one_of_each(app, admin.id)


def _write_operations() -> list[tuple[str, str]]:
    """Every operation of the document that takes a body, with ids filled in."""
    result = []
    for path, item in document()["paths"].items():
        for method in ("post", "patch"):
            if method in item:
                result.append((method.upper(), "/api/v1" + path.replace("{record_id}", "1").replace(
                    "{deal_id}", "1").replace("{task_id}", "1").replace("{item_id}", "1")))
    return result


WRITES = _write_operations()


def test_every_operation_with_a_body_is_listed(app):
    """Every write route the app serves under /api/ is documented with a body, so the body tests reach it."""
    def spelled(rule: str) -> set[str]:
        rule = re.sub(r"<int:\w+>", "1", rule)
        choice = re.search(r"<any\(([^)]*)\):\w+>", rule)
        if choice is None:
            return {rule}
        return {rule.replace(choice.group(0), option.strip()) for option in choice.group(1).split(",")}

    served = {(method, url) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
              for method in rule.methods & {"POST", "PATCH", "PUT"} for url in spelled(rule.rule)}
    assert len(WRITES) >= 11 and ("POST", "/api/v1/inbox") in WRITES
    assert served <= set(WRITES), served - set(WRITES)


@pytest.mark.parametrize(("raw", "content_type", "status", "code"), [
    ("[" * 1000 + "]" * 1000, "application/json", 400, "bad_json"),
    ('{"a":' * 1000 + "1" + "}" * 1000, "application/json", 400, "bad_json"),
    ("[" * 33 + "]" * 33, "application/json", 400, "bad_json"),
    ('{"first_name": ', "application/json", 400, "bad_json"),
    ('{"first_name": NaN}', "application/json", 400, "bad_json"),
    ('{"first_name": Infinity}', "application/json", 400, "bad_json"),
    ("\xff\xfe", "application/json", 400, "bad_json"),
    ('{"first_name": "Анна"}', "text/plain", 415, "unsupported_media_type"),
    ("first_name=Anna", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ("[]", "application/json", 422, "invalid"),
    ("null", "application/json", 422, "invalid"),
    ('"text"', "application/json", 422, "invalid"),
    ("3", "application/json", 422, "invalid"),
])
def test_bodies_that_are_not_json_objects_are_refused_on_every_write(client, api, seeded, raw, content_type, status,
                                                                     code):
    for method, url in WRITES:
        response = client.open(url, method=method, data=raw.encode("latin-1") if raw.startswith("\xff") else raw,
                               headers={**api, "Content-Type": content_type})
        error = assert_error(response, status)
        assert error["code"] == code, (method, url, error)


def test_a_body_over_the_limit_is_413_json(client, api, seeded):
    big = json.dumps({"notes": "я" * 600_000})
    for method, url in WRITES:
        assert_error(client.open(url, method=method, data=big, headers={**api, "Content-Type": "application/json"}),
                     413)


def test_errors_raised_anywhere_under_api_are_json(client, api, make_app):
    assert_error(client.get("/api/v1/nothing-here", headers=api), 404)
    assert_error(client.get("/api/nothing-here"), 404)
    assert_error(client.get("/api/v1/contacts/99999999999999999999", headers=api), 404)
    for method in ("PATCH", "DELETE"):
        assert_error(client.open("/api/v1/contacts/9223372036854775808", method=method, headers=api), 404)
        assert_error(client.open("/api/v1/deals/2147483648", method=method, headers=api), 404)
    not_allowed = client.put("/api/v1/contacts", headers=api, json={})
    assert_error(not_allowed, 405)
    assert "POST" in not_allowed.headers["Allow"]
    assert_error(client.get("/api/v1/contacts"), 401)
    assert_error(client.get("/api/v1/contacts?limit=abc", headers=api), 422)
    assert_error(client.get("/api/v1/contacts/1?unknown=1", headers=api), 422)
    for url in ("/api/v1/companies/10000000000000000001/timeline?before=a%00b", "/api/nothing?q=%00",
                "/api/v1/contacts?q=%00"):
        assert_error(client.get(url, headers=api), 422)
    with_plugin = make_app(extra_plugins=[("api_extension", api_extension)]).test_client()
    assert_error(with_plugin.get("/api/ext/boom"), 500)
    busy = with_plugin.get("/api/ext/busy")
    assert_error(busy, 429)
    assert busy.headers["Retry-After"] == "30"
    assert with_plugin.get("/no-such-page").mimetype == "text/html", "pages keep their HTML errors"


def _query_parameters() -> list[tuple[str, str, dict[str, Any]]]:
    result = []
    for path, item in document()["paths"].items():
        operation = item.get("get")
        for param in (operation or {}).get("parameters", []):
            if param["in"] == "query" and ("enum" in param["schema"] or param["schema"].get("type") == "integer"):
                result.append(("/api/v1" + path.replace("{record_id}", "1"), param["name"], param["schema"]))
    return result


@pytest.mark.parametrize("url,name,schema", _query_parameters())
def test_every_query_parameter_refuses_values_not_of_its_kind(client, api, seeded, url, name, schema):
    bad = ["", "abc", "1.5", "²", "٣", "1_000", "-1", "0x10", str(2**31), str(2**63), "9" * 400, "\x00", "1\r\n"]
    for value in bad:
        if schema.get("type") == "integer" and value.lstrip("-").isdigit() and value.isascii() \
                and schema.get("minimum", 0) <= int(value) <= schema.get("maximum", 2**31 - 1):
            continue
        if value in schema.get("enum", []):
            continue
        error = assert_error(client.get(url, headers=api, query_string={name: value}), 422)
        assert name in error["fields"], (url, name, value, error)
    assert_error(client.get(url, headers=api, query_string={"no_such_parameter": "1"}), 422)


WRONG_SHAPES = ["text", 7, -1, 0, 2**31, 2**70, 10**400, 1.5, True, None, [], [1, 2], ["x"], {}, {"a": {"b": 1}},
                [{"raw": 1}], [None], "\x00", "\ud800"]


def _fields(schema: str) -> list[str]:
    return [name for name, prop in SCHEMAS[schema]["properties"].items() if not prop.get("readOnly")]


@pytest.mark.parametrize("schema,url", [("Contact", "/api/v1/contacts"), ("Company", "/api/v1/companies"),
                                        ("Deal", "/api/v1/deals"), ("Task", "/api/v1/tasks"),
                                        ("InboxItem", "/api/v1/inbox")])
def test_every_field_of_the_wrong_shape_is_422_naming_it(app, client, api, schema, url):
    """Each writable field, each value of a wrong shape (string for a list, list of numbers, objects, null,
    2**70, 1e400, NUL, a lone surrogate): never a 500; a refusal names the field."""
    with app.app_context(), unit_of_work():
        deals.ensure_default_pipeline()
        pipeline_id = deals.pipelines()[0].id
    base = {"Contact": {"first_name": "Анна"}, "Company": {"name": "Ромашка"},
            "Deal": {"title": "Окна", "pipeline_id": pipeline_id}, "Task": {"title": "Позвонить"},
            "InboxItem": {"phone": "+7 916 555 44 33"}}[schema]
    for field in _fields(schema):
        for value in WRONG_SHAPES:
            body = json.dumps({**base, field: value}).replace("1" + "0" * 400, "1e400")
            response = client.post(url, data=body, headers={**api, "Content-Type": "application/json"})
            assert response.status_code in (200, 201, 422), (field, value, response.status_code,
                                                             response.get_data(as_text=True)[:300])
            _strict(response.get_data(as_text=True))
            if response.status_code == 422:
                fields = assert_error(response, 422).get("fields", {})
                assert any(k == field or k.startswith(f"{field}.") for k in fields) or "phone" in fields, \
                    (field, value, fields)


@pytest.mark.parametrize("value", [{"k": 1}, ["a"], 12, True, "x" * 201, "\x00"])
def test_an_idempotency_key_of_the_wrong_shape_is_422(client, make_user, app, value):
    centre = make_user("centre@example.com", grants={("lead", "submit"): "own", ("lead", "view"): "own"})
    headers = token_headers(app, centre.id)
    body = {"phone": "+7 916 555 44 33", "idempotency_key": value}
    error = assert_error(client.post("/api/v1/inbox", headers=headers, json=body), 422)
    assert "idempotency_key" in error["fields"]
    too_long = client.post("/api/v1/inbox", headers={**headers, "Idempotency-Key": "k" * 201},
                           json={"phone": "+7 916 555 44 33"})
    assert "Idempotency-Key" in assert_error(too_long, 422)["fields"]


@pytest.mark.parametrize("field,value", [("owner_id", 2**31), ("owner_id", 2**63), ("owner_id", 2**70),
                                         ("contact_id", 2**40), ("company_id", -5), ("company_id", 0)])
def test_huge_ids_in_bodies_and_queries_are_422(app, client, api, field, value):
    error = assert_error(client.post("/api/v1/tasks", headers=api, json={"title": "x", field: value}), 422)
    assert field in error["fields"]
    for url in ("/api/v1/tasks", "/api/v1/deals"):
        assert field in assert_error(client.get(url, headers=api, query_string={field: value}), 422)["fields"]
    assert_error(client.get("/api/v1/contacts", headers=api, query_string={"company": value}), 422)
    contact = client.post("/api/v1/contacts", headers=api, json={"first_name": "A", "companies": [
        {"company_id": value}]})
    assert "companies.0.company_id" in assert_error(contact, 422)["fields"]


def test_read_only_fields_are_ignored_and_unknown_fields_refused(app, client, api, admin):
    with app.app_context(), unit_of_work():
        team = Team(name="Чужая команда")
        db.session.add(team)
        db.session.commit()
        team_id = team.id
    created = client.post("/api/v1/contacts", headers=api, json={
        "first_name": "Анна", "team_id": team_id, "id": 777, "display_name": "X", "created_at": "1999-01-01",
        "phones": [{"raw": "+7 916 765-43-21", "e164": "+70000000000", "valid": False, "display": "x"}]})
    assert created.status_code == 201, created.get_json()
    data = created.get_json()["data"]
    assert data["team_id"] is None and data["id"] != 777 and data["display_name"] == "Анна"
    assert data["phones"][0]["e164"] == "+79167654321"
    patched = client.patch(f"/api/v1/contacts/{data['id']}", headers=api, json={"team_id": team_id})
    assert patched.status_code == 200 and patched.get_json()["data"]["team_id"] is None
    for schema, url in (("Contact", "/api/v1/contacts"), ("Company", "/api/v1/companies")):
        read_only = {name: "junk" for name, prop in SCHEMAS[schema]["properties"].items() if prop.get("readOnly")}
        named = {"name": "Б"} if schema == "Company" else {"first_name": "Б"}
        response = client.post(url, headers=api, json={**named, **read_only})
        assert response.status_code == 201, (schema, response.get_json())
    unknown = client.post("/api/v1/contacts", headers=api, json={"first_name": "A", "is_admin": True,
                                                                 "role": "admin"})
    assert set(assert_error(unknown, 422)["fields"]) == {"is_admin", "role"}
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 2, "nothing of the refused one"


@pytest.fixture
def number_field(app, admin) -> str:
    with app.app_context(), unit_of_work():
        user = db.session.get(User, admin.id)
        field = custom_fields.save_definition(Actor(user=user, via="test"), None, entity="contact", label="Бюджет",
                                              type_="number", choices=[], required=False)
        return field.key


NON_FINITE = ["NaN", "nan", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "1e400", "-1e400", "1e16",
              "10000000000000000", float("nan"), float("inf"), float("-inf"), 10**16, 1e300]


@pytest.mark.parametrize("value", NON_FINITE)
def test_custom_numbers_refuse_nan_infinity_and_huge_values_everywhere(app, number_field, value):
    with app.test_request_context(), unit_of_work(), pytest.raises(InvalidInput) as refused:
        custom_fields.clean_values("contact", {number_field: value})
    assert f"custom.{number_field}" in refused.value.errors


def test_custom_numbers_through_the_api_and_the_web_form(app, client, api, admin, number_field):
    for value in ("NaN", "Infinity", "sNaN", "1e400", "1e16"):
        error = assert_error(client.post("/api/v1/contacts", headers=api,
                                         json={"first_name": "A", "custom": {number_field: value}}), 422)
        assert f"custom.{number_field}" in error["fields"]
    huge = client.post("/api/v1/contacts", headers={**api, "Content-Type": "application/json"},
                       data=f'{{"first_name": "A", "custom": {{"{number_field}": 1e400}}}}')
    assert f"custom.{number_field}" in assert_error(huge, 422)["fields"]
    web = app.test_client()
    post_form(web, "/login", {"email": admin.email, "password": "correct horse battery"})
    for value in ("NaN", "-Infinity", "sNaN", "1e400"):
        page = post_form(web, "/contacts/new", {"first_name": "Анна", f"custom.{number_field}": value})
        assert page.status_code == 422, value
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 0
    for typed, stored in (("1 250,5", 1250.5), (3_000_000_000, 3_000_000_000), (123456789012.5, 123456789012.5),
                          (-999_999_999_999_999, -999_999_999_999_999)):
        ok = client.post("/api/v1/contacts", headers=api, json={"first_name": "A", "custom": {number_field: typed}})
        assert ok.status_code == 201, ok.get_json()
        assert ok.get_json()["data"]["custom"][number_field] == stored


@given(value=st.one_of(st.floats(), st.decimals(allow_nan=True, allow_infinity=True).map(str),
                       st.integers(min_value=-(10**30), max_value=10**30), st.text(max_size=30)))
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
def test_whatever_is_typed_a_stored_custom_number_is_finite_json(migrated_app, value):
    with migrated_app.test_request_context(), unit_of_work():
        field = CustomField(entity="contact", key="n", label="n", type="number", choices=[], required=False)
        try:
            stored = custom_fields.clean_value(field, value)
        except (ValueError, TypeError):
            return
        json.dumps(stored, allow_nan=False)
        assert abs(stored) < 10**15


def test_the_api_never_answers_nan_even_for_old_rows(app, client, api, number_field):
    created = client.post("/api/v1/contacts", headers=api, json={"first_name": "Старый"}).get_json()["data"]
    with app.app_context(), unit_of_work():
        if db.engine.dialect.name == "postgresql":
            pytest.skip("PostgreSQL's json type cannot hold NaN at all")
        db.session.execute(update(Contact).where(Contact.id == created["id"]).values(
            custom={number_field: float("nan"), "other": [float("inf")]}))
        db.session.commit()
    for url in (f"/api/v1/contacts/{created['id']}", "/api/v1/contacts"):
        response = client.get(url, headers=api)
        assert response.status_code == 200
        _strict(response.get_data(as_text=True))


def _at_once(app: Any, api: dict[str, str], bodies: list[dict[str, Any]]) -> list[int]:
    """POST the bodies to /api/v1/contacts from as many threads, released together; their statuses."""
    start = threading.Barrier(len(bodies))
    results: list[int] = []

    def post(body: dict[str, Any]) -> None:
        client = app.test_client()
        start.wait()
        results.append(client.post("/api/v1/contacts", headers=api, json=body).status_code)

    workers = [threading.Thread(target=post, args=(body,)) for body in bodies]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    return results


def test_concurrent_requests_creating_the_same_new_tags(app, api):
    """Twelve requests at once name the same new tags (and one more each): all succeed, each tag exists once."""
    for round_ in range(3):
        names = [f"Новый-{round_}-{n}" for n in range(3)]
        bodies = [{"first_name": f"К{round_}-{i}", "tags": [*names, f"свой-{round_}-{i}"]} for i in range(12)]
        results = _at_once(app, api, bodies)
        assert results == [201] * len(bodies), results
        with app.app_context(), unit_of_work():
            for name in names:
                assert db.session.scalar(select(func.count()).select_from(Tag).where(Tag.key == name.lower())) == 1
            tagged = db.session.scalars(select(Contact).where(Contact.first_name.like(f"К{round_}-%"))).all()
            assert len(tagged) == len(bodies)
            assert all({t.name for t in contact.tags} >= set(names) for contact in tagged)


@pytest.mark.parametrize("raw", ["[" * 1000 + "]" * 1000, '{"name":' * 1000 + '"x"' + "}" * 1000,
                                 '{"phone": NaN}', '{"phone": ', "[1, 2]", "null"])
def test_the_public_lead_form_refuses_json_it_cannot_take(app, admin_client, raw):
    made = post_form(admin_client, "/admin/intake/forms/new", {
        "name": "Сайт", "active": "1", "allowed_origins": "https://shop.example.com", "min_fill_seconds": "0",
        "rate_limit_per_hour": "30", "source": "site", "field_name": ["name", "phone"],
        "field_label": ["Имя", "Телефон"], "field_kind": ["text", "phone"], "field_required": ["1"]})
    assert made.status_code == 302, made.get_data(as_text=True)[:300]
    with app.app_context(), unit_of_work():
        key = db.session.scalar(select(LeadForm.key))
    response = app.test_client().post(f"/f/{key}", data=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.get_data(as_text=True)[:200]
    assert response.mimetype == "application/json"
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(func.count()).select_from(InboxItem)) == 0


def test_shape_errors_are_translated(client, api):
    response = client.post("/api/v1/contacts", headers={**api, "Accept-Language": "ru"},
                           json={"first_name": "А", "phones": "+7 916", "tags": [1], "is_admin": True})
    error = assert_error(response, 422)
    assert error["fields"] == {"phones": "Здесь должен быть список.", "tags.0": "Здесь должен быть текст.",
                               "is_admin": "Неизвестное поле: допустимые поля перечислены в документации API."}
    deep = client.post("/api/v1/contacts", headers={**api, "Accept-Language": "ru", "Content-Type": "application/json"},
                       data="[" * 100 + "]" * 100)
    assert "вложенность" in assert_error(deep, 400)["message"]
