"""Company pages: the list, the card (with its people and their timeline), the form."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, request, session, url_for
from flask_babel import gettext as _

from core.plugins import facades, provider_facades
from core.services.clients import companies, company_merge, custom_fields, listing, timeline
from core.services.platform import params
from core.services.platform.access import require
from core.services.platform.errors import InvalidInput
from core.web import bulk_actions, clients
from core.web.context import actor, user
from core.web.forms import EmptyForm
from core.web.htmx import fragment, render

PEOPLE_SHOWN = 50
bp = Blueprint("companies", __name__, url_prefix="/companies")


def _load(company_id: int, action: str = "view"):  # type: ignore[no-untyped-def]
    try:
        return companies.get(actor(), company_id, action)
    except LookupError:
        abort(404)


@bp.get("/count")
def count():  # type: ignore[no-untyped-def]
    return clients.render_count(listing.COMPANIES, "companies/index.html")


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    return clients.render_list(listing.COMPANIES, "companies/index.html", body_block="list_body")


BULK = bulk_actions.BulkList("company", "companies", companies, "companies.index")


@bp.post("/bulk")
def bulk():  # type: ignore[no-untyped-def]
    """Bulk actions on the selected rows: reassign, tag, delete (undoable), export — each checked per record."""
    return bulk_actions.handle(BULK)


@bp.post("/undo-delete")
def undo_delete():  # type: ignore[no-untyped-def]
    return bulk_actions.undo_delete(BULK)


def _form_context(company: Any, values: dict[str, Any] | None, errors: dict[str, Any]) -> dict[str, Any]:
    return {"company": company, "values": values, "errors": clients.form_errors(errors),
            "rows": clients.form_rows(company, values),
            "fields": custom_fields.definitions("company"), "owners": clients.assignable_users(),
            "form": EmptyForm()}


@bp.route("/new", methods=["GET", "POST"], defaults={"company_id": None})
@bp.route("/<int:company_id>/edit", methods=["GET", "POST"])
def edit(company_id: int | None):  # type: ignore[no-untyped-def]
    company = _load(company_id, "edit") if company_id is not None else None
    if company is None:
        require(user(), "create", "company")
    if request.method == "POST" and EmptyForm().validate_on_submit():
        values = clients.values_from_form("company", request.form, companies.TEXT)
        try:
            saved = companies.save(actor(), company, values, keep_unparsed_phones="keep_unparsed" in request.form)
        except InvalidInput as exc:
            return render("companies/form.html", status=422, **_form_context(company, values, exc.errors))
        flash(_("The company is saved."), "success")
        return redirect(url_for("companies.card", company_id=saved.id))
    return render("companies/form.html", status=400 if request.method == "POST" else 200,
                  **_form_context(company, None, {}))


@bp.get("/<int:company_id>")
def card(company_id: int):  # type: ignore[no-untyped-def]
    company = _load(company_id)
    me = user()
    kinds = [k for k in request.args.getlist("kind") if k in provider_facades.timeline_kind_keys()]
    entries = timeline.entries(company_id=company.id, kinds=kinds)
    people = companies.people(company.id, limit=PEOPLE_SHOWN)
    return render("companies/card.html", "timeline", company=company, entries=entries, kinds=kinds,
                  cursor=timeline.next_cursor(entries), all_kinds=provider_facades.timeline_kind_keys(), people=people,
                  people_shown=PEOPLE_SHOWN,
                  actions=facades.card_actions("company", company, me),
                  panels=facades.card_panels("company", company, me),
                  fields=custom_fields.definitions("company"), form=EmptyForm(), owners=clients.assignable_users())


@bp.get("/<int:company_id>/timeline")
def timeline_page(company_id: int):  # type: ignore[no-untyped-def]
    company = _load(company_id)
    kinds = [k for k in request.args.getlist("kind") if k in provider_facades.timeline_kind_keys()]
    entries = timeline.entries(company_id=company.id, kinds=kinds,
                               before=timeline.Cursor.decode(request.args.get("before")))
    return fragment("companies/card.html", "timeline_rows", company=company, entries=entries, kinds=kinds,
                    cursor=timeline.next_cursor(entries))


@bp.post("/<int:company_id>/notes")
def add_note(company_id: int):  # type: ignore[no-untyped-def]
    company = _load(company_id, "edit")
    if EmptyForm().validate_on_submit():
        try:
            timeline.add_note(actor(), company=company, body=request.form.get("body", ""))
        except InvalidInput as exc:
            flash(str(exc.errors["body"]), "danger")
    return redirect(url_for("companies.card", company_id=company.id))


@bp.get("/options")
def options():  # type: ignore[no-untyped-def]
    """Companies whose name starts with ``q``, as <option>s for the contact form's company picker (htmx)."""
    me = user()
    require(me, "view", "company")
    return clients.render_options(listing.COMPANIES, "companies/index.html", "company_q")


@bp.get("/duplicates")
def duplicates_page():  # type: ignore[no-untyped-def]
    require(user(), "view", "company")
    return render("clients/duplicates.html", groups=company_merge.candidate_groups(actor()), collection="companies")


@bp.route("/merge", methods=["GET", "POST"])
def merge_page():  # type: ignore[no-untyped-def]
    require(user(), "edit", "company")
    ids = params.record_ids("ids", request.values.getlist("ids")[:10])
    chosen_companies = [_load(company_id, "edit") for company_id in dict.fromkeys(ids)]
    if len(chosen_companies) < 2:
        flash(_("Choose at least two different companies to merge."), "warning")
        return redirect(url_for("companies.duplicates_page"))
    if request.method == "POST" and EmptyForm().validate_on_submit():
        keep_id = request.form.get("keep", type=int) or chosen_companies[0].id
        picked = {f: request.form.get(f"field-{f}", type=int) or keep_id for f in company_merge.FIELDS}
        try:
            record = company_merge.merge(actor(), keep_id, [c.id for c in chosen_companies if c.id != keep_id],
                                         picked)
        except InvalidInput as exc:
            flash(next(iter(clients.form_errors(exc.errors).values())), "danger")
        else:
            session["undo_company_merge"] = record.id
            flash(_("The companies are merged. Use Undo on the card if this was a mistake."), "success")
            return redirect(url_for("companies.card", company_id=keep_id))
    moving = {c.id: timeline.count_for_company(c.id) for c in chosen_companies}
    return render("clients/merge.html", people=chosen_companies, fields=company_merge.FIELDS, form=EmptyForm(),
                  moving=moving, collection="companies",
                  owner_names={u.id: u.display_name for u in clients.assignable_users()})


@bp.post("/merge/<int:merge_id>/undo")
def merge_undo(merge_id: int):  # type: ignore[no-untyped-def]
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        kept = company_merge.undo(actor(), merge_id)
    except LookupError:
        abort(404)
    session.pop("undo_company_merge", None)
    flash(_("The merge is undone."), "success")
    return redirect(url_for("companies.card", company_id=kept.id))
