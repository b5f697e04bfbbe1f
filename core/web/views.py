"""Saving and removing list views (the list pages show them in their toolbar)."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from core.services.platform import views
from core.services.platform.access import require
from core.services.platform.errors import InvalidInput
from core.web.context import actor, safe_next, user
from core.web.forms import EmptyForm

bp = Blueprint("views", __name__, url_prefix="/views")
LISTS = {"contact": "contacts.index", "company": "companies.index", "deal": "deals.listing_page"}


@bp.post("/<any(contact, company, deal):kind>")
def save(kind: str):  # type: ignore[no-untyped-def]
    entity = kind
    require(user(), "view", entity)
    if not EmptyForm().validate_on_submit():
        abort(400)
    params = {k: request.form.getlist(k) for k in request.form if k not in ("csrf_token", "name", "shared")}
    try:
        view = views.save(actor(), entity, request.form.get("name", ""), params, bool(request.form.get("shared")))
    except InvalidInput as exc:
        flash(str(next(iter(exc.errors.values()))), "danger")
        return redirect(url_for(LISTS[entity]))
    flash(_("The view is saved."), "success")
    return redirect(url_for(LISTS[entity]) + "?" + urlencode(view.params, doseq=True))


@bp.post("/<int:view_id>/delete")
def delete(view_id: int):  # type: ignore[no-untyped-def]
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        views.delete(actor(), view_id)
    except LookupError:
        abort(404)
    flash(_("The view is deleted."), "success")
    return redirect(safe_next(request.referrer, url_for("contacts.index")))
