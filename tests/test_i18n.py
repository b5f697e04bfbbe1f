"""Localisation: complete Russian catalogues shipped by plugins, per-user language, country rules."""

from __future__ import annotations

from core import create_app, i18n_tools
from core.plugins import facades
from core.testing.fixtures import TEST_CONFIG, app_environ, post_form, sign_in


def test_russian_catalogues_are_complete():
    assert i18n_tools.missing() == {}


def test_catalogues_are_compiled_and_current():
    for po in i18n_tools.catalogues():
        mo = po.with_suffix(".mo")
        assert mo.exists(), f"{mo} missing: run make compile-translations"


def test_browser_language_picks_russian_for_visitors(client):
    page = client.get("/login", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"})
    assert "Вход" in page.data.decode() and 'lang="ru"' in page.data.decode()
    assert "Sign in" in client.get("/login", headers={"Accept-Language": "en"}).data.decode()


def test_language_switch_before_and_after_sign_in(app, make_user, client):
    user = make_user("ivan@example.com")
    post_form(client, "/language", {"locale": "ru", "next": "/login"})
    assert "Вход" in client.get("/login").data.decode()
    sign_in(client, user.email)
    home = client.get("/").data.decode()
    assert "Главная" in home and "Уведомления" in home
    post_form(client, "/language", {"locale": "en", "next": "/"})
    assert "Home" in client.get("/").data.decode()
    post_form(client, "/language", {"locale": "klingon", "next": "/"})
    assert "Home" in client.get("/").data.decode()


def test_users_locale_is_remembered(app, make_user, client):
    user = make_user("olga@example.com", locale="ru")
    sign_in(client, user.email)
    assert "Главная" in client.get("/", headers={"Accept-Language": "en"}).data.decode()


def test_plugin_catalogue_is_merged(app, admin, client):
    sign_in(client, admin.email)
    post_form(client, "/language", {"locale": "ru", "next": "/"})
    page = client.get("/admin/jobs/").data.decode()
    assert "Фоновые задания" in page


def test_notifications_are_translated_for_each_reader(app, make_user, client):
    from core.db import db
    from core.services import notifications

    reader = make_user("reader@example.com", locale="ru")
    with app.app_context():
        notifications.notify([reader.id], "A new user was added: %(email)s", params={"email": "a@b.c"})
        db.session.commit()
    sign_in(client, reader.email)
    assert "Добавлен новый пользователь: a@b.c" in client.get("/notifications").data.decode()


def test_country_rules_come_from_l10n_ru(app, tmp_path, database_url):
    with app.app_context():
        rules = facades.country_rules()
        assert (rules.country, rules.phone_region, rules.currency) == ("RU", "RU", "RUB")
    only_ops = tmp_path / "plugins.toml"
    only_ops.write_text("[plugins.ops]\n")
    plain = create_app(TEST_CONFIG, environ=app_environ(database_url, tmp_path / "i",
                                                        MAYAK_PLUGINS_FILE=str(only_ops)))
    with plain.app_context():
        assert facades.country_rules().currency == "USD"
        assert "ru" not in facades.registry().locales
