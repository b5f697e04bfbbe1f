"""Names of the clients and deals that a page of tasks or inbox items refers to, in one statement per kind
(never one per row, and without loading the contacts' phones, emails and tags)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from core.db import db
from core.models import Contact, Deal
from core.services import companies


def linked_names(items: Iterable[Any]) -> dict[str, dict[int, str]]:
    """``{"contact": {id: name}, "company": {...}, "deal": {id: title}}`` for the ``contact_id``, ``company_id``
    and ``deal_id`` of ``items``."""
    rows = list(items)
    ids = {kind: {i for i in (getattr(r, f"{kind}_id", None) for r in rows) if i}
           for kind in ("contact", "company", "deal")}
    names: dict[str, dict[int, str]] = {"contact": {}, "company": {}, "deal": {}}
    if ids["contact"]:
        names["contact"] = {ident: Contact.name_of(first, middle, last) for ident, first, middle, last in
                            db.session.execute(select(Contact.id, Contact.first_name, Contact.middle_name,
                                                      Contact.last_name).where(Contact.id.in_(ids["contact"])))}
    if ids["company"]:
        names["company"] = companies.names_of(list(ids["company"]))
    if ids["deal"]:
        names["deal"] = dict(db.session.execute(
            select(Deal.id, Deal.title).where(Deal.id.in_(ids["deal"]))).all())
    return names
