"""The JSON API, ``/api/v1``: bearer-token authentication, the same permission scopes as the web pages, JSON
errors that name the field, and the OpenAPI document at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request
from flask_babel import gettext as _

from core.services.platform.access import AccessDenied
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.services.users import tokens

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PUBLIC_ENDPOINTS = {"api.openapi"}


def _refuse(actor: Actor, action: str, target_type: str | None, details: dict[str, object]) -> None:
    """Audit a refusal: nothing of the refused call is kept (rolled back first, which also hands the connection
    back before the throttle counter takes one), its audit line is (committed here, as the 4xx answer would roll
    it back)."""
    from core.db import db

    db.session.rollback()
    tokens.record_refusal(actor, action, target_type, details)
    db.session.commit()


def error(status: int, code: str, message: str, fields: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    from core.api.errors import json_error

    return json_error(status, code, message, fields)


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
            _refuse(anonymous, "api.unauthorized", "api_token", {
                "reason": check.reason, "path": request.path[:200],
                "prefix": presented[:10] if presented.startswith(tokens.PREFIX) else ""})
        return error(401, "unauthorized", _("Send a valid API token: Authorization: Bearer <token>."))
    g.api_actor = Actor(user=check.user, ip=request.remote_addr, via="api", detail=f"token:{check.token.id}")
    entity = request.path.removeprefix(bp.url_prefix or "").strip("/").split("/")[0]
    write = request.method not in ("GET", "HEAD", "OPTIONS")
    if request.url_rule is not None and not tokens.allows(check.token.scopes, entity, write):
        _refuse(g.api_actor, "api.scope_denied", entity[:60],
                              {"token_id": check.token.id, "needs": f"{entity}:{'write' if write else 'read'}",
                               "path": request.path[:200]})
        return error(403, "insufficient_scope",
                     _("This token's scopes do not allow this; it needs %(scope)s.",
                       scope=f"{entity}:{'write' if write else 'read'}"))
    return None


def json_body(schema: str, *, required: bool = True) -> dict[str, Any]:
    """The request's JSON object checked against the documented ``schema`` (:mod:`core.api.validation`): only
    its writable fields, each of its documented shape; anything else answers 4xx naming the field."""
    from core.api import validation

    return validation.body(schema, required=required)


def actor() -> Actor:
    return g.api_actor  # type: ignore[no-any-return]


@bp.errorhandler(AccessDenied)
def denied(exc: AccessDenied):  # type: ignore[no-untyped-def]
    _refuse(g.get("api_actor") or Actor(user=None, ip=request.remote_addr, via="api"),
                          "access.denied", exc.entity, {"action": exc.action, "path": request.path[:200]})
    return error(403, "forbidden", _("Your role does not allow this."))


@bp.errorhandler(InvalidInput)
def invalid(exc: InvalidInput):  # type: ignore[no-untyped-def]
    fields = {k: str(v) for k, v in exc.errors.items()}
    return error(422, "invalid", _("Please correct the marked fields."), fields)


@bp.errorhandler(LookupError)
def not_found(exc: LookupError):  # type: ignore[no-untyped-def]
    return error(404, "not_found", _("Page not found"))
