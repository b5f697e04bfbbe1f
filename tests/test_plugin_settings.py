"""Plugin settings in the UI (issue 11, item 4): a plugin's form in Administration → Plugins, secrets write-only and
encrypted at rest, plugins.toml under the saved values, per-user settings, key rotation, check connection."""

from __future__ import annotations

import re

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from core.config import PROJECT_ROOT
from core.db import db, unit_of_work
from core.models import AuditEntry, PluginSetting, User, UserPluginSetting
from core.plugins.settings import plugin_settings, user_settings
from core.testing.fixtures import create_user, post_form, sign_in

PAGE = "/admin/plugins/settings_sample"
SECRET = "sk-live-0123456789"


@pytest.fixture
def build_sample(app, make_app, tmp_path):
    """Build an app with ``settings_sample`` enabled through a plugins.toml of its own (deploy-time values)."""
    toml = (PROJECT_ROOT / "plugins.toml").read_text(encoding="utf-8")
    toml += ('\n[plugins.settings_sample]\nmodule = "tests.plugins.settings_sample"\n'
             'endpoint = "https://toml.example.com"\nretries = 5\n')
    path = tmp_path / "plugins.toml"
    path.write_text(toml, encoding="utf-8")
    return lambda **environ: make_app(MAYAK_PLUGINS_FILE=str(path), **environ)


@pytest.fixture
def sample_app(build_sample):
    return build_sample()


@pytest.fixture
def admin_of(sample_app):
    create_user(sample_app, "root@example.com", is_admin=True)
    client = sample_app.test_client()
    sign_in(client, "root@example.com")
    return client


def _raw(app, plugin="settings_sample"):
    with app.app_context(), unit_of_work():
        return {row.key: (row.value, row.secret) for row in db.session.scalars(
            select(PluginSetting).where(PluginSetting.plugin == plugin))}


def test_plugins_toml_values_are_used_when_nothing_is_saved(sample_app, admin_of):
    with sample_app.test_request_context(), unit_of_work():
        conf = plugin_settings("settings_sample")
        assert conf.endpoint == "https://toml.example.com" and conf.retries == 5 and conf.api_key is None
    page = admin_of.get(PAGE)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'value="https://toml.example.com"' in html and "Not set." in html


def test_saving_stores_the_secret_encrypted_and_never_shows_it(sample_app, admin_of):
    answer = post_form(admin_of, PAGE, {"endpoint": "https://db.example.com", "api_key": SECRET, "retries": "5"})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    raw = _raw(sample_app)
    token, secret = raw["api_key"]
    assert secret is True and SECRET not in str(token) and token.startswith("gAAAA")
    assert raw["endpoint"] == ("https://db.example.com", False)
    assert "retries" not in raw, "a value equal to plugins.toml's is not stored"
    with sample_app.app_context(), unit_of_work():  # the raw column, straight from the database
        column = db.session.execute(text("SELECT value FROM plugin_setting WHERE key = 'api_key'")).scalar_one()
        assert SECRET not in str(column)
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "plugin.settings_saved")).one()
        assert entry.target_id == "settings_sample" and entry.changes["api_key"] == "***"
        assert SECRET not in str(entry.changes)
    with sample_app.test_request_context(), unit_of_work():
        conf = plugin_settings("settings_sample")
        assert conf.api_key == SECRET and conf.endpoint == "https://db.example.com"
    html = admin_of.get(PAGE).get_data(as_text=True)
    assert SECRET not in html and "Leave empty to keep it" in html
    assert 'value="https://db.example.com"' in html


def test_an_empty_secret_keeps_the_saved_one(sample_app, admin_of):
    post_form(admin_of, PAGE, {"endpoint": "https://db.example.com", "api_key": SECRET, "retries": "5"})
    token = _raw(sample_app)["api_key"][0]
    answer = post_form(admin_of, PAGE, {"endpoint": "https://other.example.com", "api_key": "", "retries": "2"})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    raw = _raw(sample_app)
    assert raw["api_key"][0] == token and raw["retries"] == (2, False)
    with sample_app.test_request_context(), unit_of_work():
        assert plugin_settings("settings_sample").api_key == SECRET
    # the box beside it forgets it: the field is required again
    answer = post_form(admin_of, PAGE, {"endpoint": "https://other.example.com", "api_key": "",
                                        "api_key-clear": "1", "retries": "2"})
    assert answer.status_code == 422 and "api_key" in _raw(sample_app)


