"""HTTP hardening: security headers with a strict CSP, a same-origin check on every unsafe request, and a last
guard on every response's status line and headers (no request value may split a response or redirect away)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, render_template, request
from flask_babel import lazy_gettext as _l

from core.services.platform.params import BadParameter
from core.web import body_limit

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": 80, "https": 443}
# headers whose value is an address the browser goes to: each must stay on this site
REDIRECT_HEADERS = ("Location", "HX-Redirect", "HX-Location", "HX-Push-Url", "HX-Replace-Url", "Refresh",
                    "Content-Location")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # in a header value, only the tab of this range is allowed
_VALUE_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # a header name (RFC 9110 token)
REDIRECT_ORIGINS_KEY = "mayak.redirect_origins"  # origins the installation configured (a storage bucket)
_STATUS = re.compile(r"[1-5][0-9]{2}( [ -~]*)?")


def _origin(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` with the scheme's default port filled in; ``None`` when it is not a web origin."""
    scheme = scheme.lower()
    if scheme not in DEFAULT_PORTS:
        return None
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return scheme, parts.hostname.lower().rstrip("."), port


def _same_origin(url: str) -> bool:
    """True when ``url`` (an ``Origin`` or ``Referer``) has this request's scheme, host and port."""
    if _CONTROL.search(url):
        return False
    parts = urlsplit(url)
    theirs = _origin(parts.scheme, parts.netloc)
    return theirs is not None and theirs == _origin(request.scheme, request.host)


def local_path(target: str | None) -> str | None:
    """``target`` when it is an address on this site (a path, or a URL of this very origin), else ``None``.

    Refuses what browsers would read as another site: ``//evil``, ``/\\evil`` (a backslash counts as a slash),
    control characters (browsers drop tabs and newlines, so ``/\\t/evil`` is ``//evil``), other schemes."""
    if not target or _CONTROL.search(target) or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return target if _same_origin(target) and not target.startswith("//") else None
    if not target.startswith("/") or target.startswith("//"):
        return None
    return target


def http_status(status: Any) -> int:
    """``status`` when it is an HTTP status code (an ``int`` from 100 to 599). Anything else is a programming
    error: a page's context variable named ``status`` filled from a query parameter once split responses."""
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise TypeError(f"the HTTP status must be an int from 100 to 599, not {status!r}; pass a context "
                        "variable of that name under another name")
    return status


def download_name(name: str) -> str:
    """A file name fit for ``Content-Disposition``: control characters (a CR/LF typed into an upload's name)
    become spaces, so a stored name can never split the response or make the file undownloadable."""
    cleaned = " ".join(_CONTROL.sub(" ", name).split())
    return cleaned or "file"


def check_origin() -> None:
    """Reject cross-site writes even when a token leaked: a foreign ``Origin`` (or ``Referer``) is refused."""
    if request.method not in UNSAFE_METHODS or request.blueprint == "api":
        return  # the API authenticates with bearer tokens, which a cross-site request cannot carry
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "_mayak_cross_site", False):
        return  # posted from other sites on purpose; the view checks its own key, signature or origins
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        if not _same_origin(origin):
            abort(403)
        return
    if origin == "null":
        abort(403)
    referer = request.headers.get("Referer")
    if referer and not _same_origin(referer):
        abort(403)


def refuse_nul() -> None:
    """No query-string or form value may carry a NUL: no text a person types has one, PostgreSQL refuses it in
    strings (a 500 wherever a view passed the value on) and SQLite would store it. One check for every route,
    page, partial and API alike: a 400 that names the parameter (:class:`params.BadParameter`)."""
    sources = [request.args]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sources.append(request.form)
    for source in sources:
        for name, value in source.items(multi=True):
            if "\x00" in name or "\x00" in value:
                label = name.replace("\x00", "")
                raise BadParameter(label, _l("“%(name)s” must not contain control characters.", name=label))


def security_headers(response: Response) -> Response:
    headers = response.headers
    if "Content-Security-Policy" not in headers:  # a view with its own policy (embeddable lead forms) sets framing
        headers["Content-Security-Policy"] = CSP
        headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if response.mimetype == "text/html":
        headers.setdefault("Cache-Control", "no-store")
    return response


def _trusted_elsewhere(url: str) -> bool:
    """A redirect to an origin the installation itself configured (the bucket of presigned downloads), never one
    a request could name."""
    origins = current_app.extensions.get(REDIRECT_ORIGINS_KEY, frozenset())
    if not origins or _CONTROL.search(url):
        return False
    parts = urlsplit(url)
    theirs = _origin(parts.scheme, parts.netloc)
    return theirs is not None and any(theirs == _origin(*urlsplit(o)[:2]) for o in origins)


def header_problem(response: Response) -> str | None:
    """What is wrong with the status line or a header of ``response`` (``None`` when nothing): control
    characters, a name that is not a token, a value that is not Latin-1, a redirect to another site."""
    if not _STATUS.fullmatch(response.status):
        return "status line"
    for name, value in response.headers.items():
        if not _TOKEN.fullmatch(name):
            return f"header name {name!r}"
        if _VALUE_CONTROL.search(value):
            return f"header {name}"
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            return f"header {name} (not Latin-1)"
        if name in REDIRECT_HEADERS and name != "Refresh" and value not in ("true", "false") \
                and not value.startswith("{") and local_path(value) is None and not _trusted_elsewhere(value):
            return f"header {name} (another site)"
    return None


def guard_headers(response: Response) -> Response:
    """The last line of defence against response splitting and open redirects: whatever a view or plugin did,
    a response whose status line or headers carry control characters, or that sends the browser to another site,
    is replaced by a plain 400 (the value can only have come from the request). The views themselves validate
    what they put there; this catches the one that forgot."""
    problem = header_problem(response)
    if problem is None:
        return response
    current_app.logger.warning("refused a response to %s %s: unsafe %s", request.method, request.path, problem)
    safe = Response(render_template("errors/error.html", code=400, error=None), status=400, mimetype="text/html")
    return security_headers(safe)


def init_security(app: Flask) -> None:
    app.before_request(body_limit.apply)  # first: a view's smaller body limit holds before anything reads it
    app.before_request(check_origin)
    app.before_request(refuse_nul)
    # after_request functions run last-registered first: the guard is registered first so it sees the final
    # headers of every other function (security headers, htmx, plugins)
    app.after_request(guard_headers)
    app.after_request(security_headers)
