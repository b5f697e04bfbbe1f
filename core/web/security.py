"""HTTP hardening: security headers with a strict CSP, and a same-origin check on every unsafe request."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, request

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _same_origin(url: str) -> bool:
    parts = urlsplit(url)
    return parts.netloc == request.host and parts.scheme in ("http", "https")


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


def init_security(app: Flask) -> None:
    app.before_request(check_origin)
    app.after_request(security_headers)
