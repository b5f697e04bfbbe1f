"""API tokens in Debian's chromium (issue 10, item 7): a manager opens the profile, creates a token with one scope,
sees the secret once, uses it, revokes it; the administrator's list shows everyone's. In Russian, with no console
error and nothing the browser refuses."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest
import requests
from werkzeug.serving import make_server

from core import create_app
from core.db import unit_of_work
from core.testing.fixtures import TEST_CONFIG, app_environ, create_user, migrate_app
from tests.e2e.support import signed_in_page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("e2e-tokens")
    app = create_app(TEST_CONFIG, environ=app_environ(f"sqlite:///{tmp / 'e2e.db'}", tmp / "instance",
                                                       MAYAK_LOCALE="ru"))
    migrate_app(app)
    create_user(app, "boss@crm.local", is_admin=True, full_name="Анна Босс", locale="ru")
    create_user(app, "seller@crm.local", full_name="Пётр Продавец", locale="ru",
                grants={("contact", "view"): "own", ("deal", "view"): "own"})
    keeper = create_user(app, "stock@crm.local", full_name="Ирина Кладовщица", locale="ru",
                         grants={("contact", "view"): "own"})
    # someone else's token, so the administrator's page has one whatever test runs first
    with app.app_context(), unit_of_work():
        from core.db import db
        from core.models import User
        from core.services.platform.context import Actor
        from core.services.users import tokens

        tokens.create(Actor(None, via="test"), db.session.get(User, keeper.id), "Склад 1С")
        db.session.commit()
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def test_create_use_and_revoke_a_token_in_the_profile(server, browser, tmp_path):
    problems: list[str] = []
    page = signed_in_page(browser, server, "seller@crm.local", problems)
    page.goto(f"{server}/profile")
    section = page.locator("#api-tokens")
    section.wait_for()  # loaded into the profile by htmx
    assert "Токены API" in section.inner_text()
    page.fill("#api-tokens input[name=name]", "Сайт")
    page.check("#scope-contacts-read")
    page.uncheck("#scope-all-read")
    page.click("#api-tokens button[type=submit]")
    secret = page.input_value("#new-token")
    assert re.fullmatch(r"mk_[\w-]{40,}", secret)
    assert "больше он показан не будет" in page.inner_text("body")
    page.screenshot(path=str(tmp_path / "token-created.png"), full_page=True)
    api = {"Authorization": f"Bearer {secret}"}
    assert requests.get(f"{server}/api/v1/contacts", headers=api, timeout=10).status_code == 200
    refused = requests.get(f"{server}/api/v1/deals", headers=api, timeout=10)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope"
    page.goto(f"{server}/profile/tokens")
    assert secret not in page.content() and "Контакты: чтение" in page.inner_text("body")
    page.click("text=Отозвать")
    page.wait_for_url(f"{server}/profile/tokens")
    assert "отозван" in page.inner_text("body")
    assert requests.get(f"{server}/api/v1/contacts", headers=api, timeout=10).status_code == 401
    assert not problems, problems


def test_administrator_sees_everyones_tokens(server, browser, tmp_path):
    problems: list[str] = []
    page = signed_in_page(browser, server, "boss@crm.local", problems)
    page.goto(f"{server}/admin/users")
    page.click("text=Токены API")
    page.wait_for_url(f"{server}/admin/tokens")
    body = page.inner_text("body")
    assert "Ирина Кладовщица" in body and "Склад 1С" in body
    page.screenshot(path=str(tmp_path / "admin-tokens.png"), full_page=True)
    assert not problems, problems
