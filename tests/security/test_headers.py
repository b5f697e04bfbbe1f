"""QUALITY 26 (issue 10, item 1): no request value reaches a status line, header name or header value, and every
redirect stays on the site.

The walk: every route of the URL map, as an anonymous visitor and as a signed-in administrator, with a CR/LF
payload (and one of other control characters) in every query and form parameter the code knows of
(:func:`tests.security.routes.parameter_names`) and in every path segment; the API gets them as its JSON body
(a form body would only ever be a 415 there). All parameters go in one request per route; a route that refuses
(4xx) is walked again without the parameters its answer names (the error page's “name”, a form's field errors,
the API's ``fields``), and a refusal that names none has the group split in halves, so a refusal of one parameter
never hides what another one does. Not split: a group refused with the very status the route answers with no
parameter at all (a missing file's 404), which no parameter causes and every half would only repeat.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

import pytest
from werkzeug.test import TestResponse

from core.db import db, unit_of_work
from core.models import User
from core.services.platform.context import Actor
from core.services.users import tokens
from core.testing.fixtures import csrf_token, sign_in
from tests.plugins import careless as careless_plugin
from tests.security.routes import Route, all_routes, parameter_names, routes_with_argument, seed_targets

# CR/LF splitting a response, then the other C0/C1 controls and Unicode line breaks (NUL is refused for every
# request at once, tested below)
PAYLOADS = ("x\r\nX-Evil: 1\r\nSet-Cookie: evil=1\r\n\r\n<b>evil</b>\x0b\x0c\x1b\x7f\u0085\u2028\rX-Evil: 2\nw",)
STATUS_LINE = re.compile(r"[1-5][0-9]{2} [A-Z0-9 '\-]+")


def assert_clean(response: TestResponse, what: str) -> None:
    """The response's status line and headers carry nothing of the payload; redirects stay on the site."""
    what = what[:300]
    assert response.status_code < 500, f"{what}: {response.status}"
    assert STATUS_LINE.fullmatch(response.status), f"{what}: status line {response.status!r}"
    for name, value in response.headers.items():
        assert "evil" not in name.lower(), f"{what}: header {name!r}"
        assert not re.search(r"[\x00-\x08\x0a-\x1f\x7f]", value), f"{what}: {name}: {value[:300]!r}"
        assert not (name == "Set-Cookie" and value.startswith("evil")), f"{what}: {value[:300]!r}"
        if name in ("Location", "HX-Redirect", "HX-Location", "Content-Location"):
            parts = urlsplit(value)
            assert parts.netloc in ("", "localhost") and not value.startswith(("//", "/\\")) \
                and "\\" not in value, f"{what}: {name} leaves the site: {value!r}"


class Walker:
    def __init__(self, client, *, headers: dict[str, str] | None = None, token: str | None = None) -> None:
        self.client = client
        self.headers = headers or {}
        self.token = token
        self.requests = 0
        self.bare: dict[tuple[str, str], int] = {}

    def send(self, route: Route, url: str, params: dict[str, str], *, form: bool = False) -> TestResponse:
        self.requests += 1
        if route.method == "GET":
            response = self.client.get(url, query_string=params, headers=self.headers)
        elif route.endpoint.startswith("api.") and not form:  # the API reads a JSON body (a form: only a 415)
            response = self.client.open(url, method=route.method, json=params, headers=self.headers)
        else:
            form = dict(params)
            if self.token:
                form["csrf_token"] = self.token
            response = self.client.open(url, method=route.method, data=form, headers=self.headers)
        response.get_data()  # a streamed body (exports) runs to its end and closes
        return response

    def walk(self, route: Route, names: list[str], payload: str, *, url: str | None = None) -> None:
        """Send ``payload`` in all ``names`` at once; where the route refuses the group, walk on without the
        parameters it named, or split the group in halves when it named none (unless the route refuses as much
        without any parameter: then no parameter is what it refuses, and every half would only be refused again)."""
        target = url or route.url
        response = self.send(route, target, dict.fromkeys(names, payload))
        assert_clean(response, f"{route.method} {target} with {names[:3]}{'…' if len(names) > 3 else ''}")
        if 400 <= response.status_code < 500 and len(names) > 1:
            refused = _refused_parameters(response) & set(names)
            if refused:  # the answer said which parameters it refused: walk on without them
                rest = [n for n in names if n not in refused]
                if rest:
                    self.walk(route, rest, payload, url=url)
                return
            if self.bare_status(route, target) == response.status_code:
                return
            half = len(names) // 2
            self.walk(route, names[:half], payload, url=url)
            self.walk(route, names[half:], payload, url=url)

    def bare_status(self, route: Route, url: str) -> int:
        """The status the route answers with no parameter at all (asked once per route)."""
        key = (route.method, url)
        if key not in self.bare:
            response = self.send(route, url, {})
            assert_clean(response, f"{route.method} {url}")
            self.bare[key] = response.status_code
        return self.bare[key]


_NAMED = re.compile(r'class="error-detail">[^<]*?“([^”]+)”|\bid="([A-Za-z_][\w.]*)-err"')


def _refused_parameters(response: TestResponse) -> set[str]:
    """The parameters a 4xx answer names: the error page's “name”, a form's field errors, the API's ``fields``."""
    if response.is_json:
        fields = ((response.get_json(silent=True) or {}).get("error") or {}).get("fields") or {}
        return set(fields) if isinstance(fields, dict) else set()
    return {a or b for a, b in _NAMED.findall(response.get_data(as_text=True))}


@pytest.fixture
def guard_log(caplog):
    caplog.set_level(logging.WARNING)
    yield caplog
    assert not [r for r in caplog.records if "refused a response" in r.getMessage()], \
        "the last-line guard had to replace a response: a view lets a request value into a header"


