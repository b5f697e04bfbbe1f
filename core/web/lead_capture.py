"""The public side of lead forms: the embeddable page (``/f/<key>``, shown in an iframe on the client's site) and
the submission endpoint for browsers and servers (form-encoded or JSON), with CORS only for the form's sites."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from core.models import LeadForm
from core.services.platform import json_input
from core.services.platform.errors import InvalidInput
from core.services.work import inbox, lead_forms
from core.web.body_limit import body_limit
from core.web.context import client_ip
from core.web.marks import cross_site, public

bp = Blueprint("lead_capture", __name__, url_prefix="/f")
MAX_BODY = 64 * 1024  # a lead is a few fields: anything bigger is refused before it is read


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


def _page(form: LeadForm, *, errors: dict[str, str] | None = None, done: bool = False, status: int = 200,
          notice: str = "", posted: Mapping[str, Any] | None = None) -> Response:
    """The form page; ``posted`` fills it again (never read from the request here: a refused body stays unread)."""
    posted = posted or {}
    started = lead_forms.reusable_start(form, str(posted.get(lead_forms.STARTED) or "")) if posted else \
        lead_forms.start_token(form)
    html = render_template("lead_capture/form.html", lead_form=form, errors=errors or {}, done=done,
                           values=posted, started=started, honeypot=lead_forms.HONEYPOT, notice=notice)
    return _framing(Response(html, status=status, mimetype="text/html"), form)


@bp.get("/<key>", provide_automatic_options=False)
@public
def page(key: str):  # type: ignore[no-untyped-def]
    """The embeddable page; with ``Accept: application/json``, a start token for a JSON post instead."""
    form = lead_forms.by_key(key)
    if form is None:
        return Response(render_template("errors/error.html", code=404, error=None), status=404)
    if request.accept_mimetypes.best == "application/json":
        return _with_cors(jsonify({"field": lead_forms.STARTED, "token": lead_forms.start_token(form),
                                   "min_fill_seconds": form.min_fill_seconds,
                                   "expires_in": lead_forms.START_MAX_AGE}), form)
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
@body_limit(MAX_BODY)
def submit(key: str):  # type: ignore[no-untyped-def]
    """Post a lead. JSON answers: 201 ``{"id": ..., "status": "received"}`` (200 for a repeated
    ``Idempotency-Key``, 409 when the key came with different fields), 422 ``{"error": ..., "fields": {name:
    message}}``, 400 for a body or key that cannot be used, 404 for a wrong key, 403 for a site not allowed, 413 for
    a body over 64 KB, 429 over the hourly limit (nothing is stored). Plain HTML form posts answer with the form page
    and the same status codes."""
    wants_json = request.is_json or request.accept_mimetypes.best == "application/json"
    form = lead_forms.by_key(key)
    if form is None:
        return _json_error(404, _("No active form has this key; copy the snippet from Mayak again."),
                           {"key": _("unknown form key")})

    def refuse(status: int, message: str, posted: Mapping[str, Any] | None = None) -> Response:
        if wants_json:
            return _with_cors(_json_error(status, message), form)
        return _page(form, status=status, notice=message, posted=posted)

    too_large = _("The post is larger than %(kb)d KB; send only the form's fields.", kb=MAX_BODY // 1024)
    if request.content_length is not None and request.content_length > MAX_BODY:
        return refuse(413, too_large)  # before a byte of the body is read
    request.max_content_length = MAX_BODY  # a body without Content-Length stops being read at the limit
    origin = _post_origin()
    if origin is not None and origin not in form.allowed_origins and not _same_site(origin):
        return refuse(403, _("This site is not allowed to post to the form; add it in the form's settings."))
    try:
        data = _posted_json() if request.is_json else request.form.to_dict()
    except RequestEntityTooLarge:
        return refuse(413, too_large)
    if not isinstance(data, dict):
        return refuse(400, _("Send a JSON object or form fields."))
    key_header = request.headers.get("Idempotency-Key") or data.get("idempotency_key") or None
    try:
        inbox.idempotency_key_of(key_header)
    except InvalidInput as exc:
        return refuse(400, str(exc.errors["idempotency_key"]), data)
    try:
        outcome = lead_forms.submit(form, data, ip=client_ip(), idempotency_key=key_header)
    except inbox.KeyReused as exc:
        return refuse(409, str(exc.message), data)
    except InvalidInput as exc:
        fields = {k: str(v) for k, v in exc.errors.items()}
        if wants_json:
            return _with_cors(_json_error(422, next(iter(fields.values())), fields), form)
        return _page(form, errors=fields, status=422, posted=data)
    if outcome.rate_limited or outcome.item is None:
        return refuse(429, _("Too many requests from your address; try again later."), data)
    if wants_json:
        response = jsonify({"id": outcome.item.id, "status": "received"})
        response.status_code = 201 if outcome.created else 200
        return _with_cors(response, form)
    return _page(form, done=True)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_exc: RequestEntityTooLarge) -> Response:
    """A body over :data:`MAX_BODY` (refused by :mod:`core.web.body_limit` before it was parsed, whatever its
    content type or transfer encoding): the form's 413, as JSON or as the form page."""
    message = _("The post is larger than %(kb)d KB; send only the form's fields.", kb=MAX_BODY // 1024)
    form = lead_forms.by_key(str((request.view_args or {}).get("key") or ""))
    if form is None:
        return _json_error(413, message)
    if request.is_json or request.accept_mimetypes.best == "application/json":
        return _with_cors(_json_error(413, message), form)
    return _page(form, status=413, notice=message)


def _post_origin() -> str | None:
    """Where the post comes from: its ``Origin``, else the site of its ``Referer`` (older browsers send no Origin
    on form posts); ``None`` when neither is sent (a server posting JSON). ``Origin: null`` (a sandboxed or
    privacy-stripped page) stays ``"null"``, which no allow-list holds."""
    origin = request.headers.get("Origin")
    if origin:
        return origin.rstrip("/")
    referer = urlsplit(request.headers.get("Referer") or "")
    if referer.scheme and referer.netloc:
        return f"{referer.scheme}://{referer.netloc}"
    return None


def _posted_json() -> Any:
    """The posted JSON document, or ``None`` when it is not JSON we take (broken, NaN, nested too deep: Flask's
    ``get_json`` lets a thousand-deep document through as a RecursionError, a 500)."""
    try:
        return json_input.loads(request.get_data(cache=True))
    except json_input.BadJson:
        return None


def _same_site(origin: str) -> bool:
    return origin.rstrip("/") == request.host_url.rstrip("/")
