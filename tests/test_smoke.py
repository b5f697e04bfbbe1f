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
                "/admin/roles/new"):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert b"Traceback" not in response.data


def test_logout(admin_client):
    response = post_form(admin_client, "/logout")
    assert response.status_code == 302
    assert admin_client.get("/").status_code == 302
