"""Phones at 390 px (issue 10, item 21): the menu is a burger, lists are cards, cards stack; no page scrolls
sideways (the board scrolls inside its own container)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.support import live_server, sign_in, watch

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
SHOTS = os.environ.get("MAYAK_SCREENSHOTS")  # a folder to keep the screenshots in, to look at them


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[str, dict[str, int]]]:
    with live_server(tmp_path_factory.mktemp("mobile")) as served:
        yield served


def _phone_page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True,
                                  locale="ru-RU")
    return context.new_page()


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))
        page.screenshot(path=str(Path(SHOTS) / f"{name}-full.png"), full_page=True)


def test_no_page_scrolls_sideways_on_a_phone(server, browser):
    base, ids = server
    page = _phone_page(browser)
    problems = watch(page)
    sign_in(page, base)
    pages = {"home": "/", "contacts": "/contacts/", "companies": "/companies/", "deals": "/deals/list",
             "board": f"/deals/board/{ids['pipeline']}", "tasks": "/tasks/", "inbox": "/inbox/",
             "contact-card": f"/contacts/{ids['contact']}", "company-card": f"/companies/{ids['company']}",
             "deal-card": f"/deals/{ids['deal']}", "search": "/search/?q=Поставка"}
    for name, path in pages.items():
        page.goto(f"{base}{path}")
        page.wait_for_load_state("networkidle")
        assert page.locator("html").get_attribute("lang") == "ru"
        _shot(page, name)
        # a mobile browser widens its layout viewport (innerWidth) to content that overflows: compare with 390
        scroll, inner = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner == PHONE["width"], f"{path} is {scroll} px wide on a {PHONE['width']} px phone"
    assert problems == []
    page.context.close()


@pytest.mark.parametrize("width", [820, 1024, 1366])
def test_no_page_scrolls_sideways_on_tablets_and_laptops(server, browser, width):
    base, ids = server
    context = browser.new_context(viewport={"width": width, "height": 768}, locale="ru-RU")
    page = context.new_page()
    sign_in(page, base)
    for path in ("/", "/contacts/", "/companies/", "/deals/list", f"/deals/board/{ids['pipeline']}", "/tasks/",
                 "/inbox/", f"/contacts/{ids['contact']}", f"/companies/{ids['company']}", f"/deals/{ids['deal']}"):
        page.goto(f"{base}{path}")
        page.wait_for_load_state("networkidle")
        scroll, inner = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"{path} is {scroll} px wide in a {inner} px window"
    context.close()


def test_lists_are_cards_with_labelled_fields(server, browser):
    base, _ids = server
    page = _phone_page(browser)
    sign_in(page, base)
    for path in ("/contacts/?columns=phone&columns=email&columns=company&columns=city",
                 "/companies/", "/deals/list"):
        page.goto(f"{base}{path}")
        row = page.locator(".list-table tbody tr").first
        assert page.locator(".list-table thead").is_hidden(), path
        assert row.evaluate("r => getComputedStyle(r).display") == "block", path
        labelled = row.locator("td[data-label]").first
        label = labelled.evaluate("td => getComputedStyle(td, '::before').content")
        assert label not in ("none", "normal", '""'), (path, label)
    page.context.close()


def test_the_menu_is_collapsed_and_opens_on_tap(server, browser):
    base, _ids = server
    page = _phone_page(browser)
    sign_in(page, base)
    menu = page.locator("#shell-nav")
    assert not menu.is_visible()
    assert page.locator("#shell-nav a.nav-link").first.is_hidden()
    burger = page.locator("button.shell-burger")
    assert burger.is_visible() and burger.get_attribute("aria-label") == "Меню"
    burger.tap()
    page.wait_for_selector("#shell-nav.show")
    _shot(page, "menu-open")
    link = page.locator("#shell-nav a.nav-link", has_text="Контакты")
    assert link.is_visible()
    link.tap()
    page.wait_for_url(f"{base}/contacts/")
    assert not page.locator("#shell-nav").is_visible()
    page.context.close()


def test_the_desktop_keeps_the_menu_beside_the_page(server, browser):
    base, _ids = server
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="ru-RU")
    page = context.new_page()
    sign_in(page, base)
    assert page.locator("#shell-nav a.nav-link", has_text="Контакты").is_visible()
    assert page.locator("button.shell-burger").is_hidden()
    page.goto(f"{base}/contacts/")
    assert page.locator(".list-table thead").is_visible()
    context.close()
