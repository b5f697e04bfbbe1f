"""``/api/v1/contacts`` and ``/api/v1/companies``: list (filters, search, phone lookup, keyset pages), read,
create, change, delete, and the timeline."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request, url_for
from flask_babel import gettext as _

from core.api import actor, bp, json_body
from core.models import Activity, Company, Contact
from core.plugins.facades import default_phone_region
from core.services.clients import companies, contacts, listing, phones, timeline
from core.services.platform.access import require
from core.services.platform.errors import InvalidInput

ENTITIES = {"contacts": (listing.CONTACTS, contacts), "companies": (listing.COMPANIES, companies)}
SCHEMA = {"contacts": "Contact", "companies": "Company"}


def _phones(record: Any) -> list[dict[str, Any]]:
    region = default_phone_region()
    return [{"raw": p.raw, "e164": p.e164, "kind": p.kind, "valid": p.valid,
             "display": phones.display(p.e164, p.raw, region)} for p in record.phones]


def serialize(record: Contact | Company) -> dict[str, Any]:
    common = {
        "id": record.id, "city": record.city, "region": record.region, "source": record.source,
        "notes": record.notes, "owner_id": record.owner_id, "team_id": record.team_id,
        "phones": _phones(record),
        "emails": [{"address": e.address, "kind": e.kind, "valid": e.valid} for e in record.emails],
        "tags": [t.name for t in record.tags], "custom": dict(record.custom or {}),
        "created_at": record.created_at.isoformat(), "updated_at": record.updated_at.isoformat(),
        "last_activity_at": record.last_activity_at.isoformat() if record.last_activity_at else None,
    }
    if isinstance(record, Contact):
        return {**common, "first_name": record.first_name, "middle_name": record.middle_name,
                "last_name": record.last_name, "display_name": record.display_name, "job_title": record.job_title,
                "birthday": record.birthday.isoformat() if record.birthday else None,
                "companies": [{"company_id": m.company_id, "name": m.company.name, "job_title": m.job_title}
                              for m in record.memberships]}
    return {**common, "name": record.name, "industry": record.industry, "website": record.website}


def serialize_activity(entry: Activity) -> dict[str, Any]:
    return {"id": entry.id, "kind": entry.kind, "occurred_at": entry.occurred_at.isoformat(), "title": entry.title,
            "body": entry.body, "data": entry.data, "author_id": entry.author_id, "source": entry.source,
            "external_id": entry.external_id, "contact_id": entry.contact_id, "company_id": entry.company_id}


def _entity(name: str):  # type: ignore[no-untyped-def]
    if name not in ENTITIES:
        raise LookupError(name)
    return ENTITIES[name]


@bp.get("/<any(contacts, companies):collection>")
def list_records(collection: str):  # type: ignore[no-untyped-def]
    spec, _service = _entity(collection)
    require(actor().user, "view", spec.entity)
    query = listing.ListQuery.from_args(request.args, spec)
    typed_phone = request.args.get("phone")
    if typed_phone is not None and phones.parse(typed_phone, default_phone_region()).e164 is None:
        raise InvalidInput({"phone": _("%(raw)s is not a phone number we can read: add the country code (+7 …) "
                                       "or save it as typed.", raw=typed_phone)})
    page = listing.page(spec, query, actor().user)
    next_url = None
    if page.next_cursor:
        next_url = url_for("api.list_records", collection=collection, **query.as_args(after=page.next_cursor))
    return jsonify({"data": [serialize(r) for r in page.rows], "next": next_url, "next_cursor": page.next_cursor})


@bp.post("/<any(contacts, companies):collection>")
def create_record(collection: str):  # type: ignore[no-untyped-def]
    spec, service = _entity(collection)
    require(actor().user, "create", spec.entity)  # a refusal comes before any word about the body
    values = json_body(SCHEMA[collection])
    record = service.save(actor(), None, values, keep_unparsed_phones=bool(values.pop("keep_unparsed_phones", False)))
    response = jsonify({"data": serialize(record)})
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_record", collection=collection, record_id=record.id)
    return response


@bp.get("/<any(contacts, companies):collection>/<int:record_id>")
def get_record(collection: str, record_id: int):  # type: ignore[no-untyped-def]
    _spec, service = _entity(collection)
    return jsonify({"data": serialize(service.get(actor(), record_id))})


@bp.patch("/<any(contacts, companies):collection>/<int:record_id>")
def update_record(collection: str, record_id: int):  # type: ignore[no-untyped-def]
    _spec, service = _entity(collection)
    record = service.get(actor(), record_id, "edit")
    values = json_body(f"{SCHEMA[collection]}Changes")
    keep = bool(values.pop("keep_unparsed_phones", False))
    record = service.save(actor(), record, values, partial=True, keep_unparsed_phones=keep)
    return jsonify({"data": serialize(record)})


@bp.delete("/<any(contacts, companies):collection>/<int:record_id>")
def delete_record(collection: str, record_id: int):  # type: ignore[no-untyped-def]
    _spec, service = _entity(collection)
    service.get(actor(), record_id, "delete")
    service.delete(actor(), [record_id])
    return "", 204


@bp.get("/<any(contacts, companies):collection>/<int:record_id>/timeline")
def record_timeline(collection: str, record_id: int):  # type: ignore[no-untyped-def]
    _spec, service = _entity(collection)
    record = service.get(actor(), record_id)
    key = {"contact_id": record.id} if collection == "contacts" else {"company_id": record.id}
    entries = timeline.entries(**key, kinds=request.args.getlist("kind"),
                               before=timeline.Cursor.decode(request.args.get("before")))
    cursor = timeline.next_cursor(entries)
    return jsonify({"data": [serialize_activity(e) for e in entries], "next_cursor": cursor})
