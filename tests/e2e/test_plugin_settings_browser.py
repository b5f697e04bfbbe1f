"""Plugin settings in Debian's chromium (issue 11, item 4), in Russian: an administrator opens Administration →
Plugins → mail_notify, gets the error next to the field, saves the SMTP server with its password, never sees the
password again, checks the connection in place; a manager keeps their own choice in the profile. No console error
and nothing the browser refuses."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from core import create_app
from core.testing.fixtures import TEST_CONFIG, app_environ, create_user, migrate_app
from tests.e2e.support import signed_in_page

pytestmark = pytest.mark.browser
SMTP_PASSWORD = "пароль-от-почты-42"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("e2e-plugin-settings")
    app = create_app(TEST_CONFIG, environ=app_environ(f"sqlite:///{tmp / 'e2e.db'}", tmp / "instance",
                                                       MAYAK_LOCALE="ru"))
    migrate_app(app)
    create_user(app, "boss@crm.local", is_admin=True, full_name="Анна Босс", locale="ru")
    create_user(app, "seller@crm.local", full_name="Пётр Продавец", locale="ru", grants={("contact", "view"): "own"})
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def test_an_administrator_saves_the_smtp_settings_in_russian(server, browser, tmp_path):
    problems: list[str] = []
    page = signed_in_page(browser, server, "boss@crm.local", problems, expected_errors="status of 422")
    page.goto(f"{server}/admin/plugins")
    page.click("a:text-is('mail_notify')")
    page.wait_for_url(f"{server}/admin/plugins/mail_notify")
    body = page.inner_text("body")
    assert "SMTP-сервер" in body and "Проверить подключение" in body and "Не задано." in body
    page.fill("input[name=host]", "smtp.example.com")
    page.fill("input[name=port]", "2525")
    page.select_option("select[name=security]", "none")
    page.fill("input[name=password]", SMTP_PASSWORD)
    page.click("form.card button[type=submit]")
    # no sender: the error in Russian next to the field, nothing saved, the typed password not echoed
    error = page.locator("#sender-err")
    assert error.inner_text() == "Укажите адрес, с которого отправляются письма."
    assert SMTP_PASSWORD not in page.content() and page.input_value("input[name=host]") == "smtp.example.com"
    page.fill("input[name=password]", SMTP_PASSWORD)
    page.fill("input[name=sender]", "crm@example.com")
    page.click("form.card button[type=submit]")
    page.wait_for_url(f"{server}/admin/plugins/mail_notify")
    body = page.inner_text("body")
    assert "Настройки «mail_notify» сохранены." in body
    assert "Задано. Оставьте поле пустым" in body and SMTP_PASSWORD not in page.content()
    assert page.input_value("input[name=password]") == "" and page.input_value("input[name=port]") == "2525"
    page.click("text=Проверить подключение")
    answer = page.locator("#plugin-check .plugin-check-answer")
    answer.wait_for()
    assert "SMTP smtp.example.com:2525" in answer.inner_text() and "работает" in answer.inner_text()
    page.screenshot(path=str(tmp_path / "plugin-settings.png"), full_page=True)
    assert problems == []


def test_a_manager_turns_reminder_mails_off_in_the_profile(server, browser):
    problems: list[str] = []
    page = signed_in_page(browser, server, "seller@crm.local", problems, expected_errors="status of 422")
    page.goto(f"{server}/profile")
    section = page.locator("#user-plugin-settings")
    section.wait_for()  # loaded into the profile by htmx
    assert "Напоминания по почте" in section.inner_text()
    page.fill("input[name='mail_notify-address']", "не-адрес")
    page.click("#user-plugin-settings button[type=submit]")
    page.locator("#mail_notify-address-err").wait_for()
    page.check("input[name='mail_notify-off']")
    page.fill("input[name='mail_notify-address']", "petr@example.com")
    page.click("#user-plugin-settings button[type=submit]")
    page.locator("#user-plugin-settings .alert-success").wait_for()
    assert "сохранены" in page.inner_text("#user-plugin-settings")
    page.reload()
    page.locator("#user-plugin-settings").wait_for()
    assert page.is_checked("input[name='mail_notify-off']")
    assert page.input_value("input[name='mail_notify-address']") == "petr@example.com"
    assert problems == []
