"""QUALITY 4 (issue 10, item 11), the web side: bad values in any filter, sort, paging cursor or id of any page
or partial answer 4xx, never 500. One rule for every list: a value that is not of its kind is refused with a
400 whose translated message names the parameter (core/services/platform/params.py)."""

from __future__ import annotations

import base64
import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.db import db, unit_of_work
from core.models import User
from core.services.platform.context import Actor
from core.services.users import tokens
from core.testing.fixtures import sign_in
from tests.security.routes import all_routes, seed_targets

# every list a user can filter, sort or page, and the partials they request
LISTS = ("/contacts/", "/contacts/count", "/companies/", "/companies/count", "/deals/list", "/deals/list/count",
         "/deals/", "/tasks/", "/tasks/team", "/inbox/", "/admin/audit", "/admin/jobs/", "/notifications",
         "/contacts/duplicates", "/companies/duplicates", "/search/", "/search/suggest", "/contacts/options",
         "/companies/options", "/export/contacts.csv", "/export/deals.csv", "/tasks/handover")
PARAMETERS = ("q", "sort", "dir", "after", "before", "group", "limit", "owner", "team", "tag", "company", "contact",
              "stage", "pipeline", "status", "city", "region", "source", "job_title", "industry", "channel",
              "currency", "created_from", "created_to", "close_from", "close_to", "amount_from", "amount_to",
              "has_phone", "has_email", "phone", "phone_e164", "flagged_phone", "quiet_days", "birthday_month",
              "month_day", "action", "kind", "columns", "custom.size", "custom.vip", "custom.since", "view",
              "encoding", "mine")
NASTY = ["²", "٣", "１２", "¹⁰", "9" * 30, str(2**63), str(2**31), "-1", "0", "1e999", "NaN", "sNaN", "Infinity",
         "-Infinity", "31.12.9999", "01.01.0000", "9999-12-31", "29.02.2023", "1000000", "me", "none", "",
         " ", "\x00", "a\r\nb", "'; DROP TABLE contact; --", "%", "_", "[]", "{}", "true", "1_000", "0x10",
         base64.urlsafe_b64encode(json.dumps(["a", 2**70]).encode()).decode(),
         base64.urlsafe_b64encode(json.dumps([{"x": 1}, 1]).encode()).decode(),
         base64.urlsafe_b64encode(json.dumps(["NaN", 1]).encode()).decode(),
         base64.urlsafe_b64encode(b"not json").decode(), "!!!"]
VALUES = st.one_of(st.sampled_from(NASTY), st.text(max_size=30), st.integers().map(str),
                   st.decimals(allow_nan=True, allow_infinity=True).map(str))


def _custom_fields(app) -> None:
    from core.models import CustomField

    with app.app_context(), unit_of_work():
        if db.session.query(CustomField).filter_by(entity="contact", key="size").first() is not None:
            return
        db.session.add_all([CustomField(entity="contact", key="size", label="Size", type="number"),
                            CustomField(entity="contact", key="vip", label="VIP", type="boolean"),
                            CustomField(entity="contact", key="since", label="Since", type="date")])
        db.session.commit()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_list_answers_5xx_to_any_filter_sort_or_cursor(app, admin, admin_client, data):
    _custom_fields(app)
    url = data.draw(st.sampled_from(LISTS), label="list")
    params = data.draw(st.lists(st.tuples(st.sampled_from(PARAMETERS), VALUES), min_size=1, max_size=4),
                       label="params")
    htmx = data.draw(st.booleans(), label="htmx")
    response = admin_client.get(url, query_string=params, headers={"HX-Request": "true"} if htmx else {})
    assert response.status_code < 500, f"{url} {params}: {response.status}"
    if response.status_code == 400 and not htmx:
        assert 'class="error-detail"' in response.get_data(as_text=True) or "csrf" in url


def test_the_reported_values_are_refused_with_a_message(app, admin, admin_client):
    _custom_fields(app)
    cases = {"/contacts/?owner=²": "owner", "/contacts/?company=²": "company", "/deals/list?stage=²": "stage",
             "/contacts/?birthday_month=²": "birthday_month", "/contacts/?quiet_days=1000000": "quiet_days",
             "/contacts/?created_to=31.12.9999": "created_to", "/deals/list?amount_to=sNaN": "amount_to",
             "/contacts/?custom.size=NaN": "custom.size", "/contacts/?after=garbage": "after",
             "/contacts/?sort=password_hash": "sort", "/tasks/?owner=²": "owner",
             f"/inbox/?before={2**63}": "before", "/admin/audit?before=-": "before",
             "/admin/audit?action=a%00b": "action", "/contacts/options?company_q=%00": "company_q"}
    for url, name in cases.items():
        response = admin_client.get(url)
        assert response.status_code == 400, url
        assert re.search(rf'class="error-detail">[^<]*“{re.escape(name)}”', response.get_data(as_text=True)) \
            or "position marker" in response.get_data(as_text=True), url
    # a NUL in a form is refused the same way, before any view sees it
    from core.testing.fixtures import post_form

    refused = post_form(admin_client, "/contacts/new", {"first_name": "a\x00b"})
    assert refused.status_code == 400 and "first_name" in refused.get_data(as_text=True)
    # good values still work
    for url in ("/contacts/?owner=me&quiet_days=30&birthday_month=12&created_to=31.12.2025",
                "/deals/list?amount_to=1%20500,50&stage=1&sort=amount&dir=desc", "/contacts/?custom.size=1,5"):
        assert admin_client.get(url).status_code == 200, url