def test_validation_errors_appear_next_to_the_field_and_nothing_is_saved(sample_app, admin_of):
    answer = post_form(admin_of, PAGE, {"endpoint": "", "api_key": "short", "retries": "99"})
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    for name in ("endpoint", "api_key", "retries"):
        tag = re.search(rf'<input[^>]*\bid="{name}"[^>]*>', html)
        assert tag and re.search(rf'aria-describedby="[^"]*{name}-err', tag.group(0)), name
        assert f'id="{name}-err"' in html
    assert "short" not in html, "a typed secret is not echoed back either"
    assert _raw(sample_app) == {}
    with sample_app.app_context(), unit_of_work():
        assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "plugin.settings_saved")) is None


def test_database_value_wins_over_plugins_toml(sample_app, admin_of):
    post_form(admin_of, PAGE, {"endpoint": "https://db.example.com", "api_key": SECRET, "retries": "7"})
    with sample_app.test_request_context(), unit_of_work():
        conf = plugin_settings("settings_sample")
        assert (conf.endpoint, conf.retries) == ("https://db.example.com", 7)
    # back to the plugins.toml value: the row goes, so plugins.toml decides again
    post_form(admin_of, PAGE, {"endpoint": "https://db.example.com", "api_key": "", "retries": "5"})
    assert "retries" not in _raw(sample_app)


def test_check_connection_answers_in_place(sample_app, admin_of):
    answer = post_form(admin_of, PAGE + "/check", headers={"HX-Request": "true"})
    assert answer.status_code == 200
    assert "no API key" in answer.get_data(as_text=True) and "<html" not in answer.get_data(as_text=True)
    post_form(admin_of, PAGE, {"endpoint": "https://db.example.com", "api_key": SECRET, "retries": "5"})
    html = post_form(admin_of, PAGE + "/check", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "gateway https://db.example.com answers" in html and SECRET not in html
    full = post_form(admin_of, PAGE + "/check").get_data(as_text=True)  # without htmx: the whole page
    assert "gateway https://db.example.com answers" in full and 'name="endpoint"' in full


def test_csrf_is_required(sample_app, admin_of):
    answer = admin_of.post(PAGE, data={"endpoint": "https://evil.example.com", "api_key": SECRET})
    assert answer.status_code == 400 and _raw(sample_app) == {}
    assert admin_of.post(PAGE + "/check").status_code == 400


def test_rights(sample_app):
    create_user(sample_app, "viewer@example.com", grants={("plugin", "view"): "all"})
    create_user(sample_app, "nobody@example.com", grants={("contact", "view"): "all"})
    create_user(sample_app, "editor@example.com", grants={("plugin", "view"): "all", ("plugin", "edit"): "all"})
    nobody = sample_app.test_client()
    sign_in(nobody, "nobody@example.com")
    assert nobody.get(PAGE).status_code == 403
    assert post_form(nobody, PAGE + "/check").status_code == 403
    viewer = sample_app.test_client()
    sign_in(viewer, "viewer@example.com")
    page = viewer.get(PAGE)
    assert page.status_code == 200 and "<fieldset disabled>" in page.get_data(as_text=True)
    denied = post_form(viewer, PAGE, {"endpoint": "https://db.example.com", "api_key": SECRET, "retries": "1"})
    assert denied.status_code == 403 and _raw(sample_app) == {}
    editor = sample_app.test_client()
    sign_in(editor, "editor@example.com")
    saved = post_form(editor, PAGE, {"endpoint": "https://db.example.com", "api_key": SECRET, "retries": "1"})
    assert saved.status_code == 302 and "api_key" in _raw(sample_app)
    assert viewer.get("/admin/plugins/no_such_plugin").status_code == 404


# --- per-user settings ------------------------------------------------------------------------------------------


def _user_rows(app, user_id):
    with app.app_context(), unit_of_work():
        return {row.key: (row.value, row.secret) for row in db.session.scalars(
            select(UserPluginSetting).where(UserPluginSetting.user_id == user_id))}


def test_a_user_keeps_their_own_settings_in_the_profile(sample_app):
    seller = create_user(sample_app, "seller@example.com", grants={("contact", "view"): "own"})
    client = sample_app.test_client()
    sign_in(client, seller.email)
    assert "/profile/plugins" in client.get("/profile").get_data(as_text=True)
    section = client.get("/profile/plugins", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Sample gateway" in section and 'name="settings_sample-extension"' in section and "<html" not in section
    refused = post_form(client, "/profile/plugins/settings_sample",
                        {"settings_sample-extension": "1234567", "settings_sample-mailbox_password": "hunter22"},
                        headers={"HX-Request": "true"})
    assert refused.status_code == 422 and 'id="settings_sample-extension-err"' in refused.get_data(as_text=True)
    assert _user_rows(sample_app, seller.id) == {}
    saved = post_form(client, "/profile/plugins/settings_sample",
                      {"settings_sample-extension": "204", "settings_sample-mailbox_password": "hunter22"})
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/profile")
    rows = _user_rows(sample_app, seller.id)
    assert rows["extension"] == ("204", False)
    assert rows["mailbox_password"][1] is True and "hunter22" not in str(rows["mailbox_password"][0])
    page = client.get("/profile/plugins").get_data(as_text=True)
    assert "hunter22" not in page and 'value="204"' in page and "Leave empty to keep it" in page
    with sample_app.test_request_context(), unit_of_work():
        mine = user_settings("settings_sample", db.session.get(User, seller.id))
        assert mine.extension == "204" and mine["mailbox_password"] == "hunter22"
    with sample_app.app_context(), unit_of_work():
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "user.plugin_settings")).one()
        assert entry.changes == {"settings_sample.extension": [None, "204"], "settings_sample.mailbox_password": "***"}
    assert client.get(f"/admin/users/{seller.id}/plugins").status_code == 403
    assert post_form(client, "/profile/plugins/no_such_plugin", {}).status_code == 404


