"""Names of the clients and deals that a page of tasks or inbox items refers to, in one statement per kind
(never one per row, and without loading the contacts' phones, emails and tags)."""

from __future__ import annotations

from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select

from core.db import db
from core.models import Company, Contact, Deal, User
from core.services.clients import companies
from core.services.platform.access import filter_query

MODELS = {"contact": Contact, "company": Company, "deal": Deal}


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


def visible_names(user: User | None, items: Iterable[Any]) -> dict[str, dict[int, str]]:
    """:func:`linked_names` of only the live records ``user`` may view: a form that pre-fills or shows again a
    linked record by the id in its address or post (``/deals/new?contact_id=7``) must not print the name of a
    record the user cannot open, so an id they may not see is as good as one that does not exist."""
    rows = list(items)
    allowed: dict[str, set[int]] = {}
    for kind, model in MODELS.items():
        ids = {i for i in (getattr(r, f"{kind}_id", None) for r in rows) if isinstance(i, int) and 0 < i < 2**63}
        stmt = select(model.id).where(model.id.in_(ids), model.deleted_at.is_(None))
        allowed[kind] = set(db.session.scalars(filter_query(user, "view", kind, stmt, model.owner_id))) if ids \
            else set()
    names = linked_names(SimpleNamespace(**{f"{kind}_id": ident}) for kind, ids in allowed.items() for ident in ids)
    return names
