"""Whom an incoming call should ring, answered while the PBX waits (a few hundred milliseconds at most).

A known caller rings their own manager first: the owner of the contact (or of the company) with that number, by
their extension. Anyone else — an unknown number, a manager who left or has no extension — gets no opinion, and the
PBX follows its own scenario (its queue, its IVR). The lookups are one indexed statement on the phone and the
process's cached directory of people: no user row is read while the PBX waits."""

from __future__ import annotations

from sqlalchemy import select

from core.db import db
from core.models import Company, Contact, Phone
from core.plugins.facades import default_phone_region
from core.plugins.providers import IncomingCall, RouteAnswer
from core.services.clients import phones
from core.services.users.directory import by_id


def owner_first(call: IncomingCall) -> RouteAnswer | None:
    if not call.from_number:
        return None
    number = phones.parse(call.from_number, default_phone_region()).e164
    if number is None:
        return None
    row = db.session.execute(
        select(Contact.owner_id, Contact.first_name, Contact.middle_name, Contact.last_name, Company.owner_id,
               Company.name)
        .select_from(Phone).outerjoin(Contact, (Contact.id == Phone.contact_id) & Contact.deleted_at.is_(None))
        .outerjoin(Company, (Company.id == Phone.company_id) & Company.deleted_at.is_(None))
        .where(Phone.e164 == number, (Contact.id.is_not(None)) | (Company.id.is_not(None)))
        .order_by(Phone.contact_id.is_(None), Phone.contact_id, Phone.company_id).limit(1)).first()
    if row is None:
        return None
    contact_owner, first, middle, last, company_owner, company_name = row
    owner_id = contact_owner if contact_owner is not None else company_owner
    name = (Contact.name_of(first or "", middle or "", last or "") if first or middle or last else company_name) or None
    person = by_id().get(owner_id) if owner_id is not None else None
    if person is None:  # nobody's client, or their manager is no longer active: the PBX decides
        return None
    return RouteAnswer(extensions=(person.extension,) if person.extension else (), user_ids=(person.id,),
                       caller_name=name)
