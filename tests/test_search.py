"""Global search (issue 10, item 16): the top bar finds contacts, companies and deals by every way of writing them,
only among what the reader may see, and Enter opens the best match."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.db import db, unit_of_work
from core.models import User
from core.services.clients import companies, contacts, search
from core.services.platform.context import Actor
from core.services.work import deals
from core.testing.fixtures import sign_in

PHONE = "9161234567"  # +7 916 123-45-67


def _seed(app, owner_id: int, *, suffix: str = "") -> dict[str, int]:
    """A person in a company with a deal, owned by ``owner_id``."""
    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, owner_id))
        company = companies.save(actor, None, {"name": f"ООО «Ромашка{suffix}»", "owner_id": owner_id,
                                               "phones": [{"raw": "+7 495 765-43-21"}],
                                               "emails": [{"address": f"office{suffix}@romashka.ru"}]})
        person = contacts.save(actor, None, {"first_name": "Пётр", "middle_name": "Сергеевич",
                                             "last_name": f"Иванов{suffix}", "owner_id": owner_id,
                                             "phones": [{"raw": f"+7 {PHONE}"}] if not suffix else [],
                                             "emails": [{"address": f"petr.ivanov{suffix}@example.com"}],
                                             "companies": [{"company_id": company.id}]})
        pipeline = deals.ensure_default_pipeline()
        deal = deals.save(actor, None, {"title": f"Поставка окон{suffix}", "pipeline_id": pipeline.id,
                                        "amount": "125000", "contact_id": person.id, "company_id": company.id,
                                        "owner_id": owner_id})
        return {"contact": person.id, "company": company.id, "deal": deal.id}


def _found(app, user_id: int, q: str) -> dict[str, list[int]]:
    with app.app_context(), unit_of_work():
        results = search.find(db.session.get(User, user_id), q)
        return {kind: [hit.id for hit in hits] for kind, hits in results.groups.items()}


WAYS = {
    "contact": ["Иванов", "иванов пётр", "Иванов Петр Сергеевич", "Пётр Иванов", "петр иван", "ПЁТР ИВАНОВ",
                f"+7{PHONE}", "+7 916 123-45-67", "8 (916) 123-45-67", "89161234567", "8-916-123-45-67",
                "916 123 45 67", "(916) 1234567", "123-45-67", "4567", "petr.ivanov@example.com",
                "PETR.IVANOV@EXAMPLE.COM", "petr.ivanov@", "Ромашка"],
    "company": ["Ромашка", "ромашка", "ООО Ромашка", "«Ромашка»", "ООО «Ромашка»", "рома", "РОМАШКА",
                "+7 495 765-43-21", "84957654321", "(495) 765 43 21", "765-43-21", "office@romashka.ru"],
    "deal": ["Поставка окон", "поставка", "ПОСТАВКА ОКОН", "Поставка  окон", "Иванов", "Ромашка",
             "+7 916 123-45-67"],
}


@pytest.mark.parametrize("kind", list(WAYS))
def test_each_kind_is_found_by_each_way_of_writing_it(app, admin, kind):
    seeded = _seed(app, admin.id)
    for q in WAYS[kind]:
        assert seeded[kind] in _found(app, admin.id, q)[kind], f"{kind} not found by {q!r}"


def _formats(draw_digits: str) -> st.SearchStrategy[str]:
    """Ways people write a Russian mobile number: +7 / 8 / nothing in front, any separators, brackets or not."""
    area, first, second, third = draw_digits[:3], draw_digits[3:6], draw_digits[6:8], draw_digits[8:]
    sep = st.sampled_from(["", " ", "-", ".", " - "])
    prefix = st.sampled_from(["+7", "+7 ", "8", "8 ", "7", ""])
    bracket = st.booleans()
    return st.builds(lambda p, b, s1, s2, s3, s4: (
        f"{p}{'(' + area + ')' if b else area}{s1}{first}{s2}{second}{s3}{third}{s4}".strip()),
        prefix, bracket, sep, sep, sep, st.sampled_from(["", " "]))


def test_a_phone_in_any_format_finds_its_contact(app, admin):
    seeded = _seed(app, admin.id)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(written=_formats(PHONE), tail=st.integers(min_value=4, max_value=10))
    def check(written: str, tail: int) -> None:
        assert seeded["contact"] in _found(app, admin.id, written)["contact"], written
        assert seeded["contact"] in _found(app, admin.id, PHONE[-tail:])["contact"], PHONE[-tail:]

    check()


SALES = {(entity, action): "own" for entity in ("contact", "company", "deal") for action in ("view", "create", "edit")}


def test_search_shows_only_what_the_reader_may_see(app, admin, make_user):
    anna = make_user("anna@example.com", grants=SALES, full_name="Анна")
    boris = make_user("boris@example.com", grants=SALES, full_name="Борис")
    mine = _seed(app, anna.id)
    theirs = _seed(app, boris.id, suffix="Б")
    for q in ("Иванов", "Ромашка", "Поставка окон", "petr.ivanov", "ромашка", "765-43-21"):
        found = _found(app, anna.id, q)
        for kind in search.KINDS:
            assert theirs[kind] not in found[kind], (q, kind)
        every = _found(app, admin.id, q)
        assert all(theirs[kind] in every[kind] for kind in search.KINDS if mine[kind] in every[kind]), q
    # and through the pages: nothing of Boris's is named on Anna's suggestions or results page
    client = app.test_client()
    sign_in(client, anna.email)
    for url in ("/search/suggest?q=Иванов", "/search/?q=Иванов", "/search/?q=Ромашка", "/search/suggest?q=Поставка"):
        body = client.get(url).get_data(as_text=True)
        assert "ИвановБ" not in body and "РомашкаБ" not in body and "окон Б" not in body and "оконБ" not in body, url
        assert f"/contacts/{theirs['contact']}\"" not in body


def test_a_visible_deal_does_not_name_a_client_the_reader_may_not_see(app, admin, make_user):
    grants = {**SALES, ("deal", "view"): "all"}
    reader = make_user("reader@example.com", grants=grants)
    other = make_user("other@example.com", grants=SALES)
    _seed(app, other.id, suffix="Скрыт")
    with app.app_context(), unit_of_work():
        results = search.find(db.session.get(User, reader.id), "Поставка")
        lines = [" ".join([h.title, *h.details]) for h in results.groups["deal"]]
    assert lines and all("ИвановСкрыт" not in line and "РомашкаСкрыт" not in line for line in lines), lines


def test_a_user_without_any_right_finds_nothing_and_has_no_search_box(app, admin, make_user):
    _seed(app, admin.id)
    nobody = make_user("nobody@example.com")
    assert _found(app, nobody.id, "Иванов") == {"contact": [], "company": [], "deal": []}
    client = app.test_client()
    sign_in(client, nobody.email)
    assert client.get("/search/?q=Иванов").status_code == 403
    assert client.get("/search/suggest?q=Иванов").status_code == 403
    assert 'id="global-q"' not in client.get("/").get_data(as_text=True)
    # one right is enough: a user who sees only deals searches deals
    dealer = make_user("dealer@example.com", grants={("deal", "view"): "all"})
    assert _found(app, dealer.id, "Поставка")["deal"] and not _found(app, dealer.id, "Иванов")["contact"]


@pytest.mark.parametrize(("q", "kind"), [
    ("Ромашка", "company"), ("ООО «Ромашка»", "company"), ("office@romashka.ru", "company"),
    ("Иванов Пётр", "contact"), ("+7 916 123-45-67", "contact"), ("petr.ivanov@example.com", "contact"),
    ("Поставка окон", "deal"), ("поставка", "deal"),
])
def test_enter_without_the_list_opens_the_best_match(app, admin, admin_client, q, kind):
    seeded = _seed(app, admin.id)
    response = admin_client.get("/search/", query_string={"q": q, "go": "1"})
    assert response.status_code == 303
    path = {"contact": "/contacts/", "company": "/companies/", "deal": "/deals/"}[kind]
    assert response.headers["Location"].endswith(f"{path}{seeded[kind]}"), (q, response.headers["Location"])
    # the list as you type marks the same row as the best match, first
    fragment = admin_client.get("/search/suggest", query_string={"q": q}, headers={"HX-Request": "true"})
    html = fragment.get_data(as_text=True)
    first = re.search(r'href="([^"]+)"[^>]*data-best="1"', html)
    assert first and first.group(1) == f"{path}{seeded[kind]}", html
    assert "<html" not in html


def test_typing_a_company_finds_the_company_and_not_only_its_people(app, admin):
    seeded = _seed(app, admin.id)
    with app.app_context(), unit_of_work():
        results = search.find(db.session.get(User, admin.id), "ромашка")
        assert [h.id for h in results.groups["company"]] == [seeded["company"]]
        assert results.best is not None and (results.best.kind, results.best.id) == ("company", seeded["company"])


def test_nothing_found_and_empty_queries(app, admin, admin_client):
    _seed(app, admin.id)
    page = admin_client.get("/search/", query_string={"q": "Щзщзщ", "go": "1"})
    assert page.status_code == 200 and "Nothing found" in page.get_data(as_text=True)
    empty = admin_client.get("/search/suggest?q=%20%20", headers={"HX-Request": "true"})
    assert empty.status_code == 200 and empty.get_data(as_text=True).strip() == ""
    assert admin_client.get("/search/?q=&go=1").status_code == 200
    for odd in ("%", "_", "'", "\\", "a" * 500, "١٢٣٤٥", "+", "()", "@", "ё"):
        for url in ("/search/", "/search/suggest"):
            assert admin_client.get(url, query_string={"q": odd, "go": "1"}).status_code in (200, 303, 400), odd


def test_the_results_page_in_russian(app, admin, make_user):
    seeded = _seed(app, admin.id)
    ru = make_user("ru@example.com", is_admin=True, locale="ru")
    client = app.test_client()
    sign_in(client, ru.email)
    html = client.get("/search/?q=Ромашка").get_data(as_text=True)
    assert "Результаты поиска" in html and "Компании" in html and "Контакты" in html and "Сделки" in html
    assert f"/companies/{seeded['company']}" in html and "Лучшее совпадение" in html
    assert "125\u00a0000,00\u00a0₽" in html  # money in the reader's locale
    suggest = client.get("/search/suggest?q=Иванов", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Все результаты" in suggest and "8 (916) 123-45-67" in suggest  # the phone as Russians write it
    # the top bar of every page carries the box
    assert 'id="global-q"' in client.get("/").get_data(as_text=True)


PAYLOADS = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "javascript:alert(1)",
            '<a hx-get="/admin" hx-trigger="load">x</a>', "{{ 7*7 }}"]


def test_names_found_are_shown_as_text(app, admin, admin_client):
    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, admin.id))
        pipeline = deals.ensure_default_pipeline()
        for n, payload in enumerate(PAYLOADS):
            person = contacts.save(actor, None, {"first_name": f"Xss{n}", "last_name": payload,
                                                 "emails": [{"address": f"xss{n}@example.com"}]})
            companies.save(actor, None, {"name": f"Xss{n} {payload}"})
            deals.save(actor, None, {"title": f"Xss{n} {payload}", "pipeline_id": pipeline.id,
                                     "contact_id": person.id})
    for url in ("/search/?q=xss", "/search/suggest?q=xss"):
        html = admin_client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
        assert "Xss4" in html
        for payload in PAYLOADS[:2] + PAYLOADS[3:4]:
            assert payload not in html, (url, payload)
        assert "<script>alert" not in html and "<img src=x" not in html and 'hx-trigger="load">x' not in html
        assert "{{ 7*7 }}" in html  # template syntax stays text


def test_any_text_typed_answers_without_a_server_error(app, admin, admin_client):
    """Whatever is typed or put in the address: results, the best match, or a 400 that says what is wrong."""
    from hypothesis import example

    _seed(app, admin.id)

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(q=st.text(max_size=300))
    @example(q="\x00")
    @example(q="а")
    @example(q="+" * 250)
    @example(q="²³")
    @example(q="%_\\'\"")
    def check(q: str) -> None:
        for url in ("/search/", "/search/suggest"):
            response = admin_client.get(url, query_string={"q": q, "go": "1"}, headers={"HX-Request": "true"})
            assert response.status_code in (200, 303, 400), (url, q, response.status_code)
            if response.status_code == 400:
                assert any(ord(c) < 32 or ord(c) == 127 for c in q), q
                assert "control characters" in response.get_data(as_text=True)

    check()
