"""A Russian installation shows times for Moscow; a user whose browser is elsewhere is offered their own zone once."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from core import create_app
from core.testing.fixtures import TEST_CONFIG, app_environ, create_user, migrate_app
from tests.e2e.support import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def russian_site(tmp_path_factory) -> Iterator[tuple[str, object]]:
    tmp = tmp_path_factory.mktemp("tz")
    # language and zone unset: l10n_ru's country rules give ru and Europe/Moscow
    app = create_app(TEST_CONFIG, environ=app_environ(f"sqlite:///{tmp / 'tz.db'}", tmp / "instance",
                                                      MAYAK_LOCALE="", MAYAK_TIMEZONE=""))
    migrate_app(app)
    for email in ("novosibirsk@example.com", "moscow@example.com", "keeper@example.com"):
        create_user(app, email, full_name=email.split("@")[0])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()


def _zone_of(app, email: str) -> str | None:
    with app.app_context():
        from core.db import db
        from core.models import User

        return db.session.scalar(select(User.timezone).where(User.email == email))


def _sign_in(browser, base: str, email: str, zone: str):
    page = browser.new_page(locale="ru-RU", timezone_id=zone)
    sign_in(page, base, email)
    return page


def test_the_browsers_zone_is_offered_once_and_saved(russian_site, browser):
    base, app = russian_site
    page = _sign_in(browser, base, "novosibirsk@example.com", "Asia/Novosibirsk")
    offer = page.locator("#tz-offer")
    offer.wait_for(state="visible")
    assert "Europe/Moscow" in offer.inner_text() and "Asia/Novosibirsk" in offer.inner_text()
    page.click("#tz-offer button[data-tz-browser-value]")
    offer.wait_for(state="detached")
    assert _zone_of(app, "novosibirsk@example.com") == "Asia/Novosibirsk"
    page.goto(f"{base}/tasks/")
    assert page.locator("#tz-offer").count() == 0, "offered again after the choice"
    page.close()


def test_keeping_the_installations_zone_is_a_choice_too(russian_site, browser):
    base, app = russian_site
    page = _sign_in(browser, base, "keeper@example.com", "America/New_York")
    page.locator("#tz-offer").wait_for(state="visible")
    page.click("#tz-offer button[value='Europe/Moscow']")
    page.locator("#tz-offer").wait_for(state="detached")
    assert _zone_of(app, "keeper@example.com") == "Europe/Moscow"
    page.close()


def test_no_offer_when_the_browser_is_in_the_installations_zone(russian_site, browser):
    base, app = russian_site
    page = _sign_in(browser, base, "moscow@example.com", "Europe/Moscow")
    page.wait_for_timeout(300)
    assert page.locator("#tz-offer").is_hidden()
    assert _zone_of(app, "moscow@example.com") is None
    page.close()
