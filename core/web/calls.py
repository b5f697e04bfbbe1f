"""Calls in the web UI: click-to-call and its status, the caller's card as a toast on every page, the call note,
the call log with each manager's figures, and the colleague directory."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, g, request

from core.db import db
from core.models import Call
from core.plugins import provider_facades
from core.services.clients import contacts
from core.services.platform import params
from core.services.platform.access import AccessDenied, require
from core.services.platform.errors import InvalidInput
from core.services.telephony import dialing, log, toasts
from core.services.users.directory import active_people, by_id
from core.services.users.zones import day_bounds, zone_of
from core.web import clients
from core.web.context import actor, user
from core.web.htmx import fragment, render, stop_polling

bp = Blueprint("calls", __name__, url_prefix="/calls")


def can_dial() -> bool:
    """Whether the signed-in user can place calls from the CRM: they have an extension and a telephony provider is
    enabled (once per request: every phone on a page asks)."""
    if "mayak_can_dial" not in g:
        current = user()
        g.mayak_can_dial = bool(current is not None and current.extension and provider_facades.providers("telephony"))
    return bool(g.mayak_can_dial)


def client_phones(contact_id: int | None) -> list:  # type: ignore[type-arg]
    """A contact's phones to call from another card (a deal, a task), when the reader can place calls and may see
    that contact; none otherwise, so no card shows a number its reader could not see on the contact."""
    if not contact_id or not can_dial():
        return []
    try:
        return list(contacts.get(actor(), contact_id).phones)[:3]
    except (LookupError, AccessDenied):
        return []


def init_calls(app) -> None:  # type: ignore[no-untyped-def]
    app.jinja_env.globals.update(can_dial=can_dial, call_note_outcomes=toasts.NOTE_OUTCOMES)


def _record_id(name: str) -> int | None:
    value = request.form.get(name) or None
    return params.record_id(name, value) if value is not None else None


@bp.post("/dial")
def dial():  # type: ignore[no-untyped-def]
    """Place a call: the PBX rings the user's phone, then the client. Answers the status where the button was."""
    require(user(), "view", "call")
    about = {name: _record_id(name) for name in ("contact_id", "company_id", "deal_id")}  # malformed: a 400
    try:
        call = dialing.prepare(actor(), request.form.get("number", ""), **about)
    except InvalidInput as exc:
        return fragment("calls/_status.html", "status", call=None, error=" ".join(str(v) for v in exc.errors.values()))
    except LookupError:
        abort(404)
    db.session.commit()  # the call is on record ("calling…") before the provider is asked
    dialing.dial(call)
    return _status(call)


def _status(call: Call):  # type: ignore[no-untyped-def]
    response = fragment("calls/_status.html", "status", call=call, error=call.error or None)
    return stop_polling(response) if not call.live else response


@bp.get("/<int:call_id>/status")
def status(call_id: int):  # type: ignore[no-untyped-def]
    try:
        call = log.get(actor(), call_id)
    except LookupError:
        abort(404)
    return _status(call)


@bp.get("/live")
def live():  # type: ignore[no-untyped-def]
    """The signed-in user's call toasts; ``204`` (nothing to redraw) while they are what the page shows (``v``)."""
    require(user(), "view", "call")
    version = toasts.fingerprint(actor())
    if request.args.get("v", "") == version:
        return "", 204
    return fragment("calls/_toasts.html", "toasts", cards=toasts.cards(actor()), version=version)


@bp.post("/<int:call_id>/dismiss")
def dismiss(call_id: int):  # type: ignore[no-untyped-def]
    require(user(), "view", "call")
    try:
        toasts.dismiss(actor(), call_id)
    except LookupError:
        abort(404)
    return fragment("calls/_toasts.html", "toasts", cards=toasts.cards(actor()), version=toasts.fingerprint(actor()))


@bp.post("/<int:call_id>/note")
def note(call_id: int):  # type: ignore[no-untyped-def]
    require(user(), "view", "call")
    try:
        toasts.save_note(actor(), call_id, request.form.get("note", ""), request.form.get("outcome", ""))
    except LookupError:
        abort(404)
    except InvalidInput as exc:
        call = db.session.get(Call, call_id)
        return fragment("calls/_toasts.html", "note_form", call=call, errors=exc.errors,
                        values=request.form, status=422)
    return fragment("calls/_toasts.html", "note_saved", cards=toasts.cards(actor()),
                    version=toasts.fingerprint(actor()))


def _period() -> tuple[datetime | None, datetime | None]:
    zone = zone_of(user())
    since = day_bounds(params.day("from", request.args["from"]), zone)[0] if request.args.get("from") else None
    until = day_bounds(params.day("to", request.args["to"]), zone)[1] if request.args.get("to") else None
    return since, until


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    """The call log: missed calls not yet called back first, then every call; each manager's figures."""
    require(user(), "view", "call")
    since, until = _period()
    filters = log.Filters.parse(request.args.to_dict(), since, until)
    before = request.args.get("before")
    rows = log.listing(actor(), filters, before_id=params.record_id("before", before) if before else None)
    first_page = before is None
    return render("calls/log.html", "rows", rows=rows, next_before=log.next_before(rows),
                  to_call_back=log.to_call_back(actor(), filters) if first_page else [],
                  figures=log.figures(actor(), filters) if first_page else [],
                  names={p.id: p.display_name for p in by_id().values()}, people=clients.assignable_users(),
                  args=request.args, more_args={k: v for k, v in request.args.items() if k != "before"})


@bp.get("/colleagues")
def colleagues():  # type: ignore[no-untyped-def]
    """Everyone at work, with their extension, to call in one click (for staff who work with calls: an external
    contact centre submitting leads learns nobody's name here)."""
    require(user(), "view", "call")
    return render("calls/colleagues.html", people=active_people(), can_call=can_dial())


__all__ = ["bp", "can_dial", "client_phones", "init_calls"]
