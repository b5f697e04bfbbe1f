"""The inbox page: incoming calls, emails, form posts and messages to sort (accept, attach to a deal, reject), and
the lead form of external contact centres."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from core.db import db
from core.models import LeadForm, User
from core.models.inbox import INBOX_STATUSES
from core.services.clients import labels
from core.services.platform.access import can, require
from core.services.platform.errors import InvalidInput
from core.services.work import inbox
from core.web import clients
from core.web.context import actor, user
from core.web.forms import EmptyForm
from core.web.htmx import render

bp = Blueprint("inbox", __name__, url_prefix="/inbox")


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    inbox.require_view(actor())
    status = request.args.get("status", "new")
    if status not in INBOX_STATUSES:
        status = "new"
    items = inbox.listing(actor(), status, before_id=request.args.get("before", type=int))
    next_before = items[-1].id if len(items) == 50 else None
    if inbox.shows_as_submitted(actor()):  # a contact centre: what it sent, as sent, under no status
        return render("inbox/index.html", items=items, submitted_only=True, shown=None, statuses=(),
                      links={}, forms={}, names={}, form=EmptyForm(), can_sort=False,
                      can_submit=can(user(), "submit", "lead"), next_before=next_before)
    links = labels.linked_names(items)
    form_ids = {i.form_id for i in items if i.form_id}
    forms = dict(db.session.execute(select(LeadForm.id, LeadForm.name).where(LeadForm.id.in_(form_ids)))
                 .all()) if form_ids else {}
    return render("inbox/index.html", items=items, submitted_only=False, shown=status, statuses=INBOX_STATUSES,
                  links=links, forms=forms, names={u.id: u.display_name for u in clients.assignable_users()},
                  form=EmptyForm(), can_sort=can(user(), "edit", "inbox"),
                  can_submit=can(user(), "submit", "lead"), next_before=next_before)


def _item(item_id: int, action: str = "view"):  # type: ignore[no-untyped-def]
    try:
        return inbox.get(actor(), item_id, action)
    except LookupError:
        abort(404)


@bp.post("/<int:item_id>/accept")
def accept(item_id: int):  # type: ignore[no-untyped-def]
    if not EmptyForm().validate_on_submit():
        abort(400)
    item = _item(item_id, "edit")
    deal_id = request.form.get("deal_id", type=int)
    if request.form.get("to_deal") and not deal_id:  # "Add to deal" without a deal picked: say so, accept nothing
        flash(_("Choose the deal by its title or client."), "danger")
        return redirect(url_for("inbox.index"))
    try:
        inbox.accept(actor(), item, deal_id=deal_id)
    except InvalidInput as exc:
        flash(str(next(iter(exc.errors.values()))), "danger")
        return redirect(url_for("inbox.index"))
    if item.status == "attached":
        flash(_("Added to the deal."), "success")
    else:
        owner = db.session.get(User, item.owner_id) if item.owner_id else None
        flash(_("Accepted: the deal is created and assigned to %(name)s.",
                name=owner.display_name if owner else "—"), "success")
    return redirect(url_for("inbox.index"))


@bp.post("/<int:item_id>/reject")
def reject(item_id: int):  # type: ignore[no-untyped-def]
    if not EmptyForm().validate_on_submit():
        abort(400)
    item = _item(item_id, "edit")
    try:
        inbox.reject(actor(), item, request.form.get("reason", ""))
    except InvalidInput as exc:
        flash(str(next(iter(exc.errors.values()))), "danger")
    else:
        flash(_("Rejected; you find it under “Rejected”."), "success")
    return redirect(url_for("inbox.index"))


@bp.route("/submit", methods=["GET", "POST"])
def submit():  # type: ignore[no-untyped-def]
    """A lead typed in by an operator or an external contact centre (who then sees only what they submitted)."""
    require(user(), "submit", "lead")
    errors: dict[str, str] = {}
    values = request.form.to_dict() if request.method == "POST" else {}
    if request.method == "POST" and EmptyForm().validate_on_submit():
        name, phone, email = (values.get(k, "").strip() for k in ("name", "phone", "email"))
        if not (phone or email):
            errors["phone"] = _("Give a phone or an email so the manager can reach the client.")
        if not errors:
            try:
                channel = values.get("channel") if values.get("channel") in ("phone", "messenger") else "phone"
                inbox.receive(inbox.IncomingItem(
                    channel=channel, source=f"manual:{actor().user_id}", name=name, phone=phone, email=email,
                    subject=values.get("subject", ""), body=values.get("body", ""), submitted_by_id=actor().user_id,
                    external_id=values.get("idempotency_key") or None))
            except InvalidInput as exc:
                errors = {k: str(v) for k, v in exc.errors.items()}
                values.pop("idempotency_key", None)  # the page makes a new one
            else:
                flash(_("The lead is sent to the sales team."), "success")
                return redirect(url_for("inbox.index"))
    return render("inbox/submit.html", values=values, errors=errors, form=EmptyForm(),
                  status=422 if errors else 200)