def test_ids_beyond_what_a_column_holds_are_not_found_on_every_route(app, admin):
    """Every route with an id in its path, with ids past 32 and 64 bits and in other scripts' digits: 404 (the
    page, partial or API record does not exist), never an overflow in the database."""
    targets = seed_targets(app, admin.id)
    client = app.test_client()
    sign_in(client, admin.email)
    with app.app_context(), unit_of_work():
        api_token = tokens.create(Actor(None, via="test"), db.session.get(User, admin.id))
    checked = 0
    for huge in (2**31, 2**63, 2**64, 10**40, "٣", "１"):
        for rule in app.url_map.iter_rules():
            ints = [a for a, conv in rule._converters.items() if type(conv).__name__ == "IdConverter"]
            for arg in ints:
                marker = "987654321987"
                with app.test_request_context(), unit_of_work():
                    from flask import url_for

                    url = url_for(rule.endpoint, **{**{a: targets.get(a, 1) for a in rule.arguments},
                                                    arg: int(marker)})
                url = url.replace(marker, str(huge), 1)
                headers = {"Authorization": f"Bearer {api_token}"} if rule.endpoint.startswith("api.") else {}
                for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                    response = client.open(url, method=method, headers=headers)
                    assert response.status_code in (404, 405), f"{method} {url}: {response.status}"
                    checked += 1
    assert checked > 100
    assert all_routes(app, targets)  # the map is walkable with real ids too


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.sampled_from(["²", "٣", "１", str(2**31), str(2**63), "9" * 40, "-1", "x"]),
                       st.text(max_size=12)))
def test_bulk_ids_owner_and_month_day_never_500(app, admin, admin_client, value):
    from core.testing.fixtures import post_form

    for url, form in (("/contacts/bulk", {"ids": value, "action": "delete"}),
                      ("/companies/bulk", {"ids": value, "action": "delete"}),
                      ("/contacts/bulk", {"ids": "1", "action": "reassign", "owner_id": value}),
                      ("/contacts/merge?ids=" + value, None),
                      ("/tasks/new", {"title": "Repeat", "repeat": "monthly", "month_day": value}),
                      ("/tasks/recurring", {"title": "Repeat", "repeat": "monthly", "month_day": value})):
        response = admin_client.get(url) if form is None else post_form(admin_client, url, form)
        assert response.status_code < 500, f"{url} {form}: {response.status}"


def test_every_list_parameter_with_each_kind_of_bad_value(app, admin, admin_client):
    """Not a sample: every list and partial × every parameter × one value of each class that once gave a 500
    (NUL, a Unicode digit, an id past 64 bits, a signalling NaN, a date whose next day does not exist)."""
    _custom_fields(app)
    for url in LISTS:
        for name in PARAMETERS:
            for value in ("a\x00b", "²", str(2**63), "sNaN", "31.12.9999"):
                response = admin_client.get(url, query_string={name: value})
                response.get_data()  # a streamed export runs to its end (and closes its generator)
                assert response.status_code < 500, f"{url}?{name}={value!r}: {response.status}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cursor=st.one_of(st.sampled_from(["0_" + "9" * 30, f"1_{2**63}", "nan_1", "1e300_1", "inf_1", "-1e20_5",
                                         "٣_٣", "²_1", "1_²", "_", "1_", "_1", "1.5_-3"]),
                        st.text(max_size=20), st.builds(lambda a, b: f"{a}_{b}", st.floats(), st.integers())))
def test_timeline_cursors_forged_or_garbled_never_500(app, admin, admin_client, cursor):
    with app.app_context(), unit_of_work():
        from core.models import Company, Contact

        contact_id = db.session.query(Contact.id).scalar()
        company_id = db.session.query(Company.id).scalar()
        if contact_id is None:
            db.session.add_all([Contact(first_name="T", search_lf="t", search_fl="t", owner_id=admin.id),
                                Company(name="T", search_name="t", owner_id=admin.id)])
            db.session.commit()
            contact_id = db.session.query(Contact.id).scalar()
            company_id = db.session.query(Company.id).scalar()
    for url in (f"/contacts/{contact_id}/timeline", f"/companies/{company_id}/timeline"):
        response = admin_client.get(url, query_string={"before": cursor}, headers={"HX-Request": "true"})
        assert response.status_code in (200, 400), f"{url}?before={cursor!r}: {response.status}"
