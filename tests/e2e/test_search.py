"""The top bar's search in Chromium (issue 10, item 16): suggestions as you type, arrows and Enter, Enter before
the list arrives, on a desktop and on a phone, in Russian."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.e2e.support import live_server, sign_in, watch

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[str, dict[str, int]]]:
    with live_server(tmp_path_factory.mktemp("search")) as served:
        yield served


@pytest.mark.parametrize("viewport", [{"width": 1366, "height": 768}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_typing_shows_suggestions_and_enter_opens_the_best_match(server, browser, viewport):
    base, ids = server
    context = browser.new_context(viewport=viewport, locale="ru-RU")
    page = context.new_page()
    problems = watch(page)
    sign_in(page, base)
    box = page.locator("#global-q")
    assert box.get_attribute("placeholder").startswith("Поиск")
    box.press_sequentially("ромашк", delay=60)
    page.wait_for_selector("#global-results .search-suggestions[data-q='ромашк'] [data-best]")
    assert box.get_attribute("aria-expanded") == "true"
    best = page.locator("#global-results [data-best]")
    assert "Ромашка" in best.inner_text() and best.get_attribute("href") == f"/companies/{ids['company']}"
    labels = page.locator("#global-results .search-group-label").all_inner_texts()
    assert labels[0] == "Лучшее совпадение" and "Контакты" in labels and "Сделки" in labels
    box.press("Enter")
    page.wait_for_url(f"{base}/companies/{ids['company']}")
    assert problems == []
    context.close()


def test_arrows_choose_a_row_and_escape_closes_the_list(server, browser):
    base, _ids = server
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="ru-RU")
    page = context.new_page()
    sign_in(page, base)
    box = page.locator("#global-q")
    box.press_sequentially("Поставка", delay=40)
    page.wait_for_selector("#global-results .search-suggestions[data-q='Поставка']")
    options = page.locator("#global-results [role=option]")
    assert options.count() >= 3
    box.press("ArrowDown")
    box.press("ArrowDown")
    chosen = options.nth(1)
    assert chosen.get_attribute("aria-selected") == "true"
    assert box.get_attribute("aria-activedescendant") == chosen.get_attribute("id")
    href = chosen.get_attribute("href")
    box.press("Escape")
    assert page.locator("#global-results").is_hidden()
    box.press("ArrowDown")  # the list comes back with the arrows
    assert page.locator("#global-results").is_visible()
    box.press("ArrowDown")
    box.press("Enter")
    page.wait_for_url(f"{base}{href}")
    context.close()


def test_enter_before_the_list_arrives_still_opens_the_best_match(server, browser):
    base, ids = server
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="ru-RU")
    page = context.new_page()
    sign_in(page, base)
    box = page.locator("#global-q")
    box.fill("8 (916) 555-00-10")  # the first contact's phone, written another way
    box.press("Enter")  # at once: no list yet, the server picks the best match
    page.wait_for_url(re.compile(rf"{re.escape(base)}/contacts/{ids['contact']}$"))
    # a search that finds nothing shows the results page, which says so
    page.locator("#global-q").fill("Щзщзщ")
    page.locator("#global-q").press("Enter")
    page.wait_for_url(re.compile(r".*/search/\?.*"))
    assert "Ничего не найдено" in page.inner_text("main")
    context.close()
