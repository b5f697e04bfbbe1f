"""Contact pages: the list (search, filters, grouping, bulk actions), the card with its timeline, the form."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from core.plugins import facades, provider_facades
from core.services.clients import contacts, custom_fields, duplicates, labels, list_rows, listing, merge, timeline
from core.services.platform import params
from core.services.platform.access import can, require
from core.services.platform.errors import InvalidInput
from core.services.work import deals, tasks
from core.web import bulk_actions, clients
from core.web.context import actor, user
from core.web.forms import EmptyForm
from core.web.htmx import fragment, is_htmx, render, trigger

bp = Blueprint("contacts", __name__, url_prefix="/contacts")
COLUMNS = ("phone", "email", "company", "city", "owner", "tags", "source", "created")
DEFAULT_COLUMNS = ("phone", "email", "company", "owner")


def _load(contact_id: int, action: str = "view"):  # type: ignore[no-untyped-def]
    try:
        return contacts.get(actor(), contact_id, action)
    except LookupError:
        abort(404)


def _columns() -> list[str]:
    chosen = [c for c in request.args.getlist("columns") if c in COLUMNS]
    return chosen or list(DEFAULT_COLUMNS)


@bp.get("/count")
def count():  # type: ignore[no-untyped-def]
    return clients.render_count(listing.CONTACTS, "contacts/index.html")


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    columns = _columns()
    return clients.render_list(listing.CONTACTS, "contacts/index.html", body_block="list_body",
                               read=lambda query, me: list_rows.contact_page(query, me, columns),
                               columns=columns, all_columns=COLUMNS)


def _form_context(contact: Any, values: dict[str, Any] | None, errors: dict[str, Any]) -> dict[str, Any]:
    ids = [int(r["company_id"]) for r in (values or {}).get("companies", []) if str(r.get("company_id")).isdigit()]
    return {"contact": contact, "values": values, "errors": clients.form_errors(errors),
            "rows": clients.form_rows(contact, values),
            "company_names": labels.visible_names(user(), [SimpleNamespace(company_id=i) for i in ids])["company"],
            "fields": custom_fields.definitions("contact"), "owners": clients.assignable_users(),
            "form": EmptyForm()}


@bp.route("/new", methods=["GET", "POST"])
def new():  # type: ignore[no-untyped-def]
    require(user(), "create", "contact")
    if request.method == "POST" and EmptyForm().validate_on_submit():
        values = clients.values_from_form("contact", request.form, contacts.TEXT)
        try:
            created = contacts.save(actor(), None, values, keep_unparsed_phones="keep_unparsed" in request.form)
        except InvalidInput as exc:
            return render("contacts/form.html", status=422, **_form_context(None, values, exc.errors))
        _warn_duplicates(created)
        flash(_("The contact is saved."), "success")
        return redirect(url_for("contacts.card", contact_id=created.id))
    return render("contacts/form.html", status=400 if request.method == "POST" else 200,
                  **_form_context(None, None, {}))


@bp.route("/<int:contact_id>/edit", methods=["GET", "POST"])
def edit(contact_id: int):  # type: ignore[no-untyped-def]
    contact = _load(contact_id, "edit")
    if request.method == "POST" and EmptyForm().validate_on_submit():
        values = clients.values_from_form("contact", request.form, contacts.TEXT)
        try:
            contacts.save(actor(), contact, values, keep_unparsed_phones="keep_unparsed" in request.form)
        except InvalidInput as exc:
            return render("contacts/form.html", status=422, **_form_context(contact, values, exc.errors))
        _warn_duplicates(contact)
        flash(_("The contact is saved."), "success")
        return redirect(url_for("contacts.card", contact_id=contact.id))
    return render("contacts/form.html", status=400 if request.method == "POST" else 200,
                  **_form_context(contact, None, {}))


def _warn_duplicates(contact: Any) -> None:
    found = duplicates.for_contact(actor(), contact)
    if found:
        names = ", ".join(f"{c.display_name} (#{c.id})" for c, _reason in found[:3])
        flash(_("This may be a duplicate of: %(names)s. Check the duplicates page to merge them.", names=names),
              "warning")


@bp.post("/check-duplicates")
def check_duplicates():  # type: ignore[no-untyped-def]
    """Live warning while the form is filled in (htmx, on change of name, phone or email)."""
    require(user(), "view", "contact")
    values = clients.values_from_form("contact", request.form, contacts.TEXT)
    exclude = request.form.get("contact_id", type=int)
    found = duplicates.for_values(actor(), values, exclude_id=exclude)
    return fragment("contacts/form.html", "duplicate_warning", duplicates=found)


@bp.get("/<int:contact_id>")
def card(contact_id: int):  # type: ignore[no-untyped-def]
    contact = _load(contact_id)
    me = user()
    kinds = [k for k in request.args.getlist("kind") if k in provider_facades.timeline_kind_keys()]
    entries = timeline.entries(contact_id=contact.id, kinds=kinds)
    return render(
        "contacts/card.html", "timeline", contact=contact, entries=entries, kinds=kinds,
        cursor=timeline.next_cursor(entries), all_kinds=provider_facades.timeline_kind_keys(),
        actions=facades.card_actions("contact", contact, me),
        panels=facades.card_panels("contact", contact, me),
        fields=custom_fields.definitions("contact"), form=EmptyForm(), owners=clients.assignable_users(),
        deals=deals.for_client(actor(), contact_id=contact.id) if can(me, "view", "deal") else [],
        open_tasks=tasks.for_record(actor(), contact_id=contact.id) if can(me, "view", "task") else [],
    )


@bp.get("/<int:contact_id>/timeline")
def timeline_page(contact_id: int):  # type: ignore[no-untyped-def]
    contact = _load(contact_id)
    kinds = [k for k in request.args.getlist("kind") if k in provider_facades.timeline_kind_keys()]
    entries = timeline.entries(contact_id=contact.id, kinds=kinds,
                               before=timeline.Cursor.decode(request.args.get("before")))
    return fragment("contacts/card.html", "timeline_rows", contact=contact, entries=entries, kinds=kinds,
                    cursor=timeline.next_cursor(entries))


@bp.post("/<int:contact_id>/notes")
def add_note(contact_id: int):  # type: ignore[no-untyped-def]
    contact = _load(contact_id, "edit")
    error = None
    if EmptyForm().validate_on_submit():
        try:
            timeline.add_note(actor(), contact=contact, body=request.form.get("body", ""))
        except InvalidInput as exc:
            error = str(exc.errors["body"])
    if not is_htmx():
        if error:
            flash(error, "danger")
        return redirect(url_for("contacts.card", contact_id=contact.id))
    entries = timeline.entries(contact_id=contact.id)
    response = fragment("contacts/card.html", "timeline", contact=contact, entries=entries, kinds=[],
                        cursor=timeline.next_cursor(entries), all_kinds=provider_facades.timeline_kind_keys(),
                        form=EmptyForm(),
                        note_error=error, note_text=request.form.get("body", "") if error else "")
    return response if error else trigger(response, {"mayak:toast": {"message": _("The note is added."),
                                                                       "level": "success"}})


BULK = bulk_actions.BulkList("contact", "contacts", contacts, "contacts.index", "contacts.merge_page")


@bp.post("/bulk")
def bulk():  # type: ignore[no-untyped-def]
    """Bulk actions on the selected rows: reassign, tag, delete (undoable), merge, export — each checked per
    record."""
    return bulk_actions.handle(BULK)


@bp.post("/undo-delete")
def undo_delete():  # type: ignore[no-untyped-def]
    return bulk_actions.undo_delete(BULK)


@bp.get("/options")
def options():  # type: ignore[no-untyped-def]
    """Contacts found by name, phone or email, as <option>s for the deal form's client picker (htmx)."""
    return clients.render_options(listing.CONTACTS, "contacts/index.html", "contact_q")