def test_an_administrator_sets_a_users_plugin_settings(sample_app, admin_of):
    seller = create_user(sample_app, "seller@example.com", grants={("contact", "view"): "own"})
    page = admin_of.get(f"/admin/users/{seller.id}").get_data(as_text=True)
    assert f"/admin/users/{seller.id}/plugins" in page
    section = admin_of.get(f"/admin/users/{seller.id}/plugins", headers={"HX-Request": "true"})
    assert section.status_code == 200 and "Sample gateway" in section.get_data(as_text=True)
    saved = post_form(admin_of, f"/admin/users/{seller.id}/plugins/settings_sample",
                      {"settings_sample-extension": "305", "settings_sample-mailbox_password": ""},
                      headers={"HX-Request": "true"})
    assert saved.status_code == 200 and "are saved" in saved.get_data(as_text=True)
    assert _user_rows(sample_app, seller.id) == {"extension": ("305", False)}
    with sample_app.test_request_context(), unit_of_work():
        assert user_settings("settings_sample", db.session.get(User, seller.id)).extension == "305"


# --- keys ---------------------------------------------------------------------------------------------------------


def test_key_rotation(build_sample):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    first = build_sample(MAYAK_SETTINGS_KEYS=old)
    create_user(first, "root@example.com", is_admin=True)
    client = first.test_client()
    sign_in(client, "root@example.com")
    post_form(client, PAGE, {"endpoint": "https://db.example.com", "api_key": SECRET, "retries": "5"})
    token = _raw(first)["api_key"][0]
    both = build_sample(MAYAK_SETTINGS_KEYS=f"{new},{old}")
    with both.test_request_context(), unit_of_work():
        assert plugin_settings("settings_sample").api_key == SECRET  # the old key still decrypts
    result = both.test_cli_runner().invoke(args=["settings", "rotate-key"])
    assert result.exit_code == 0 and "1 secret setting(s) re-encrypted" in result.output
    rotated = _raw(both)["api_key"][0]
    assert rotated != token and SECRET not in rotated
    only_new = build_sample(MAYAK_SETTINGS_KEYS=new)
    with only_new.test_request_context(), unit_of_work():
        assert plugin_settings("settings_sample").api_key == SECRET
    only_old = build_sample(MAYAK_SETTINGS_KEYS=old)
    with only_old.test_request_context(), unit_of_work():  # unreadable: logged, and plugins.toml's value (none) applies
        assert plugin_settings("settings_sample").api_key is None
    refused = only_old.test_cli_runner().invoke(args=["settings", "rotate-key"])
    assert refused.exit_code != 0 and "nothing was changed" in refused.output
    assert _raw(only_old)["api_key"][0] == rotated


