"""QUALITY 2: every state-changing route rejects a missing token and a foreign Origin; no GET writes."""

from __future__ import annotations

from core.testing.fixtures import csrf_token
from tests.security.routes import CROSS_SITE, all_routes, seed_targets


def _row_counts(app) -> dict[str, int]:
    """Rows in every table the app's database has (a plugin loaded by another test of the process adds its models
    to the shared metadata without its table existing here)."""
    from core.testing.security import row_counts

    return row_counts(app)


def test_only_the_listed_views_accept_cross_site_posts(app):
    marked = {endpoint for endpoint, view in app.view_functions.items() if getattr(view, "_mayak_cross_site", False)}
    assert marked == CROSS_SITE


def test_posts_without_a_token_are_refused(app, admin, admin_client):
    targets = seed_targets(app, admin.id)
    posts = [r for r in all_routes(app, targets) if r.method != "GET" and r.endpoint not in CROSS_SITE]
    assert len(posts) >= 10
    before = _row_counts(app)
    for route in posts:
        response = admin_client.open(route.url, method=route.method, data={"email": "x@example.com"})
        # the API ignores the session cookie altogether (bearer tokens only), so it answers 401
        expected = 401 if route.endpoint.startswith("api.") else 400
        assert response.status_code == expected, f"{route} accepted a post without a CSRF token"
    assert _row_counts(app) == before


def test_posts_from_a_foreign_origin_are_refused(app, admin, admin_client):
    targets = seed_targets(app, admin.id)
    token = csrf_token(admin_client)
    for route in [r for r in all_routes(app, targets) if r.method != "GET" and r.endpoint not in CROSS_SITE]:
        for header in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                       {"Referer": "https://evil.example/page"}):
            response = admin_client.open(route.url, method=route.method, data={"csrf_token": token},
                                         headers=header)
            expected = 401 if route.endpoint.startswith("api.") else 403
            assert response.status_code == expected, f"{route} accepted {header}"


def test_same_origin_post_passes(app, admin, admin_client):
    response = admin_client.post("/notifications/read", data={"csrf_token": csrf_token(admin_client)},
                                 headers={"Origin": "http://localhost"})
    assert response.status_code == 302


def test_no_get_request_writes(app, admin, admin_client):
    targets = seed_targets(app, admin.id)
    gets = [r for r in all_routes(app, targets) if r.method == "GET"]
    before = _row_counts(app)
    for route in gets:
        assert admin_client.get(route.url).status_code < 500, route
    assert _row_counts(app) == before
