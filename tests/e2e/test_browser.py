"""End to end in Debian's chromium (Playwright): sign in, switch to Russian, open every top-level page, and fail
on any console error (CSP violations included)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from core import create_app
from core.db import unit_of_work
from core.testing.fixtures import TEST_CONFIG, TEST_PASSWORD, app_environ, create_user, migrate_app
from tests.e2e.support import sign_in

LEAD_FORM_KEY = "e2e-lead-form"
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("e2e")
    app = create_app(TEST_CONFIG, environ=app_environ(f"sqlite:///{tmp / 'e2e.db'}", tmp / "instance"))
    migrate_app(app)
    boss = create_user(app, "boss@example.com", is_admin=True, full_name="Анна Босс")
    with app.app_context(), unit_of_work():
        from core.db import db
        from core.models import User
        from core.services.platform.context import Actor
        from core.services.work import deals

        pipeline = deals.ensure_default_pipeline()
        deals.save(Actor(db.session.get(User, boss.id)), None, {"title": "Окна для дачи", "pipeline_id": pipeline.id,
                                                                 "amount": "85000"})
        from core.services.work import lead_forms

        form = lead_forms.save(Actor(db.session.get(User, boss.id)), None, {
            "name": "Заказать звонок", "min_fill_seconds": "1", "rate_limit_per_hour": "5",
            "fields": lead_forms.standard_fields()})
        form.key = LEAD_FORM_KEY
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_sign_in_switch_to_russian_and_visit_every_page(live_server, browser):
    page = browser.new_page(locale="en-US")
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    page.goto(f"{live_server}/")
    page.fill("input[name=email]", "boss@example.com")
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")
    assert "Анна Босс" in page.inner_text("body")

    page.click("button.dropdown-toggle")
    page.click("button[name=locale][value=ru]")
    page.wait_for_load_state()
    nav = page.locator("nav.shell-nav")
    assert "Главная" in nav.inner_text() and "Пользователи" in nav.inner_text()

    links = nav.locator("a.nav-link")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert len(hrefs) >= 7, hrefs
    for href in hrefs:
        response = page.goto(f"{live_server}{href}")
        assert response is not None and response.status == 200, (href, response and response.status)
        assert page.locator("html").get_attribute("lang") == "ru"
        page.wait_for_timeout(150)  # let htmx and bootstrap run

    page.goto(f"{live_server}/notifications")
    page.wait_for_selector("#notification-badge")
    assert problems == []
    page.close()


def test_create_find_and_edit_a_contact(live_server, browser):
    page = browser.new_page(locale="ru-RU")
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    sign_in(page, live_server, "boss@example.com")

    page.goto(f"{live_server}/contacts/new")
    page.fill("#last_name", "Браузеров")
    page.fill("#first_name", "Тест")
    page.locator("input[name=phone_raw]").first.fill("8 916 777-66-55")
    page.locator("input[name=email_address]").first.fill("browser@example.com")
    page.locator("form.client-form button[type=submit]").click()
    page.wait_for_url(f"{live_server}/contacts/*")
    assert "Тест Браузеров" in page.inner_text("h1")
    assert "8 (916) 777-66-55" in page.inner_text("body")

    # click-to-edit a field in place
    page.locator("#field-city button").click()
    page.locator("#field-city input[name=value]").fill("Тула")
    page.locator("#field-city button.btn-primary").click()
    page.wait_for_selector("#field-city button:has-text('Тула')")

    # active search by the phone typed another way
    page.goto(f"{live_server}/contacts/")
    page.fill("#q", "+7 (916) 7776655")
    page.wait_for_selector("#list-body a:has-text('Тест Браузеров')", timeout=5000)
    assert problems == []
    page.close()


def test_drag_a_deal_to_another_stage(live_server, browser):
    page = browser.new_page(locale="ru-RU")
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    sign_in(page, live_server, "boss@example.com")
    page.goto(f"{live_server}/deals/")
    columns = page.locator(".kanban-cards")
    assert columns.count() == 6
    source = page.locator(".kanban-card", has_text="Окна для дачи")
    target = columns.nth(2)
    source.drag_to(target)
    # the drop alone only moves the DOM; the server's answer redraws the board and shows a toast
    page.wait_for_selector("#toasts .toast", timeout=15000)
    page.reload()
    assert page.locator(".kanban-cards").nth(2).locator(".kanban-card", has_text="Окна для дачи").count() == 1
    assert problems == []
    page.close()


def test_a_visitor_leaves_a_request_and_a_manager_accepts_it_in_russian(live_server, browser):
    visitor = browser.new_page(locale="ru-RU")
    visitor.goto(f"{live_server}/f/{LEAD_FORM_KEY}")
    visitor.fill("#f-name", "Иван Посетитель")
    visitor.fill("#f-phone", "8 916 555-44-33")
    visitor.fill("#f-message", "Перезвоните после обеда")
    visitor.wait_for_timeout(1200)  # a person takes longer than the form's minimum fill time
    visitor.click("button[type=submit]")
    assert "Спасибо" in visitor.inner_text("main")
    visitor.close()

    page = browser.new_page(locale="ru-RU")
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    sign_in(page, live_server, "boss@example.com")
    page.goto(f"{live_server}/inbox/")
    item = page.locator("li.list-group-item", has_text="Иван Посетитель")
    assert "новый лид" in item.inner_text()
    item.locator("button", has_text="Принять").click()
    page.wait_for_selector(".alert-success, #toasts .toast")
    page.goto(f"{live_server}/tasks/")
    assert page.locator(".task-row", has_text="Перезвонить: Иван Посетитель").count() == 1
    page.locator(".task-row", has_text="Перезвонить: Иван Посетитель").locator("a", has_text="Заказать звонок").click()
    assert "Иван Посетитель" in page.inner_text("body")  # the deal, with its client
    assert problems == []
    page.close()


def test_import_a_messy_spreadsheet_in_russian_and_undo_it(live_server, browser, tmp_path):
    from tests.import_samples import write

    path = write(tmp_path / "клиенты.xlsx")
    page = browser.new_page(locale="ru-RU")
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live_server, "boss@example.com")
    page.goto(f"{live_server}/contacts/")
    page.click("a:text-is('Импорт')")
    page.set_input_files("input[name=file]", str(path))
    page.click("button:text('Загрузить и продолжить')")
    assert page.input_value("#header_row") == "3"  # found under the title row
    assert page.locator("#map_0 option:checked").inner_text().startswith("ФИО")
    page.click("button:text('Предпросмотр (пробный прогон)')")
    page.wait_for_selector("text=Предпросмотр: что сделает импорт")
    assert "8 (916) 123-45-67 → +79161234567" in page.inner_text("main")
    assert "31.02.1990 — не дата" in page.inner_text("main")
    page.click("button[value=run]")
    page.wait_for_selector("text=Отменить импорт")
    counts = [page.locator(".import-counts dd").nth(i).inner_text() for i in range(7)]
    assert counts == ["8", "6", "0", "1", "0", "1", "2"]  # rows, created, updated, merged, skipped, failed, flagged
    assert "В строке нет ни имени, ни телефона, ни почты" in page.inner_text("main")
    page.click("button:text('Отменить импорт')")
    page.wait_for_selector("text=Импорт отменён")
    assert problems == []
    page.close()
