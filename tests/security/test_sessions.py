"""QUALITY 10: sessions rotate at sign-in; sign-out, password change and disabling end existing sessions."""

from __future__ import annotations

from core import create_app
from core.testing.fixtures import TEST_PASSWORD, post_form, sign_in


def _session_cookie(client):
    cookie = client.get_cookie("mayak_session")
    return cookie.value if cookie else None


def _clone(app, client):
    """A second browser holding a copy of the first one's cookie (a stolen or second-device session)."""
    other = app.test_client()
    other.set_cookie("mayak_session", _session_cookie(client))
    return other


def test_session_rotates_at_sign_in_and_cookie_flags(app, make_user, client):
    user = make_user("rot@example.com")
    client.get("/login")
    before = _session_cookie(client)
    response = post_form(client, "/login", {"email": user.email, "password": TEST_PASSWORD})
    set_cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Secure" not in set_cookie
    assert _session_cookie(client) != before


def test_logout_ends_the_session_everywhere(app, make_user, client):
    user = make_user("out@example.com")
    sign_in(client, user.email)
    copy = _clone(app, client)
    assert copy.get("/").status_code == 200
    post_form(client, "/logout")
    assert copy.get("/").status_code == 302


def test_password_change_ends_other_sessions(app, make_user, client):
    user = make_user("pw@example.com")
    sign_in(client, user.email)
    other_device = app.test_client()
    sign_in(other_device, user.email)
    response = post_form(client, "/profile", {"pw-current_password": TEST_PASSWORD,
                                              "pw-new_password": "another long password",
                                              "pw-confirm": "another long password", "pw-submit": "1"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200, "the session that changed the password stays"
    assert other_device.get("/").status_code == 302


def test_disabling_a_user_ends_their_sessions(app, admin, admin_client, make_user):
    user = make_user("fired@example.com")
    theirs = app.test_client()
    sign_in(theirs, user.email)
    response = post_form(admin_client, f"/admin/users/{user.id}/active", {"active": "0"})
    assert response.status_code == 302
    assert theirs.get("/").status_code == 302


def test_secure_cookies_behind_tls(database_url, tmp_path, make_user):
    from core.testing.fixtures import TEST_CONFIG, app_environ

    app = create_app(TEST_CONFIG, environ=app_environ(database_url, tmp_path, MAYAK_BEHIND_TLS="1"))
    client = app.test_client()
    response = client.get("/login", base_url="https://localhost")
    assert "Secure" in response.headers["Set-Cookie"]


def test_own_password_set_in_the_user_form_keeps_this_session_only(app, admin, admin_client):
    other_device = app.test_client()
    sign_in(other_device, admin.email)
    response = post_form(admin_client, f"/admin/users/{admin.id}", {"email": admin.email, "is_admin": "y",
                                                                     "password": "another long password"})
    assert response.status_code == 302
    assert admin_client.get("/").status_code == 200
    assert other_device.get("/").status_code == 302
