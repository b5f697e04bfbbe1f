"""QUALITY 1: every route, as an anonymous visitor and as a user without rights. A new route cannot escape:
it is either listed as public or self-service, or it must refuse a user without rights."""

from __future__ import annotations

from sqlalchemy import select

from core.db import db, unit_of_work
from core.models import AuditEntry, User
from core.services.platform.context import Actor
from core.services.users import tokens
from core.testing.fixtures import csrf_token, post_form
from tests.security.routes import PUBLIC, SELF_SERVICE, all_routes, seed_targets


def _call(client, route):
    if route.method == "GET":
        return client.get(route.url)
    return client.open(route.url, method=route.method, data={"csrf_token": csrf_token(client)})


def test_anonymous_visitors_are_sent_to_sign_in(app, admin):
    client = app.test_client()
    targets = seed_targets(app, admin.id)
    for route in all_routes(app, targets):
        if route.endpoint in PUBLIC:
            continue
        response = _call(client, route)
        if route.endpoint.startswith("api."):
            assert response.status_code == 401, f"{route} answered {response.status_code}"
            continue
        assert response.status_code == 302, f"{route} answered {response.status_code}"
        assert "/login" in response.headers["Location"]


def test_user_without_rights_is_refused_everywhere_else(app, admin, make_user, login, client):
    outsider = make_user("outsider@example.com")
    login(outsider)
    targets = seed_targets(app, admin.id)
    with app.app_context(), unit_of_work():
        api_token = tokens.create(Actor(None, via="test"), db.session.get(User, outsider.id))
    checked = 0
    for route in all_routes(app, targets):
        if route.endpoint in PUBLIC or route.endpoint in SELF_SERVICE:
            continue
        if route.endpoint.startswith("api."):
            headers = {"Authorization": f"Bearer {api_token}"}
            response = client.open(route.url, method=route.method, headers=headers, json={"city": "x"})
            assert response.status_code in (403, 404), f"{route} answered {response.status_code} to an outsider"
            checked += 1
            continue
        response = _call(client, route)
        assert response.status_code in (403, 404), f"{route} answered {response.status_code} to an outsider"
        checked += 1
    assert checked >= 40
    # another user's job progress is not shown either
    assert client.get(f"/jobs/{targets['record_id']}/progress").status_code == 404
    with app.app_context(), unit_of_work():
        denials = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "access.denied")).all()
        assert denials and all(d.actor_label == "outsider@example.com" and d.ip for d in denials)


def test_grants_open_exactly_what_they_name(app, make_user, login, client):
    viewer = make_user("viewer@example.com", grants={("user", "view"): "all"})
    login(viewer)
    assert client.get("/admin/users").status_code == 200
    assert client.get("/admin/users/new").status_code == 403
    assert client.get("/admin/roles").status_code == 403
    assert b"/admin/users/new" not in client.get("/admin/users").data


def test_mass_assignment_of_is_admin_is_ignored(app, make_user, login, client):
    editor = make_user("editor@example.com", grants={("user", "view"): "all", ("user", "edit"): "all",
                                                      ("user", "create"): "all"})
    login(editor)
    response = post_form(client, "/admin/users/new", {"email": "new@example.com", "password": "a-long-password",
                                                      "is_admin": "y"})
    assert response.status_code == 302
    response = post_form(client, f"/admin/users/{editor.id}", {"email": editor.email, "is_admin": "y"})
    assert response.status_code == 302
    with app.app_context(), unit_of_work():
        created = db.session.scalar(select(User).where(User.email == "new@example.com"))
        me = db.session.get(User, editor.id)
        assert created is not None and created.is_admin is False
        assert me is not None and me.is_admin is False
