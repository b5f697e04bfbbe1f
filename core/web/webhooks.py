"""Webhooks in: the public endpoint providers post to (``/webhooks/<plugin>/<path>``) and *Administration →
Webhooks* (deliveries, their outcome, replay, each provider's health).

The public view is cross-site by design (no session, no CSRF token): its defence is the endpoint's signature
check and allow-list, run by :mod:`core.services.platform.webhooks`. Here only what needs the HTTP request:
the body-size limit (413, before a byte is read), the method (405) and content type (415), and the answer.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, flash, jsonify, request, url_for
from flask_babel import gettext as _
from flask_babel import pgettext
from werkzeug.exceptions import RequestEntityTooLarge

from core.db import db
from core.models import WebhookDelivery
from core.plugins.webhooks import DEFAULT_MAX_BYTES, MalformedBody, WebhookRequest
from core.services.platform import webhooks
from core.services.platform.access import require
from core.services.platform.errors import ValidationError
from core.web.body_limit import body_limit
from core.web.context import actor, client_ip, user
from core.web.forms import EmptyForm
from core.web.htmx import redirect, render
from core.web.marks import cross_site

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
admin_bp = Blueprint("webhooks_admin", __name__, url_prefix="/admin/webhooks")

PAGE = 50
SHOWN_BODY = 64 * 1024  # the detail page shows this much of a body


@bp.record_once
def _declared_at_start(state: Any) -> None:
    """Collect the plugins' endpoints when the app is built, so a wrong declaration stops start-up."""
    with state.app.app_context():
        webhooks.endpoints()


def _json(code: int, **body: Any) -> Response:
    response = jsonify(body)
    response.status_code = code
    return response


def _as_called() -> str:
    """The address exactly as the provider called it — its escapes as sent, not decoded and re-encoded as
    ``request.url`` is — for providers that sign the address (Twilio). Behind a proxy the scheme and host are the
    forwarded ones (``MAYAK_BEHIND_PROXY``)."""
    path = quote(request.environ.get("SCRIPT_NAME", "") + request.environ.get("PATH_INFO", ""),
                 safe="/:@!$&'()*+,;=-._~%")
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw and raw.startswith("/"):
        path, query = raw.partition("?")[0], raw.partition("?")[2]
    else:
        query = request.query_string.decode("latin-1")
    return f"{request.scheme}://{request.host}{path}" + (f"?{query}" if query else "")


def _error(code: int, name: str, message: str) -> Response:
    """An error in the API's shape: ``{"error": {"code": ..., "message": ...}}``."""
    return _json(code, error={"code": name, "message": message})


def _limit(args: dict[str, Any]) -> int:
    endpoint = webhooks.find(str(args.get("plugin", "")), str(args.get("path", "")))
    return endpoint.max_bytes if endpoint is not None else DEFAULT_MAX_BYTES


def _headers() -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        found[key] = f"{found[key]}, {value}" if key in found else value
    return found


