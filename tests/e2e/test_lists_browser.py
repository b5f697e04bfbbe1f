"""Lists in Chromium (issue 10, items 12, 20 and 22): typing a broad query into the search box updates the rows
(with several pages of results) and the export links with them; clearing it brings the list back; a failed htmx
request shows a toast instead of leaving the page silently as it was; the bulk bar appears only with rows
selected; the deal filter bar fits 1366 px."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.serving import make_server

from core import create_app
from core.db import unit_of_work
from core.testing.fixtures import TEST_CONFIG, TEST_PASSWORD, app_environ, create_user, migrate_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def list_server(tmp_path_factory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("e2e-lists")
    app = create_app(TEST_CONFIG, environ=app_environ(f"sqlite:///{tmp / 'e2e.db'}", tmp / "instance"))
    migrate_app(app)
    boss = create_user(app, "boss@example.com", is_admin=True, full_name="Анна Босс")
    with app.app_context(), unit_of_work():
        from core.db import db
        from core.models import User
        from core.services.clients import companies, contacts
        from core.services.platform.context import Actor
        from core.services.work import deals

        actor = Actor(db.session.get(User, boss.id))
        pipeline = deals.ensure_default_pipeline()
        for n in range(130):
            contacts.save(actor, None, {"first_name": f"Анна{n:03d}", "last_name": "Егорова" if n % 2 else "Иванова",
                                        "phones": [{"raw": f"+7 495 123-{n // 100:02d}-{n % 100:02d}"}]})
            if n < 60:
                companies.save(actor, None, {"name": f"Кама {n:03d}"})
                deals.save(actor, None, {"title": f"Поставка {n:03d}", "pipeline_id": pipeline.id})
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _page(browser, server: str, width: int = 1366):
    page = browser.new_page(locale="ru-RU", viewport={"width": width, "height": 768})
    page.goto(f"{server}/login")
    page.fill("input[name=email]", "boss@example.com")
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")
    return page


def _wait(page, condition: str, timeout: float = 10.0) -> None:
    """Poll a JavaScript condition (Playwright's wait_for_function evaluates strings, which the CSP forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({condition})"):
        assert time.monotonic() < deadline, f"timed out waiting for {condition}"
        page.wait_for_timeout(100)


def test_search_as_you_type_export_and_bulk_bar(list_server, browser):
    page = _page(browser, list_server)
    failures: list[str] = []
    page.on("response", lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    page.goto(f"{list_server}/contacts/")
    rows = page.locator("#list-body input[name=ids]")
    assert rows.count() == 50
    assert not page.locator(".bulk-bar").is_visible(), "the bulk bar shows with nothing selected"
    rows.first.check()
    assert page.locator(".bulk-bar").is_visible()
    rows.first.uncheck()
    assert not page.locator(".bulk-bar").is_visible()

    page.fill("#q", "а")  # broad: every contact, several pages
    _wait(page, "document.querySelector('#export-links a').href.includes('q=')")
    assert rows.count() == 50 and page.locator("#list-body tr.more-row").count() == 1
    page.fill("#q", "Егорова")
    _wait(page, "decodeURIComponent(document.querySelector('#export-links a').href).includes('Егорова')")
    _wait(page, "document.querySelector('#list-count').textContent.trim() === '65'")  # the count follows too
    # and a bulk action comes back to this search, not to the list as first opened
    _wait(page, "decodeURIComponent(document.querySelector('#bulk-next').value).includes('Егорова')")
    page.locator("#list-body tr.more-row").scroll_into_view_if_needed()
    _wait(page, "document.querySelectorAll('#list-body input[name=ids]').length === 65")
    href = page.locator("#export-links a").first.get_attribute("href")
    assert parse_qs(urlsplit(href).query)["q"] == ["Егорова"]
    page.fill("#q", "")  # cleared: the whole list again
    _wait(page, "!document.querySelector('#export-links a').href.includes('q=')")
    assert rows.count() == 50
    assert failures == []
    for path in ("/companies/", "/deals/list"):
        page.goto(f"{list_server}{path}")
        page.fill("#q", "а")
        _wait(page, "document.querySelector('#export-links a').href.includes('q=')")
    assert failures == []


def test_a_failed_request_says_so(list_server, browser):
    page = _page(browser, list_server)
    page.goto(f"{list_server}/contacts/")
    page.route("**/contacts/?q=*", lambda route: route.fulfill(status=500, body="boom"))
    page.fill("#q", "Егорова")
    toast = page.locator("#toasts .toast")
    toast.wait_for(state="attached", timeout=5000)
    assert "500" in toast.inner_text() and "Сервер" in toast.inner_text()


def test_the_deal_filter_bar_fits_1366(list_server, browser):
    page = _page(browser, list_server, 1366)
    page.goto(f"{list_server}/deals/list")
    overflow = page.evaluate("""() => {
        const bar = document.querySelector('#deal-filters');
        const out = [];
        if (document.documentElement.scrollWidth > window.innerWidth) out.push('page wider than the window');
        if (bar.scrollWidth > bar.clientWidth) out.push('filter bar overflows');
        for (const el of bar.querySelectorAll('.filter-field, label, select, input')) {
            const r = el.getBoundingClientRect(), b = bar.getBoundingClientRect();
            if (r.right > b.right + 1) out.push((el.id || el.textContent.trim()) + ' sticks out');
        }
        return out;
    }""")
    assert overflow == []
