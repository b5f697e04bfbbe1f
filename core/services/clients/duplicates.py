"""Likely duplicates: the same phone (E.164), the same email, or the same name within the same company."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.db import db
from core.models import Contact, ContactCompany, Email, Phone
from core.plugins.facades import default_phone_region
from core.services.clients import phones
from core.services.platform import emails
from core.services.platform.access import filter_query
from core.services.platform.context import Actor
from core.services.platform.text import search_key

REASONS = {"phone": _l("same phone"), "email": _l("same email"), "name": _l("same name at the same company")}


def for_values(actor: Actor, values: dict[str, Any], exclude_id: int | None = None,
               limit: int = 10) -> list[tuple[Contact, Any]]:
    region = default_phone_region()
    numbers = {p.e164 for p in (phones.parse(str(r.get("raw", "")), region) for r in values.get("phones") or [])
               if p.e164}
    addresses = {e.normalized for e in (emails.parse(str(r.get("address", ""))) for r in values.get("emails") or [])
                 if e.valid}
    name = search_key(str(values.get("last_name", "")), str(values.get("first_name", "")),
                      str(values.get("middle_name", "")))
    company_ids = [int(r["company_id"]) for r in values.get("companies") or []
                   if str(r.get("company_id", "")).isdigit()]
    found: dict[int, tuple[Contact, Any]] = {}

    def collect(reason: str, ids_stmt: Any) -> None:
        stmt = select(Contact).where(Contact.id.in_(ids_stmt), Contact.deleted_at.is_(None))
        if exclude_id is not None:
            stmt = stmt.where(Contact.id != exclude_id)
        stmt = filter_query(actor.user, "view", "contact", stmt, Contact.owner_id).limit(limit)
        for contact in db.session.scalars(stmt):
            found.setdefault(contact.id, (contact, REASONS[reason]))

    if numbers:
        collect("phone", select(Phone.contact_id).where(Phone.e164.in_(numbers), Phone.contact_id.is_not(None)))
    if addresses:
        collect("email", select(Email.contact_id).where(Email.normalized.in_(addresses),
                                                        Email.contact_id.is_not(None)))
    if name and company_ids:
        collect("name", select(ContactCompany.contact_id).join(Contact, Contact.id == ContactCompany.contact_id)
                .where(ContactCompany.company_id.in_(company_ids), Contact.search_lf == name))
    return list(found.values())[:limit]


def for_contact(actor: Actor, contact: Contact) -> list[tuple[Contact, Any]]:
    values = {
        "phones": [{"raw": p.raw} for p in contact.phones],
        "emails": [{"address": e.address} for e in contact.emails],
        "first_name": contact.first_name, "last_name": contact.last_name, "middle_name": contact.middle_name,
        "companies": [{"company_id": m.company_id} for m in contact.memberships],
    }
    return for_values(actor, values, exclude_id=contact.id)
