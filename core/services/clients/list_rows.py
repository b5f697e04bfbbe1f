"""The contact list page's rows, read as plain rows rather than ORM entities.

Nothing on a list is edited, and building 50 contacts with their phones, emails, tags and companies as entities
(joined into one wide result whose every row the ORM de-duplicates and decodes, custom fields' JSON included) was
the largest single cost of the page. Here the page is one narrow statement of the shown columns, then one
statement per column the reader chose to see (phones, emails, companies, tags), each for the whole page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from core.db import db
from core.models import Company, Contact, ContactCompany, Email, Phone, Tag, User
from core.models.contacts import contact_tags
from core.services.clients import listing


@dataclass(frozen=True)
class PhoneRow:
    e164: str | None
    raw: str
    valid: bool


@dataclass
class ContactRow:
    """A contact as its list shows it."""

    id: int
    first_name: str
    middle_name: str
    last_name: str
    city: str
    source: str
    owner_id: int | None
    created_at: datetime
    last_activity_at: datetime | None
    search_lf: str
    phones: list[PhoneRow] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    companies: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    @property
    def display_name(self) -> str:
        return Contact.name_of(self.first_name, self.middle_name, self.last_name)


COLUMNS = (Contact.id, Contact.first_name, Contact.middle_name, Contact.last_name, Contact.city, Contact.source,
           Contact.owner_id, Contact.created_at, Contact.last_activity_at, Contact.search_lf)


def contact_page(query: listing.ListQuery, user: User | None, shown: Iterable[str]) -> listing.Page:
    """A page of the contact list with what the ``shown`` columns need (``phone``, ``email``, ``company``,
    ``tags``; the rest are the contact's own columns)."""
    stmt, sort = listing.keyset_statement(listing.CONTACTS, select(*COLUMNS), query, user)
    rows = [ContactRow(**row._mapping) for row in db.session.execute(stmt)]  # fields named as the columns
    page = listing.cut(rows, query, sort)
    by_id = {row.id: row for row in page.rows}
    if not by_id:
        return page
    shown = set(shown)
    ids = list(by_id)
    if "phone" in shown:
        for contact_id, e164, raw, valid in db.session.execute(
                select(Phone.contact_id, Phone.e164, Phone.raw, Phone.valid).where(Phone.contact_id.in_(ids))
                .order_by(Phone.contact_id, Phone.position, Phone.id)):
            by_id[contact_id].phones.append(PhoneRow(e164, raw, valid))
    if "email" in shown:
        _collect(by_id, "emails", select(Email.contact_id, Email.address).where(Email.contact_id.in_(ids))
                 .order_by(Email.contact_id, Email.position, Email.id))
    if "company" in shown:
        _collect(by_id, "companies", select(ContactCompany.contact_id, Company.name)
                 .join(Company, Company.id == ContactCompany.company_id)
                 .where(ContactCompany.contact_id.in_(ids))
                 .order_by(ContactCompany.contact_id, ContactCompany.position, Company.id))
    if "tags" in shown:
        _collect(by_id, "tags", select(contact_tags.c.contact_id, Tag.name)
                 .join(Tag, Tag.id == contact_tags.c.tag_id)
                 .where(contact_tags.c.contact_id.in_(ids)).order_by(contact_tags.c.contact_id, Tag.key))
    return page


def _collect(by_id: dict[int, ContactRow], attribute: str, stmt: Any) -> None:
    found: dict[int, list[str]] = defaultdict(list)
    for contact_id, value in db.session.execute(stmt):
        found[contact_id].append(value)
    for contact_id, values in found.items():
        setattr(by_id[contact_id], attribute, values)
