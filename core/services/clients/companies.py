"""Companies: create, change, delete (soft, undoable) — the organisations contacts belong to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.db import db, savepoint
from core.models import Company, Contact, ContactCompany, utcnow
from core.plugins.events import CompanyCreated, CompanyUpdated
from core.services.clients import client_fields
from core.services.platform import audit, events, ownership
from core.services.platform.access import require
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.services.platform.text import company_key

TEXT = ("name", "industry", "website", "city", "region", "source")
ENTITY = "company"


def get(actor: Actor, company_id: int, action: str = "view") -> Company:
    company = db.session.get(Company, company_id)
    if company is None or company.deleted_at is not None:
        raise LookupError(company_id)
    require(actor.user, action, ENTITY, company)
    return company


def people(company_id: int, limit: int = 50) -> list[tuple[int, str]]:
    """The company's people (not deleted), by name, as ``(id, name)``: one statement, whatever their number."""
    rows = db.session.execute(
        select(Contact.id, Contact.first_name, Contact.middle_name, Contact.last_name)
        .join(ContactCompany, ContactCompany.contact_id == Contact.id)
        .where(ContactCompany.company_id == company_id, Contact.deleted_at.is_(None))
        .order_by(Contact.search_lf, Contact.id).limit(limit))
    return [(ident, Contact.name_of(first, middle, last)) for ident, first, middle, last in rows]


def names_of(ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(Company.id, Company.name).where(Company.id.in_(list(ids)))).all())


def snapshot(company: Company) -> dict[str, Any]:
    return {
        **{name: getattr(company, name) for name in TEXT},
        "notes": company.notes,
        "owner_id": company.owner_id,
        "phones": [p.raw for p in company.phones],
        "emails": [e.address for e in company.emails],
        "tags": [t.name for t in company.tags],
        "custom": dict(company.custom or {}),
    }


def save(actor: Actor, company: Company | None, values: dict[str, Any], *, partial: bool = False,
         keep_unparsed_phones: bool = False) -> Company:
    if company is None:
        require(actor.user, "create", ENTITY)
    else:
        require(actor.user, "edit", ENTITY, company)
    with savepoint() as attempt:  # refused input undoes this save only, not the caller's work
        errors: dict[str, Any] = {}
        target = company or Company()
        before = snapshot(company) if company is not None else {}
        for name, value in client_fields.text_fields(values, TEXT).items():
            setattr(target, name, value)
        if "website" in values and target.website and not target.website.startswith(("http://", "https://")):
            target.website = f"https://{target.website}"
        client_fields.apply_common(target, values, entity=ENTITY, is_new=company is None, partial=partial,
                                   keep_unparsed=keep_unparsed_phones, errors=errors)
        if not partial or "owner_id" in values:
            target.owner_id = client_fields.resolve_owner(actor, ENTITY, values.get("owner_id"),
                                                          company.owner_id if company else None, errors)
        if company is None or "owner_id" in values:
            target.team_id = client_fields.team_of(target.owner_id)
        if not target.name:
            errors["name"] = _l("Give the company a name.")
        if errors:
            raise InvalidInput(errors)
        target.search_name = company_key(target.name)
        if company is None:
            db.session.add(target)
            db.session.flush()
            audit.record(actor, "company.created", ENTITY, target.id, snapshot(target))
            events.emit(CompanyCreated(subject_id=target.id, origin=actor.origin, owner_id=target.owner_id))
        else:
            changes = audit.diff(before, snapshot(target))
            if not changes:
                attempt.rollback()
                return target
            target.updated_at = utcnow()
            audit.record(actor, "company.updated", ENTITY, target.id, changes)
            events.emit(CompanyUpdated(subject_id=target.id, origin=actor.origin, changed=tuple(sorted(changes)),
                                       owner_id=target.owner_id))
            if "owner_id" in changes:  # owner history and company_reassigned, as for contacts
                ownership.record(actor, ENTITY, target.id, before["owner_id"], target.owner_id, "")
    return target


def delete(actor: Actor, ids: Sequence[int]) -> list[int]:
    return client_fields.set_deleted(actor, Company, ENTITY, ids, True)


def restore(actor: Actor, ids: Sequence[int]) -> list[int]:
    return client_fields.set_deleted(actor, Company, ENTITY, ids, False)


def reassign(actor: Actor, ids: Sequence[int], owner_id: int) -> list[int]:
    """Give companies to another owner (needs ``assign``); each company's history records the change."""
    from core.services.clients import client_bulk

    return client_bulk.give_to(actor, Company, ENTITY, ids, owner_id)


def add_tags(actor: Actor, ids: Sequence[int], names: Sequence[str]) -> list[int]:
    from core.services.clients import client_bulk

    return client_bulk.add_tags(actor, Company, ENTITY, ids, names)
