"""The plugin's page in *Administration → Plugins*: the form, the write-only secret, what is refused, and *Check
connection* against the loopback Zadarma."""

from __future__ import annotations

from mayak import plugin_settings
from mayak.testing import post_form, sign_in
from plugins.zadarma.tests.support import notification, post
from plugins.zadarma.tests.zadarma_fake import SECRET

PAGE = "/admin/plugins/zadarma"


def form(**values: str) -> dict[str, str]:
    return {"api_key": "KEY123", "api_secret": "", "api_url": "https://api.novofon.com", "timezone": "UTC+3",
            "route_incoming": "y", "return_timeout": "25", **values}


def test_the_settings_page_never_shows_the_secret(app, admin_client):
    page = admin_client.get(PAGE).get_data(as_text=True)
    for name in ("api_key", "api_secret", "api_url", "timezone", "route_incoming", "return_timeout"):
        assert f'name="{name}"' in page, name
    assert SECRET not in page and "/webhooks/zadarma/calls" in page  # the address to give Zadarma


def test_bad_values_are_refused_and_nothing_is_saved(app, admin_client):
    for bad in ({"timezone": "Mars/Olympus"}, {"return_timeout": "2"}, {"api_url": "not an address"}):
        answer = post_form(admin_client, PAGE, form(**bad))
        assert answer.status_code == 422, bad
    with app.test_request_context():
        assert plugin_settings("zadarma").timezone == "Europe/Moscow"


def test_saved_values_apply_at_once_and_a_new_secret_signs_the_notifications(app, admin_client, client):
    answer = post_form(admin_client, PAGE, form(api_secret="a-new-secret-from-the-cabinet"))
    assert answer.status_code == 302, answer.get_data(as_text=True)
    with app.test_request_context():
        conf = plugin_settings("zadarma")
        assert (conf.api_url, conf.timezone, conf.return_timeout, conf.api_secret) == \
            ("https://api.novofon.com", "UTC+3", 25, "a-new-secret-from-the-cabinet")
    assert SECRET not in admin_client.get(PAGE).get_data(as_text=True)
    start = notification("NOTIFY_START")
    assert post(client, start).status_code == 403  # signed with the old secret
    assert post(client, start, secret="a-new-secret-from-the-cabinet").status_code == 200


def test_check_connection_shows_the_balance(zadarma_app, zadarma, admin):
    browser = zadarma_app.test_client()
    sign_in(browser, admin.email)
    page = post_form(browser, f"{PAGE}/check").get_data(as_text=True)
    assert "10.34 USD" in page
    assert [path for path, _, ok in zadarma.requests if ok] == ["/v1/info/balance/", "/v1/info/timezone/"]