@bp.route("/<plugin>/<path:path>", methods=["GET", "POST", "PUT"], provide_automatic_options=False)
@cross_site
@body_limit(_limit)
def receive(plugin: str, path: str) -> Response:
    """A provider's delivery: 202 accepted (the handler runs as a job), 200 for a repeat or an inline answer,
    400 malformed, 403 wrong signature or address, 404 unknown endpoint, 405 method, 413 too large, 415 type."""
    endpoint = webhooks.find(plugin, path)
    if endpoint is None:
        return _error(404, "not_found", "no enabled plugin declares this webhook")
    if request.method not in endpoint.methods:
        response = _error(405, "method_not_allowed", "method not allowed")
        response.headers["Allow"] = ", ".join(endpoint.methods)
        return response
    if request.method != "GET" and endpoint.content_types and request.mimetype not in endpoint.content_types:
        return _error(415, "unsupported_media_type", f"send {' or '.join(endpoint.content_types)}")
    body = request.get_data(cache=True) if request.method != "GET" else b""
    incoming = WebhookRequest(method=request.method, path=request.path, headers=_headers(),
                              query=request.args.to_dict(flat=False), body=body, remote_addr=client_ip(),
                              content_type=request.content_type or "", url=_as_called())
    try:
        outcome = webhooks.receive(endpoint, incoming)
    except (MalformedBody, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        # the plugin could not read the body: the sender learns that much, never a stack trace
        db.session.rollback()
        current_app.logger.warning("webhook %s/%s from %s: malformed body (%s: %s)", plugin, path, client_ip(),
                                   type(exc).__name__, exc)
        message = exc.message if isinstance(exc, MalformedBody) else "malformed body"
        return _error(400, "malformed_body", message)
    db.session.commit()
    if outcome.answer is not None:
        answer = outcome.answer
        return Response(answer.data, status=answer.status, content_type=answer.content_type)
    if outcome.status == 403:
        return _error(403, "forbidden", "signature or source address refused")
    return _json(outcome.status, status=outcome.message, delivery=outcome.delivery_id)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_exc: RequestEntityTooLarge) -> Response:
    return _error(413, "too_large", "the body is larger than this webhook takes")


# --- administration ------------------------------------------------------------------------------------------


def _status_label(status: str) -> str:
    return {"refused": pgettext("webhooks", "refused"), "queued": pgettext("webhooks", "queued"),
            "running": pgettext("webhooks", "running"), "processed": pgettext("webhooks", "processed"),
            "failed": pgettext("webhooks", "failed")}.get(status, status)


@admin_bp.get("")
def index():  # type: ignore[no-untyped-def]
    require(user(), "view", "webhook")
    plugin = request.args.get("plugin") or None
    status = request.args.get("status") or None
    if status not in (None, *webhooks.DELIVERY_STATUSES):
        status = None
    before = request.args.get("before", type=int)
    rows = webhooks.recent(limit=PAGE, before_id=before, plugin=plugin, status=status)
    providers = webhooks.health()
    return render("admin/webhooks.html", "rows", rows=rows, providers=providers, plugin=plugin, state=status,
                  statuses=webhooks.DELIVERY_STATUSES, status_label=_status_label,
                  describe_error=webhooks.describe_error, more=rows[-1].id if len(rows) == PAGE else None)


def _shown_body(row: WebhookDelivery) -> tuple[str, bool]:
    raw = bytes(row.body or b"")
    cut = len(raw) > SHOWN_BODY
    text = raw[:SHOWN_BODY].decode("utf-8", "replace")
    if not cut and "json" in (row.content_type or ""):
        with contextlib.suppress(ValueError, RecursionError):
            text = json.dumps(json.loads(text), ensure_ascii=False, indent=2)
    return text, cut or row.body_size > len(raw)


@admin_bp.get("/<int:delivery_id>")
def detail(delivery_id: int):  # type: ignore[no-untyped-def]
    require(user(), "view", "webhook")
    row = db.get_or_404(WebhookDelivery, delivery_id)
    body, cut = _shown_body(row)
    return render("admin/webhook_delivery.html", row=row, body=body, cut=cut, form=EmptyForm(),
                  status_label=_status_label, describe_error=webhooks.describe_error)


@admin_bp.post("/<int:delivery_id>/replay")
def replay(delivery_id: int):  # type: ignore[no-untyped-def]
    require(user(), "replay", "webhook")
    row = db.get_or_404(WebhookDelivery, delivery_id)
    if EmptyForm().validate_on_submit():
        try:
            webhooks.replay(actor(), row.id)
        except ValidationError as exc:
            db.session.rollback()
            flash(str(exc.message), "danger")
        else:
            db.session.commit()
            flash(_("The delivery is queued again; its outcome appears here when the handler has run."), "success")
    return redirect(url_for("webhooks_admin.detail", delivery_id=delivery_id))
