"""The URL map, walked: Mayak's own security tests and a plugin's run the same checks over its routes.

A plugin declares the views other sites post to (a provider's webhook of its own) with the ``cross_site`` marker;
the walkers read the marker, so such a view is held to the rules for cross-site views (public, no CSRF token, must
refuse an unsigned post) instead of failing the CSRF checks. In a plugin's tests::

    from mayak.testing.security import assert_url_map_safe

    def test_my_routes_are_safe(app):
        assert_url_map_safe(app, blueprints=["hello"], targets={"call_id": 1})
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from flask import Flask, url_for
from sqlalchemy import func, select
from werkzeug.routing import Rule
from werkzeug.routing.converters import NumberConverter, UUIDConverter

STATIC_ENDPOINTS = ("static", "theme_static", "plugin_static")
# a value for a path argument no test named: enough to reach the access checks, which run before the view
_UUID = "00000000-0000-0000-0000-000000000001"


@dataclass(frozen=True)
class Route:
    endpoint: str
    method: str
    url: str


def marked_endpoints(app: Flask, marker: str) -> set[str]:
    return {endpoint for endpoint, view in app.view_functions.items() if getattr(view, marker, False)}


def cross_site_endpoints(app: Flask) -> set[str]:
    """Endpoints whose view is marked ``cross_site``: posted to from other sites, each with its own defence."""
    return marked_endpoints(app, "_mayak_cross_site")


def public_endpoints(app: Flask) -> set[str]:
    """Endpoints reachable without signing in (``public`` and ``cross_site`` views, static files)."""
    return marked_endpoints(app, "_mayak_public") | set(STATIC_ENDPOINTS)


def _selected(rule: Rule, blueprints: Collection[str] | None) -> bool:
    if rule.endpoint in STATIC_ENDPOINTS:
        return False
    return blueprints is None or rule.endpoint.rpartition(".")[0] in blueprints


def _placeholder(rule: Rule, arg: str) -> Any:
    converter = rule._converters.get(arg)  # werkzeug keeps them per rule; public API has no accessor
    choices = getattr(converter, "items", None)
    if choices:  # any(a, b): one of its words
        return sorted(choices)[0]
    if isinstance(converter, NumberConverter):  # int, float and Mayak's ids
        return 1
    return _UUID if isinstance(converter, UUIDConverter) else "x"


def all_routes(app: Flask, targets: Mapping[str, Any] | None = None, *, strict: bool = True,
               blueprints: Collection[str] | None = None) -> list[Route]:
    """Every route (of ``blueprints``, default all) once per method, its path arguments filled from ``targets``.

    ``strict``: an argument ``targets`` does not name is an error (Mayak's own tests seed a record for each);
    otherwise it gets a placeholder (``1`` for an ``int``), enough for the checks that run before the view."""
    targets = targets or {}
    routes = []
    for rule in app.url_map.iter_rules():
        if not _selected(rule, blueprints):
            continue
        missing = [arg for arg in rule.arguments if arg not in targets and arg not in (rule.defaults or {})]
        assert not (strict and missing), f"{rule.rule}: give a value for {missing} in targets"
        values = {arg: targets[arg] if arg in targets else _placeholder(rule, arg)
                  for arg in rule.arguments if arg not in (rule.defaults or {})}
        with app.test_request_context():
            url = url_for(rule.endpoint, **values)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append(Route(rule.endpoint, method, url))
    return routes


def routes_with_argument(app: Flask, targets: Mapping[str, Any], payload: str, *,
                         blueprints: Collection[str] | None = None) -> list[Route]:
    """Each route once per path argument, that argument replaced by ``payload`` (percent-encoded); the other
    arguments filled from ``targets``. An ``int`` argument gets the payload too (the route must not match)."""
    routes = []
    marker = 987_654_321_987
    for rule in app.url_map.iter_rules():
        if not _selected(rule, blueprints):
            continue
        for arg in sorted(rule.arguments):
            if arg in (rule.defaults or {}):
                continue
            values = {a: targets[a] if a in targets else _placeholder(rule, a) for a in rule.arguments}
            values[arg] = marker
            with app.test_request_context():
                try:
                    url = url_for(rule.endpoint, **values)
                except ValueError:  # an enumerated path part (any(...)): the valid word, replaced below
                    values[arg] = targets[arg] if arg in targets else _placeholder(rule, arg)
                    url = url_for(rule.endpoint, **values)
            url = url.replace(str(values[arg]), quote(payload, safe=""), 1)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                routes.append(Route(rule.endpoint, method, url))
    return routes


def row_counts(app: Flask) -> dict[str, int]:
    from core.db import db
    from core.models.base import Base

    with app.app_context():
        existing = set(db.inspect(db.engine).get_table_names())
        return {t.name: db.session.scalar(select(func.count()).select_from(t))
                for t in Base.metadata.sorted_tables if t.name in existing}


def assert_url_map_safe(app: Flask, *, blueprints: Collection[str] | None = None,
                        targets: Mapping[str, Any] | None = None) -> list[Route]:
    """The checks Mayak's security tests make of every route, over ``blueprints`` (default: all routes):

    - an anonymous visitor is sent to sign in (the API answers 401), unless the view is ``public``;
    - a signed-in administrator's write without the CSRF token is refused (400), and one with the token from a
      foreign ``Origin`` too (403) — except for ``cross_site`` views, which other sites post to on purpose;
    - an empty, unsigned post to a ``cross_site`` view is refused (4xx): it must bring its own defence;
    - no GET writes a row.

    Run it inside a test that uses the ``app`` fixture (it creates an administrator; tables are emptied after the
    test). Returns the routes it checked."""
    from core.testing.fixtures import create_user, csrf_token, sign_in

    routes = all_routes(app, targets, strict=False, blueprints=blueprints)
    public, cross_site = public_endpoints(app), cross_site_endpoints(app)
    anonymous = app.test_client()
    anonymous_token = csrf_token(anonymous)  # with a valid token, so that only the sign-in check can refuse
    for route in routes:
        if route.endpoint in public:
            continue
        data = None if route.method == "GET" else {"csrf_token": anonymous_token}
        response = anonymous.open(route.url, method=route.method, data=data)
        if route.endpoint.startswith("api."):
            assert response.status_code == 401, f"{route} answered {response.status_code} to an anonymous visitor"
        else:
            assert response.status_code == 302 and "/login" in response.headers.get("Location", ""), (
                f"{route} answered {response.status_code} to an anonymous visitor: require a signed-in user or "
                "mark the view public / cross_site")
    admin = create_user(app, "url-map-walker@example.com", is_admin=True)
    client = app.test_client()
    sign_in(client, admin.email)
    token = csrf_token(client)
    before = row_counts(app)
    for route in routes:
        if route.method == "GET":
            assert client.get(route.url).status_code < 500, f"{route} failed"
            continue
        if route.endpoint in cross_site:
            response = app.test_client().open(route.url, method=route.method, data=b"",
                                              headers={"Origin": "https://evil.example"})
            assert 400 <= response.status_code < 500, (
                f"{route} is cross_site and accepted an empty unsigned post ({response.status_code}): check the "
                "provider's signature before anything else")
            continue
        api = route.endpoint.startswith("api.")
        response = client.open(route.url, method=route.method, data={"email": "x@example.com"})
        assert response.status_code == (401 if api else 400), f"{route} accepted a post without a CSRF token"
        for header in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                       {"Referer": "https://evil.example/page"}):
            response = client.open(route.url, method=route.method, data={"csrf_token": token}, headers=header)
            assert response.status_code == (401 if api else 403), f"{route} accepted {header}"
    assert row_counts(app) == before, "a GET, a refused post or an unsigned cross-site post wrote rows"
    return routes