def test_settings_keys_from_the_environment_or_the_instance_folder(tmp_path):
    from core.config import load_settings
    from core.errors import StartupError

    made = load_settings({"MAYAK_INSTANCE_PATH": str(tmp_path / "a")})
    key_file = tmp_path / "a" / "settings_key"
    assert made.settings_keys == (key_file.read_text().strip(),) and oct(key_file.stat().st_mode)[-3:] == "600"
    assert load_settings({"MAYAK_INSTANCE_PATH": str(tmp_path / "a")}).settings_keys == made.settings_keys
    one, two = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    given = load_settings({"MAYAK_INSTANCE_PATH": str(tmp_path / "b"), "MAYAK_SETTINGS_KEYS": f" {one}, {two} "})
    assert given.settings_keys == (one, two) and not (tmp_path / "b" / "settings_key").exists()
    with pytest.raises(StartupError, match="MAYAK_SETTINGS_KEYS: key 2 is not a Fernet key"):
        load_settings({"MAYAK_INSTANCE_PATH": str(tmp_path / "c"), "MAYAK_SETTINGS_KEYS": f"{one},not-a-key"})


# --- the bundled plugins' forms -----------------------------------------------------------------------------------


def test_webhooks_settings_in_the_admin_page(app, admin_client):
    page = admin_client.get("/admin/plugins/webhooks").get_data(as_text=True)
    assert 'name="url"' in page and 'name="secret"' in page and 'value="deal_won"' in page
    refused = post_form(admin_client, "/admin/plugins/webhooks", {"url": "https://93.184.215.14/hook", "secret": ""})
    assert refused.status_code == 422 and 'id="secret-err"' in refused.get_data(as_text=True)
    saved = post_form(admin_client, "/admin/plugins/webhooks",
                      {"url": "https://93.184.215.14/hook", "secret": "whsec-0123456789abcdef",
                       "events": ["deal_won", "task_overdue"], "skip_origins": ["demo", "import"]})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    with app.test_request_context(), unit_of_work():
        conf = plugin_settings("webhooks")
        assert (conf.url, conf.secret) == ("https://93.184.215.14/hook", "whsec-0123456789abcdef")
        assert conf.events == ["deal_won", "task_overdue"] and conf.skip_origins == ["demo", "import"]
    page = admin_client.get("/admin/plugins/webhooks").get_data(as_text=True)
    assert "whsec-0123456789abcdef" not in page and "sending to https://93.184.215.14/hook" in page


def test_mail_notify_settings_and_a_users_choice(app, admin_client):
    saved = post_form(admin_client, "/admin/plugins/mail_notify",
                      {"host": "smtp.example.com", "port": "2525", "security": "none", "username": "crm",
                       "password": "smtp-pass-123", "sender": "", "base_url": ""})
    assert saved.status_code == 422 and 'id="sender-err"' in saved.get_data(as_text=True)
    saved = post_form(admin_client, "/admin/plugins/mail_notify",
                      {"host": "smtp.example.com", "port": "2525", "security": "none", "username": "crm",
                       "password": "smtp-pass-123", "sender": "crm@example.com", "base_url": ""})
    assert saved.status_code == 302
    seller = create_user(app, "seller@example.com")
    client = app.test_client()
    sign_in(client, seller.email)
    assert "Email reminders" in client.get("/profile/plugins").get_data(as_text=True)
    post_form(client, "/profile/plugins/mail_notify", {"mail_notify-off": "y", "mail_notify-address": ""})
    with app.test_request_context(), unit_of_work():
        conf = plugin_settings("mail_notify")
        assert (conf.host, conf.port, conf.password) == ("smtp.example.com", 2525, "smtp-pass-123")
        assert user_settings("mail_notify", db.session.get(User, seller.id)).off is True
        from core.plugins.facades import deliver_notification

        # the user turned reminders by email off: nobody delivers them (no SMTP connection is tried)
        assert deliver_notification("email", db.session.get(User, seller.id), "Reminder", {}, None) is False


