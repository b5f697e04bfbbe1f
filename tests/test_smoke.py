"""The shell works end to end: sign in, see the home page and the admin pages, sign out."""

from core.testing.fixtures import post_form


def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert b'name="email"' in response.data and b'name="password"' in response.data


def test_anonymous_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]


def test_admin_sees_home_and_admin_pages(admin_client):
    for url in ("/", "/notifications", "/profile", "/admin/users", "/admin/teams", "/admin/roles",
                "/admin/plugins", "/admin/audit", "/admin/jobs/", "/admin/users/new", "/admin/teams/new",
                "/admin/roles/new", "/contacts/", "/companies/", "/admin/custom-fields"):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert b"Traceback" not in response.data


def test_logout(admin_client):
    response = post_form(admin_client, "/logout")
    assert response.status_code == 302
    assert admin_client.get("/").status_code == 302


def test_expired_session_on_an_htmx_request_redirects_the_whole_page(client):
    response = client.get("/notifications/badge", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].startswith("/login?next=")


def test_sign_in_returns_to_the_page_asked_for(app, admin, client):
    first = client.get("/admin/users")
    assert first.headers["Location"] == "/login?next=/admin/users"
    response = post_form(client, "/login?next=/admin/users",
                         {"email": admin.email, "password": "correct horse battery"})
    assert response.headers["Location"] == "/admin/users"