@bp.get("/duplicates")
def duplicates_page():  # type: ignore[no-untyped-def]
    require(user(), "view", "contact")
    return render("clients/duplicates.html", groups=merge.candidate_groups(actor()), collection="contacts")


@bp.route("/merge", methods=["GET", "POST"])
def merge_page():  # type: ignore[no-untyped-def]
    """Compare the chosen contacts side by side, pick each field's value, see what will happen, merge."""
    require(user(), "edit", "contact")
    ids = params.record_ids("ids", request.values.getlist("ids")[:10])
    people = []
    for contact_id in dict.fromkeys(ids):
        people.append(_load(contact_id, "edit"))
    if len(people) < 2:
        flash(_("Choose at least two different contacts to merge."), "warning")
        return redirect(url_for("contacts.duplicates_page"))
    if request.method == "POST" and EmptyForm().validate_on_submit():
        keep_id = request.form.get("keep", type=int) or people[0].id
        chosen = {f: request.form.get(f"field-{f}", type=int) or keep_id for f in merge.FIELDS}
        try:
            record = merge.merge(actor(), keep_id, [p.id for p in people if p.id != keep_id], chosen)
        except InvalidInput as exc:
            flash(next(iter(clients.form_errors(exc.errors).values())), "danger")
        else:
            from flask import session

            session["undo_merge"] = record.id
            flash(_("The contacts are merged. Use Undo on the card if this was a mistake."), "success")
            return redirect(url_for("contacts.card", contact_id=keep_id))
    moving = {p.id: timeline.count_for_contact(p.id) for p in people}
    return render("clients/merge.html", people=people, fields=merge.FIELDS, form=EmptyForm(), moving=moving,
                  collection="contacts",
                  owner_names={u.id: u.display_name for u in clients.assignable_users()})


@bp.post("/merge/<int:merge_id>/undo")
def merge_undo(merge_id: int):  # type: ignore[no-untyped-def]
    from flask import session

    if EmptyForm().validate_on_submit():
        try:
            kept = merge.undo(actor(), merge_id)
        except LookupError:
            abort(404)
        session.pop("undo_merge", None)
        flash(_("The merge is undone."), "success")
        return redirect(url_for("contacts.card", contact_id=kept.id))
    abort(400)
