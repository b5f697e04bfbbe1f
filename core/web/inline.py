"""Click-to-edit of one field on a contact's or company's card (htmx): GET ``?edit=1`` gives the input, POST
saves it through the same service as the full form, with the same validation and audit."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, request

from core.services.clients import companies, contacts, custom_fields
from core.services.platform.errors import InvalidInput
from core.web import clients
from core.web.context import actor
from core.web.forms import EmptyForm
from core.web.htmx import fragment

bp = Blueprint("inline", __name__)
SERVICES = {"contacts": ("contact", contacts, (*contacts.TEXT, "birthday")),
            "companies": ("company", companies, companies.TEXT)}


def _value(definition: Any) -> Any:
    if definition is None:
        return request.form.get("value", "")
    if definition.type == "multichoice":
        return request.form.getlist("value")
    if definition.type == "boolean":
        return request.form.get("value", "") in ("1", "on")
    return request.form.get("value", "")


@bp.route("/<any(contacts, companies):collection>/<int:record_id>/field/<name>", methods=["GET", "POST"])
def field(collection: str, record_id: int, name: str):  # type: ignore[no-untyped-def]
    entity, service, text_fields = SERVICES[collection]
    definitions = custom_fields.definitions(entity)
    definition = None
    if name.startswith("custom."):
        definition = next((f for f in definitions if f.key == name.removeprefix("custom.")), None)
        if definition is None:
            abort(404)
    elif name not in (*text_fields, "notes", "owner_id", "tags"):
        abort(404)
    editing = request.method == "POST" or bool(request.args.get("edit"))
    try:
        record = service.get(actor(), record_id, "edit" if editing else "view")
    except LookupError:
        abort(404)
    context = {"record": record, "entity": entity, "collection": collection, "name": name, "fields": definitions,
               "owners": clients.assignable_users(), "form": EmptyForm(), "error": None, "typed": None}
    if request.method == "POST":
        if not EmptyForm().validate_on_submit():
            abort(400)
        if definition is not None:
            values: dict[str, Any] = {"custom": {definition.key: _value(definition)}}
        elif name == "tags":
            values = {"tags": [t for t in request.form.get("value", "").split(",") if t.strip()]}
        else:
            values = {name: request.form.get("value", "")}
        try:
            service.save(actor(), record, values, partial=True)
        except InvalidInput as exc:
            context["error"] = next(iter(clients.form_errors(exc.errors).values()))
            context["typed"] = request.form.get("value", "")
            return fragment("inline/_field.html", "editor", status=422, **context)
        context["record"] = service.get(actor(), record_id)
        return fragment("inline/_field.html", "display", **context)
    return fragment("inline/_field.html", "editor" if editing else "display", **context)
