"""The JSON API, ``/api/v1``: bearer-token authentication, the same permission scopes as the web pages, JSON
errors that name the field, and the OpenAPI document at ``/api/v1/openapi.json``."""

from __future__ import annotations

from flask import Blueprint, Flask, g, jsonify, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from core.services import tokens
from core.services.access import AccessDenied
from core.services.context import Actor
from core.services.errors import InvalidInput

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PUBLIC_ENDPOINTS = {"api.openapi"}


def error(status: int, code: str, message: str, fields: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    body: dict[str, object] = {"error": {"code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields  # type: ignore[index]
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="mayak"'
    return response


@bp.before_request
def authenticate():  # type: ignore[no-untyped-def]
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    presented = token.strip() if scheme.lower() == "bearer" else header.strip()  # another scheme: malformed
    check = tokens.authenticate(presented)
    if check.token is None:
        anonymous = Actor(user=None, ip=request.remote_addr, via="api")
        if check.reason != "missing":  # a client that sent nothing is not an attack
            tokens.record_refusal(anonymous, "api.unauthorized", "api_token", {
                "reason": check.reason, "path": request.path[:200],
                "prefix": presented[:10] if presented.startswith(tokens.PREFIX) else ""})
        return error(401, "unauthorized", _("Send a valid API token: Authorization: Bearer <token>."))
    g.api_actor = Actor(user=check.user, ip=request.remote_addr, via="api")
    entity = request.path.removeprefix(bp.url_prefix or "").strip("/").split("/")[0]
    write = request.method not in ("GET", "HEAD", "OPTIONS")
    if request.url_rule is not None and not tokens.allows(check.token.scopes, entity, write):
        tokens.record_refusal(g.api_actor, "api.scope_denied", entity[:60],
                              {"token_id": check.token.id, "needs": f"{entity}:{'write' if write else 'read'}",
                               "path": request.path[:200]})
        return error(403, "insufficient_scope",
                     _("This token's scopes do not allow this; it needs %(scope)s.",
                       scope=f"{entity}:{'write' if write else 'read'}"))
    return None


READ_ONLY = ("id", "created_at", "updated_at", "deleted_at")


def json_body(*read_only: str) -> dict[str, object]:
    """The request's JSON object; read-only fields (``id``, timestamps and ``read_only``) are dropped, never
    assigned."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput({"body": _("Send a JSON object.")})
    for key in (*READ_ONLY, *read_only):
        data.pop(key, None)
    return data


def actor() -> Actor:
    return g.api_actor  # type: ignore[no-any-return]


@bp.errorhandler(AccessDenied)
def denied(exc: AccessDenied):  # type: ignore[no-untyped-def]
    from core.db import db

    db.session.rollback()  # nothing of a refused call is kept; its refusal is
    tokens.record_refusal(g.get("api_actor") or Actor(user=None, ip=request.remote_addr, via="api"),
                          "access.denied", exc.entity, {"action": exc.action, "path": request.path[:200]})
    return error(403, "forbidden", _("Your role does not allow this."))


@bp.errorhandler(InvalidInput)
def invalid(exc: InvalidInput):  # type: ignore[no-untyped-def]
    fields = {k: str(v) for k, v in exc.errors.items()}
    return error(422, "invalid", _("Please correct the marked fields."), fields)


@bp.errorhandler(LookupError)
def not_found(exc: LookupError):  # type: ignore[no-untyped-def]
    return error(404, "not_found", _("Page not found"))


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
    return error(exc.code or 500, exc.name.lower().replace(" ", "_"), exc.description or exc.name)


def init_api(app: Flask) -> None:
    from core.api import clients, openapi, work  # noqa: F401 - registers the routes
    from core.extensions import csrf

    csrf.exempt(bp)  # bearer tokens, never cookies: cross-site requests cannot carry them
    app.register_blueprint(bp)
