"""Issue 10, item 20: an export holds exactly the list on screen — after typing into the search box (the export
links come back with the new rows), with a filter, with a sort — for contacts, companies, deals and a day of tasks.
The list's rows are read as a browser gets them: the page, then its "more" rows through htmx."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from core.db import db, unit_of_work
from core.models import User, utcnow
from core.services.clients import companies, contacts, listing
from core.services.platform.context import Actor
from core.services.work import deals, tasks
from tests import htmx_crawler

ROWS = listing.PAGE_SIZE * 2 + 5  # more than one page; the search below matches more than a page too
ROW_LINK = {"contacts": r'href="/contacts/(\d+)"', "companies": r'href="/companies/(\d+)"',
            "deals": r'href="/deals/(\d+)"'}
LIST_URL = {"contacts": "/contacts/", "companies": "/companies/", "deals": "/deals/list"}
CASES = {
    "contacts": {"search": ("Егоров", {}), "filter": ("", {"city": "Тверь"}),
                 "sort": ("", {"sort": "created", "dir": "desc"})},
    "companies": {"search": ("Кама", {}), "filter": ("", {"city": "Тверь"}),
                  "sort": ("", {"sort": "created", "dir": "desc"})},
    "deals": {"search": ("поставк", {}), "filter": ("", {"amount_from": "1040"}),
              "sort": ("", {"sort": "amount", "dir": "desc"})},
}


@pytest.fixture
def seeded(app, admin):
    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, admin.id))
        pipeline = deals.ensure_default_pipeline()
        for n in range(ROWS):
            hit = n % 3 != 0  # two thirds match the search
            company = companies.save(actor, None, {"name": f"{'Кама' if hit else 'Ока'} {n:03d}",
                                                   "city": "Тверь" if n % 2 else "Казань",
                                                   "phones": [{"raw": f"+44 20 7946 {n:04d}"}]})
            contact = contacts.save(actor, None, {
                "first_name": f"Пётр{n:03d}", "last_name": "Егоров" if hit else "Смирнов",
                "city": "Тверь" if n % 2 else "Казань", "phones": [{"raw": f"+7 495 123-{n // 100:02d}-{n % 100:02d}"}],
                "companies": [{"company_id": company.id}]})
            deals.save(actor, None, {"title": f"{'Сделка на поставку' if hit else 'Сервис'} {n:03d}",
                                     "pipeline_id": pipeline.id, "amount": str(1000 + (n * 37) % 90),
                                     "contact_id": contact.id})
            task = tasks.save(actor, None, {"title": f"Позвонить {n:03d}", "contact_id": contact.id})
            task.due_at = utcnow() + timedelta(hours=(n % 7) * 20 - 40) if n % 5 else None  # overdue ones too
        db.session.commit()


def _listed(client, entity: str, html: str, url: str) -> list[int]:
    """Ids in the order the list shows them: these rows, then every "more" row htmx loads as the user scrolls."""
    ids: list[int] = []
    while True:
        ids += [int(i) for i in re.findall(ROW_LINK[entity], html)]
        more = [r for r, element in htmx_crawler.requests_of(html, url) if element.tag == "tr"]
        if not more:
            return ids
        response = client.get(htmx_crawler.as_get_url(more[0]), headers=dict(more[0].headers))
        assert response.status_code == 200
        html = response.get_data(as_text=True)


def _export_link(html: str) -> str:
    links = re.findall(r'<span id="export-links"[^>]*>.*?</span>', html, flags=re.S)
    assert links, "no export links"
    href = re.search(r'href="([^"]*\.xlsx[^"]*)"', links[-1]).group(1)
    return href.replace("&amp;", "&")


def _exported(client, href: str) -> list[int]:
    response = client.get(href)
    assert response.status_code == 200, href
    sheet = load_workbook(io.BytesIO(response.data)).active
    return [int(row[0]) for row in sheet.iter_rows(min_row=2, values_only=True)]


def test_the_export_holds_the_list_on_screen(app, admin_client, seeded):
    for entity, cases in CASES.items():
        for case, (typed, args) in cases.items():
            listed, exported = _list_and_export(admin_client, entity, typed, args)
            assert len(listed) > listing.PAGE_SIZE or case == "filter" or entity == "deals", (entity, case)
            assert len(listed) < ROWS or case == "sort", (entity, case)  # the search or filter narrowed the list
            assert exported == listed, (entity, case)


def _list_and_export(client, entity: str, typed: str, args: dict[str, str]) -> tuple[list[int], list[int]]:
    page_url = LIST_URL[entity] + ("?" + "&".join(f"{k}={v}" for k, v in args.items()) if args else "")
    page = client.get(page_url).get_data(as_text=True)
    html, url = page, page_url
    if typed:  # type into the search box: htmx asks for the new rows, which bring the export links along
        search = next(r for r, element in htmx_crawler.requests_of(page, page_url)
                      if element.tag == "form" and r.target == "list-body")
        request = htmx_crawler.with_values(search, {"q": typed})
        response = client.get(htmx_crawler.as_get_url(request), headers=dict(request.headers))
        assert response.status_code == 200
        html, url = response.get_data(as_text=True), htmx_crawler.as_get_url(request)
        assert "hx-swap-oob" in html, f"the new {entity} rows do not bring the export links"
        # the list's other tools (saved views, filters, grouping) come along too, built from the new query
        tools = html.split('id="list-tools"', 1)[1]
        assert tools.count(f'name="q" value="{typed}"') >= 2, f"the {entity} tools still hold the old search"
    return _listed(client, entity, html, url), _exported(client, _export_link(html))


def test_the_task_export_holds_the_day_on_screen_and_a_bulk_export_the_selected_rows(app, admin_client, seeded):
    from core.testing.fixtures import csrf_token

    page = admin_client.get("/tasks/").get_data(as_text=True)
    listed = list(dict.fromkeys(int(i) for i in re.findall(r'href="/tasks/(\d+)"', page)))
    assert listed
    href = re.search(r'href="(/export/tasks\.xlsx[^"]*)"', page).group(1).replace("&amp;", "&")
    assert _exported(admin_client, href) == listed
    for entity in ("contacts", "companies"):
        page = admin_client.get(LIST_URL[entity]).get_data(as_text=True)
        chosen = [int(i) for i in re.findall(r'name="ids" value="(\d+)"', page)][3:9]
        response = admin_client.post(f"/{entity}/bulk", data={"csrf_token": csrf_token(admin_client),
                                                              "action": "export", "ids": chosen})
        assert response.status_code in (302, 303)
        assert sorted(_exported(admin_client, response.headers["Location"])) == sorted(chosen)


def test_a_bad_owner_in_a_task_export_is_a_400_before_the_file(app, admin_client):
    for fmt in ("csv", "xlsx"):
        for owner in ("abc", "²", "99999999999999999999"):
            response = admin_client.get(f"/export/tasks.{fmt}?owner={owner}")
            assert response.status_code == 400, (fmt, owner)
