"""Contacts: create, change, delete (soft, undoable), reassign and tag — with permissions, validation, audit
and the owner history on the timeline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from core.db import db, savepoint
from core.models import Company, Contact, ContactCompany, utcnow
from core.plugins.events import ContactCreated, ContactUpdated
from core.services.clients import client_fields, custom_fields
from core.services.platform import audit, events, loading, ownership
from core.services.platform.access import AccessDenied, can, require
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.services.platform.text import search_key

TEXT = ("first_name", "middle_name", "last_name", "job_title", "city", "region", "source")
ENTITY = "contact"


def get(actor: Actor, contact_id: int, action: str = "view") -> Contact:
    """The contact, if it exists, is not deleted and ``actor`` may ``action`` it; else :class:`LookupError`
    (not found) or :class:`AccessDenied`."""
    # the contact with everything its card shows: phones and emails joined in; tags and companies (each a join of
    # two tables) joined too on PostgreSQL, but loaded apart on SQLite, whose planner would otherwise materialise
    # every tag link and company membership of the database (0.7 s per card at 100k contacts)
    contact = db.session.execute(
        select(Contact).where(Contact.id == contact_id)
        .options(joinedload(Contact.phones), joinedload(Contact.emails),
                 *loading.with_related(Contact.tags, Contact.memberships))
    ).unique().scalar_one_or_none()
    if contact is None or contact.deleted_at is not None:
        raise LookupError(contact_id)
    require(actor.user, action, ENTITY, contact)
    return contact


def snapshot(contact: Contact) -> dict[str, Any]:
    return {
        **{name: getattr(contact, name) for name in TEXT},
        "birthday": contact.birthday.isoformat() if contact.birthday else None,
        "notes": contact.notes,
        "owner_id": contact.owner_id,
        "team_id": contact.team_id,
        "phones": [p.raw for p in contact.phones],
        "emails": [e.address for e in contact.emails],
        "tags": [t.name for t in contact.tags],
        "companies": [m.company_id for m in contact.memberships],
        "custom": dict(contact.custom or {}),
    }


def _memberships(items: list[dict[str, Any]], errors: dict[str, Any], actor: Actor,
                 loose_titles: list[str] | None = None) -> list[ContactCompany]:
    """The contact's places in companies. A job title typed in a row without a company is not dropped: it is
    collected in ``loose_titles`` (the caller keeps it as the contact's own job title)."""
    result: list[ContactCompany] = []
    seen: set[int] = set()
    for index, item in enumerate(items[: client_fields.MAX_ITEMS]):
        raw_id = item.get("company_id")
        if raw_id in (None, ""):
            title = client_fields.clean(str(item.get("job_title") or ""), 200)
            if title and loose_titles is not None:
                loose_titles.append(title)
            continue
        try:
            company = db.session.get(Company, int(raw_id))
        except (TypeError, ValueError):
            company = None
        if company is None or company.deleted_at is not None or not can(actor.user, "view", "company", company):
            errors[f"companies.{index}"] = _l("Choose a company from the list.")
            continue
        if company.id in seen:
            continue
        seen.add(company.id)
        result.append(ContactCompany(company_id=company.id,
                                     job_title=client_fields.clean(str(item.get("job_title") or ""), 200),
                                     position=len(result)))
    return result


def save(actor: Actor, contact: Contact | None, values: dict[str, Any], *, partial: bool = False,
         keep_unparsed_phones: bool = False) -> Contact:
    """Create (``contact=None``) or change a contact from typed ``values``.

    With ``partial`` only the keys present are changed (inline edit, API PATCH). Raises :class:`InvalidInput`
    naming every bad field; nothing is written then.
    """
    if contact is None:
        require(actor.user, "create", ENTITY)
    else:
        require(actor.user, "edit", ENTITY, contact)
    with savepoint() as attempt:  # refused input undoes this save only, not the caller's work
        errors: dict[str, Any] = {}
        target = contact or Contact(memberships=[])  # known empty: no query for it after the insert
        before = snapshot(contact) if contact is not None else {}

        for name, value in client_fields.text_fields(values, TEXT).items():
            setattr(target, name, value)
        if "birthday" in values:
            target.birthday = _birthday(values.get("birthday"), errors)
        client_fields.apply_common(target, values, entity=ENTITY, is_new=contact is None, partial=partial,
                                   keep_unparsed=keep_unparsed_phones, errors=errors)
        if not partial or "companies" in values:
            loose_titles: list[str] = []
            memberships = _memberships(list(values.get("companies") or []), errors, actor, loose_titles)
            for title in loose_titles:  # a job title typed without a company: the contact's own job title
                if not target.job_title:
                    target.job_title = title
                elif title.casefold() not in target.job_title.casefold():
                    target.job_title = client_fields.clean(f"{target.job_title}, {title}", 200)
            if [(m.company_id, m.job_title) for m in target.memberships] != [(m.company_id, m.job_title)
                                                                             for m in memberships]:
                target.memberships = memberships
        if not partial or "owner_id" in values:
            target.owner_id = client_fields.resolve_owner(actor, ENTITY, values.get("owner_id"),
                                                          contact.owner_id if contact else None, errors)
        if contact is None or "owner_id" in values:
            target.team_id = client_fields.team_of(target.owner_id)

        if not (target.first_name or target.last_name or target.middle_name):
            if target.emails or target.phones:
                pass  # a number or address alone is enough to keep someone who called
            else:
                errors["first_name"] = _l("Give at least a name, a phone or an email.")
        if errors:
            raise InvalidInput(errors)

        refresh_search_keys(target)
        if contact is None:
            db.session.add(target)
            db.session.flush()
            audit.record(actor, "contact.created", ENTITY, target.id, snapshot(target))
            events.emit(ContactCreated(subject_id=target.id, origin=actor.origin, owner_id=target.owner_id,
                                       company_id=target.memberships[0].company_id if target.memberships else None))
        else:
            after = snapshot(target)
            changes = audit.diff(before, after)
            if not changes:
                attempt.rollback()
                return target
            target.updated_at = utcnow()
            audit.record(actor, "contact.updated", ENTITY, target.id, changes)
            events.emit(ContactUpdated(subject_id=target.id, origin=actor.origin, changed=tuple(sorted(changes)),
                                       owner_id=target.owner_id))
            if "owner_id" in changes:
                _owner_history(actor, target, before["owner_id"], after["owner_id"])
    return target


def refresh_search_keys(contact: Contact) -> None:
    contact.search_lf = search_key(contact.last_name, contact.first_name, contact.middle_name)
    # "Иван Петров" is how people type a name after the first name; "Петров Иван Сергеевич" is the other way
    contact.search_fl = search_key(contact.first_name, contact.last_name, contact.middle_name)


def _birthday(value: Any, errors: dict[str, Any]) -> Any:
    if value in (None, ""):
        return None
    try:
        day = custom_fields.parse_date(value)
    except ValueError:
        errors["birthday"] = _l("Enter the birthday as DD.MM.YYYY.")
        return None
    if day > utcnow().date() or day.year < 1900:
        errors["birthday"] = _l("The birthday must be a past date after 1900.")
        return None
    return day


def _owner_history(actor: Actor, contact: Contact, old: int | None, new: int | None) -> None:
    ownership.record(actor, ENTITY, contact.id, old, new, "")


def delete(actor: Actor, ids: Sequence[int]) -> list[int]:
    """Soft-delete the contacts ``actor`` may delete; returns their ids (for the undo toast)."""
    return client_fields.set_deleted(actor, Contact, ENTITY, ids, True)


def restore(actor: Actor, ids: Sequence[int]) -> list[int]:
    """Bring deleted contacts back (not those merged into another: undo the merge for them)."""
    return client_fields.set_deleted(actor, Contact, ENTITY, ids, False, Contact.merged_into_id.is_(None))


def reassign(actor: Actor, ids: Sequence[int], owner_id: int) -> list[int]:
    """Give contacts to another owner (needs ``assign``); each contact's history records the change."""
    from core.services.clients import client_bulk

    return client_bulk.give_to(actor, Contact, ENTITY, ids, owner_id)


def add_tags(actor: Actor, ids: Sequence[int], names: Sequence[str]) -> list[int]:
    from core.services.clients import client_bulk

    return client_bulk.add_tags(actor, Contact, ENTITY, ids, names)


def touch_activity(contact_ids: Sequence[int], when: Any = None) -> None:
    """Record that something happened with these contacts (for the "no activity for N days" highlight)."""
    if contact_ids:
        db.session.execute(update(Contact).where(Contact.id.in_(list(contact_ids)))
                           .values(last_activity_at=when or utcnow()))


__all__ = ["AccessDenied", "add_tags", "delete", "get", "reassign", "restore", "save", "snapshot"]
