"""The public side of lead forms: the embeddable page (``/f/<key>``, shown in an iframe on the client's site) and
the submission endpoint for browsers and servers (form-encoded or JSON), with CORS only for the form's sites."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request
from flask_babel import gettext as _

from core.models import LeadForm
from core.services import lead_forms
from core.services.errors import InvalidInput
from core.web import cross_site, public
from core.web.context import client_ip

bp = Blueprint("lead_capture", __name__, url_prefix="/f")


def _json_error(status: int, message: str, fields: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"error": message}
    if fields:
        body["fields"] = fields
    response = jsonify(body)
    response.status_code = status
    return response


def _allowed_origin(form: LeadForm) -> str | None:
    origin = request.headers.get("Origin")
    return origin if origin and origin in form.allowed_origins else None


def _with_cors(response: Response, form: LeadForm) -> Response:
    origin = _allowed_origin(form)
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


def _framing(response: Response, form: LeadForm) -> Response:
    """Only the form's own sites may show the page in a frame."""
    ancestors = " ".join(form.allowed_origins) or "'none'"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
        f"base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}")
    return response


def _page(form: LeadForm, *, errors: dict[str, str] | None = None, done: bool = False, status: int = 200) -> Response:
    html = render_template("lead_capture/form.html", lead_form=form, errors=errors or {}, done=done,
                           values=request.form if request.method == "POST" else {},
                           started=lead_forms.start_token(form), honeypot=lead_forms.HONEYPOT)
    return _framing(Response(html, status=status, mimetype="text/html"), form)


@bp.get("/<key>", provide_automatic_options=False)
@public
def page(key: str):  # type: ignore[no-untyped-def]
    form = lead_forms.by_key(key)
    if form is None:
        return Response(render_template("errors/error.html", code=404, error=None), status=404)
    return _page(form)


@bp.route("/<key>", methods=["OPTIONS"], provide_automatic_options=False)
@public
def preflight(key: str):  # type: ignore[no-untyped-def]
    form = lead_forms.by_key(key)
    if form is None or _allowed_origin(form) is None:
        return Response(status=403)
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type, Idempotency-Key"
    response.headers["Access-Control-Max-Age"] = "600"
    return _with_cors(response, form)


@bp.post("/<key>", provide_automatic_options=False)
@cross_site
def submit(key: str):  # type: ignore[no-untyped-def]
    """Post a lead. JSON answers: 201 ``{"id": ..., "status": "new"}`` (200 for a repeated ``Idempotency-Key``),
    422 ``{"error": ..., "fields": {name: message}}``, 404 for a wrong key, 403 for a site not allowed."""
    wants_json = request.is_json or request.accept_mimetypes.best == "application/json"
    form = lead_forms.by_key(key)
    if form is None:
        return _json_error(404, _("No active form has this key; copy the snippet from Mayak again."),
                           {"key": _("unknown form key")})
    origin = request.headers.get("Origin")
    if wants_json and origin and _allowed_origin(form) is None and not _same_site(origin):
        return _json_error(403, _("This site is not allowed to post to the form; add it in the form's settings."))
    data = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    if not isinstance(data, dict):
        return _with_cors(_json_error(400, _("Send a JSON object or form fields.")), form)
    key_header = request.headers.get("Idempotency-Key") or str(data.get("idempotency_key") or "") or None
    try:
        outcome = lead_forms.submit(form, data, ip=client_ip(), idempotency_key=key_header,
                                    browser=not request.is_json)
    except InvalidInput as exc:
        fields = {k: str(v) for k, v in exc.errors.items()}
        if wants_json:
            return _with_cors(_json_error(422, next(iter(fields.values())), fields), form)
        return _page(form, errors=fields, status=422)
    if wants_json:
        if outcome.rate_limited:
            return _with_cors(_json_error(429, _("Too many requests from your address; try again later.")), form)
        response = jsonify({"id": outcome.item.id, "status": "received"})
        response.status_code = 201 if outcome.created else 200
        return _with_cors(response, form)
    return _page(form, done=True, status=429 if outcome.rate_limited else 200)


def _same_site(origin: str) -> bool:
    return origin.rstrip("/") == request.host_url.rstrip("/")