def test_settings_are_read_once_per_context_and_a_long_context_sees_a_save(sample_app, admin_of):
    from flask import g
    from sqlalchemy import event

    from core.plugins import settings as settings_module

    with sample_app.app_context(), unit_of_work():
        statements: list[str] = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            for _ in range(5):
                assert plugin_settings("settings_sample").endpoint == "https://toml.example.com"
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        # one read of the values (a fresh app also asks once whether the table exists yet)
        assert len([s for s in statements if "plugin_setting" in s and s.lstrip().startswith("SELECT")]) == 1
        # an administrator saves meanwhile (another request in its own context)
        with sample_app.app_context(), unit_of_work():
            post_form(admin_of, PAGE, {"endpoint": "https://db.example.com", "api_key": SECRET, "retries": "5"})
        assert plugin_settings("settings_sample").endpoint == "https://toml.example.com"  # this context's copy
        held = g.get(settings_module._CACHE)
        g._mayak_plugin_settings = (held[0] - settings_module.CACHE_SECONDS - 1, held[1])  # time passes
        db.session.rollback()  # a new transaction, as the next unit of work in a long-lived context would be
        assert plugin_settings("settings_sample").endpoint == "https://db.example.com"


def test_check_connection_asks_each_provider_with_the_saved_settings(app, make_app):
    from tests.plugins import settings_provider

    with_providers = make_app(extra_plugins=[("settings_provider", settings_provider)])
    create_user(with_providers, "root@example.com", is_admin=True)
    client = with_providers.test_client()
    sign_in(client, "root@example.com")
    page = "/admin/plugins/settings_provider"
    first = post_form(client, page + "/check", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Test gateway" in first and "no token" in first
    assert post_form(client, page, {"login": "acme", "token": "tok-123456"}).status_code == 302
    html = post_form(client, page + "/check", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "logged in as acme, balance 12.50" in html and "tok-123456" not in html
    # a ProviderError reads in words, with the provider's own message beside it
    assert "The gateway refused the login." in html and "401 bad token" in html


def test_two_saves_of_a_new_key_at_once_both_succeed_and_the_last_wins(sample_app, admin_of):
    """The first save holds its transaction open while the second inserts the same new key: the second waits on the
    unique constraint and then updates the same row, instead of failing its whole save with a 500."""
    import threading
    import time

    from core.services.platform import plugin_settings as saving
    from core.services.platform.context import Actor

    with sample_app.app_context():
        dialect = db.engine.dialect.name
    if dialect == "sqlite":
        pytest.skip("SQLite has one writer at a time: the second save waits for the first before it reads")
    first_flushed, errors = threading.Event(), []

    def save(endpoint: str, hold: bool) -> None:
        try:
            with sample_app.app_context(), unit_of_work():
                root = db.session.scalars(select(User).where(User.email == "root@example.com")).one()
                saving.save_plugin(Actor(root), "settings_sample", {"endpoint": endpoint}, {})
                if hold:
                    first_flushed.set()
                    time.sleep(0.5)
                db.session.commit()
        except Exception as exc:
            errors.append(exc)

    first = threading.Thread(target=save, args=("https://one.example.com", True))
    first.start()
    first_flushed.wait(10)
    save("https://two.example.com", False)
    first.join()
    assert errors == []
    assert _raw(sample_app)["endpoint"] == ("https://two.example.com", False)