def test_every_parameter_of_every_route_as_admin(app, admin, guard_log):
    targets = seed_targets(app, admin.id)
    client = app.test_client()
    sign_in(client, admin.email)
    with app.app_context(), unit_of_work():
        api_token = tokens.create(Actor(None, via="test"), db.session.get(User, admin.id))
    names = parameter_names()
    web = Walker(client, token=csrf_token(client))
    api = Walker(client, headers={"Authorization": f"Bearer {api_token}"})
    for payload in PAYLOADS:
        for route in all_routes(app, targets):
            if route.endpoint == "auth.logout":
                continue  # would end the walk's own session
            walker = api if route.endpoint.startswith("api.") else web
            walker.walk(route, names, payload)
        for route in routes_with_argument(app, targets, payload):
            if route.endpoint == "auth.logout":
                continue
            walker = api if route.endpoint.startswith("api.") else web
            assert_clean(walker.send(route, route.url, {}), f"{route.method} {route.url}")
    assert web.requests > 300
    for route in all_routes(app, targets):  # a NUL anywhere: 400 naming the parameter, before any view runs
        if route.endpoint != "auth.logout":
            walker = api if route.endpoint.startswith("api.") else web
            response = walker.send(route, route.url, dict.fromkeys(names, "a\x00b"), form=True)
            assert_clean(response, f"{route.method} {route.url} with NUL")
            assert response.status_code in (400, 422), f"{route.method} {route.url} with NUL: {response.status}"


def test_every_parameter_of_every_route_anonymously(app, admin, guard_log):
    targets = seed_targets(app, admin.id)
    client = app.test_client()
    walker = Walker(client, token=csrf_token(client))
    names = parameter_names()
    for payload in PAYLOADS:
        for route in all_routes(app, targets):
            walker.walk(route, names, payload)
        for route in routes_with_argument(app, targets, payload):
            assert_clean(walker.send(route, route.url, {}), f"{route.method} {route.url}")


def test_the_jobs_page_status_filter_never_becomes_the_http_status(admin_client):
    attack = "/admin/jobs/?status=200%20OK%0D%0AX-Evil:%201%0D%0A%0D%0A<b>hi</b>"
    response = admin_client.get(attack)
    assert response.status_code == 400
    assert "X-Evil" not in response.headers and "<b>hi</b>" not in response.get_data(as_text=True)
    for status in ("failed", "queued", "running", "finished"):
        page = admin_client.get(f"/admin/jobs/?status={status}")
        assert page.status == "200 OK"
        assert f'href="/admin/jobs/?status={status}">' in page.get_data(as_text=True)
    assert admin_client.get("/admin/jobs/?status=201").status_code == 400


@pytest.mark.parametrize("target", ["//evil.example/x", "/\\evil.example", "/\t/evil.example", "https://evil.example/",
                                    "javascript:alert(1)", "/%0d%0aX-Evil:1", "/ok\r\nX-Evil: 1", " //evil.example",
                                    "http://localhost:81/", "https://localhost/"])
def test_sign_in_next_never_leaves_the_site(app, admin, target):
    client = app.test_client()
    response = client.post("/login?next=" + target.replace("%", "%25").replace("\t", "%09").replace("\r", "%0D")
                           .replace("\n", "%0A").replace(" ", "%20"),
                           data={"email": admin.email, "password": "correct horse battery",
                                 "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location in ("/", "/%0d%0aX-Evil:1"), location


# --- the same-origin check: scheme, host and port ------------------------------------------------------------------

@pytest.mark.parametrize("origin, allowed", [
    ("http://localhost", True),
    ("http://localhost:80", True),
    ("https://localhost", False),  # same host, other scheme
    ("http://localhost:8080", False),  # same host, other port
    ("http://LOCALHOST", True),
    ("http://evil.example", False),
    ("http://localhost.evil.example", False),
    ("http://user@localhost", True),
    ("ftp://localhost", False),
    ("http://localhost:99999", False),
    ("null", False),
])
def test_same_origin_check_compares_scheme_host_and_port(app, admin, origin, allowed):
    client = app.test_client()
    sign_in(client, admin.email)
    token = csrf_token(client)
    for header in ("Origin", "Referer"):
        value = origin if header == "Origin" or origin == "null" else origin + "/contacts/"
        if header == "Referer" and origin == "null":
            continue
        response = client.post("/notifications/read", data={"csrf_token": token}, headers={header: value})
        assert (response.status_code != 403) is allowed, f"{header}: {value} answered {response.status_code}"


# --- the last line of defence --------------------------------------------------------------------------------------

def test_guard_replaces_any_response_a_request_value_split_or_sent_away(make_app, caplog):
    careless = make_app(extra_plugins=[("careless", careless_plugin)])
    client = careless.test_client()
    caplog.set_level(logging.WARNING)
    for url in ("/careless/status?code=200%20OK%0D%0AX-Evil:%201", "/careless/header?v=a%00b",
                "/careless/header?v=a%E2%80%A8b", "/careless/away?to=https://evil.example/",
                "/careless/away?to=//evil.example", "/careless/away?to=/%5Cevil.example"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert_clean(response, url)
    assert "refused a response" in caplog.text
    assert client.get("/careless/status?code=200%20OK").status_code == 200
    assert client.get("/careless/away?to=/contacts/").headers["Location"] == "/contacts/"
    # render() and the htmx redirect refuse at the source: a programming error, logged, never sent
    assert client.get("/careless/render?status=200%20OK%0D%0AX-Evil:%201").status_code == 500
    assert client.get("/careless/htmx-away?to=//evil.example").status_code == 500
