"""QUALITY 18: a plugin hook that raises: the page still renders, the error is logged, no stack trace shown."""

from __future__ import annotations

import logging

from core.testing.fixtures import create_user, sign_in
from tests.plugins import raising


def test_pages_render_despite_a_raising_hook(app, make_app, caplog):
    broken = make_app(extra_plugins=[("raising", raising)])
    admin = create_user(broken, "admin@example.com", is_admin=True)
    client = broken.test_client()
    sign_in(client, admin.email)
    with caplog.at_level(logging.ERROR):
        page = client.get("/")
    assert page.status_code == 200
    assert b"Traceback" not in page.data and b"nav_items is broken" not in page.data
    assert b"/admin/users" in page.data, "the other plugins' navigation is still there"
    assert any("raising" in r.getMessage() and "nav_items" in r.getMessage() for r in caplog.records)

    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["plugins"]["raising"] == {"ok": False, "detail": "health check raised RuntimeError"}
    plugins_page = client.get("/admin/plugins")
    assert plugins_page.status_code == 200 and b"raising" in plugins_page.data
