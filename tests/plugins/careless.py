"""A test plugin whose views put request values where they do not belong, as a careless author might: the
response guard (core/web/security.py) must catch what they do (tests/security/test_headers.py)."""

from __future__ import annotations

from flask import Blueprint, make_response, request
from flask import redirect as flask_redirect

from mayak import hookimpl
from mayak.web import public, redirect, render

bp = Blueprint("careless", __name__, url_prefix="/careless")


@bp.get("/status")
@public
def status():  # type: ignore[no-untyped-def]
    response = make_response("ok")
    response.status = request.args.get("code", "200 OK")
    return response


@bp.get("/header")
@public
def header():  # type: ignore[no-untyped-def]
    response = make_response("ok")
    response.headers["X-Name"] = request.args.get("v", "")  # Werkzeug itself refuses only CR and LF
    return response


@bp.get("/away")
@public
def away():  # type: ignore[no-untyped-def]
    return flask_redirect(request.args.get("to", "/"))


@bp.get("/render")
@public
def render_status():  # type: ignore[no-untyped-def]
    return render("errors/error.html", code=400, status=request.args.get("status", "x"))


@bp.get("/htmx-away")
@public
def htmx_away():  # type: ignore[no-untyped-def]
    return redirect(request.args.get("to", "/"))


@hookimpl
def register_blueprints() -> list[Blueprint]:
    return [bp]
