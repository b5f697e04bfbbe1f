"""Merging duplicate contacts into one, and undoing it.

The kept contact takes the chosen value of each field; phones, emails, tags, companies and custom values of
the others are added to it; every timeline entry moves over; the others are soft-deleted and point to the kept
one. Everything needed to undo is stored on the "merge" timeline entry, and the merge is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from core.db import db
from core.models import Activity, Contact, ContactCompany, Email, Phone, utcnow
from core.plugins.events import ContactMerged, ContactUnmerged
from core.services.clients import contacts
from core.services.platform import audit, events
from core.services.platform.access import filter_query, require
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput

FIELDS = ("first_name", "middle_name", "last_name", "job_title", "birthday", "city", "region", "source", "notes",
          "owner_id")


def candidate_groups(actor: Actor, limit: int = 50) -> list[tuple[str, list[Contact]]]:
    """Groups of live contacts (that ``actor`` may see) sharing a phone or an email."""
    groups: list[tuple[str, list[Contact]]] = []
    visible = filter_query(actor.user, "view", "contact", select(Contact.id).where(Contact.deleted_at.is_(None)),
                           Contact.owner_id)
    for column, owner, label in ((Phone.e164, Phone.contact_id, "phone"),
                                 (Email.normalized, Email.contact_id, "email")):
        shared = (select(column).where(owner.in_(visible), column.is_not(None))
                  .group_by(column).having(func.count(func.distinct(owner)) > 1).limit(limit))
        for (value,) in db.session.execute(shared):
            ids = select(owner).where(column == value, owner.in_(visible))
            people = list(db.session.scalars(select(Contact).where(Contact.id.in_(ids)).order_by(Contact.id)))
            groups.append((f"{label}: {value}", people))
    return groups[:limit]


def absorb_contact_points(keep: Any, others: Sequence[Any]) -> tuple[list[Phone], list[Email]]:
    """Copy the others' phones and emails the kept record lacks onto it; returns the copies (for undo)."""
    added_phones: list[Phone] = []
    added_emails: list[Email] = []
    known_numbers = {p.e164 or p.raw for p in keep.phones}
    known_addresses = {e.normalized for e in keep.emails}
    for other in others:
        for phone in other.phones:
            if (phone.e164 or phone.raw) not in known_numbers:
                copy = Phone(kind=phone.kind, raw=phone.raw, e164=phone.e164, digits_rev=phone.digits_rev,
                             valid=phone.valid, position=len(keep.phones))
                keep.phones.append(copy)
                added_phones.append(copy)
                known_numbers.add(phone.e164 or phone.raw)
        for email in other.emails:
            if email.normalized not in known_addresses:
                copy = Email(kind=email.kind, address=email.address, normalized=email.normalized, valid=email.valid,
                             position=len(keep.emails))
                keep.emails.append(copy)
                added_emails.append(copy)
                known_addresses.add(email.normalized)
        keep.tags = [*keep.tags, *[t for t in other.tags if t not in keep.tags]]
        keep.custom = {**{k: v for k, v in (other.custom or {}).items() if v not in (None, "", [])},
                       **{k: v for k, v in (keep.custom or {}).items() if v not in (None, "", [])}}
    return added_phones, added_emails


def choose_fields(keep: Any, others: Sequence[Any], fields: Sequence[str], chosen: dict[str, int]) -> None:
    """Give ``keep`` each field's value from the record ``chosen`` names (empty values are filled from any)."""
    by_id = {r.id: r for r in [keep, *others]}
    for field in fields:
        source = by_id.get(chosen.get(field, keep.id), keep)
        value = getattr(source, field)
        if value in (None, "") and field != "owner_id":
            value = next((getattr(r, field) for r in [keep, *others] if getattr(r, field) not in (None, "")), value)
        setattr(keep, field, value)


def drop_added(keep: Any, data: dict[str, Any]) -> None:
    """Undo :func:`absorb_contact_points`: remove the copies, restore tags and custom values."""
    keep.phones = [p for p in keep.phones if p.id not in set(data["added_phones"])]
    keep.emails = [e for e in keep.emails if e.id not in set(data["added_emails"])]
    keep.tags = [t for t in keep.tags if t.name in set(data["tags_before"])]
    keep.custom = data["before"].get("custom", {})


def move_entries(owner: Any, from_ids: list[int], to_id: int) -> list[list[int]]:
    """Move the timeline entries of the merged records to the kept one; returns [entry id, old owner] pairs."""
    moved = [[activity_id, owner_id] for activity_id, owner_id in db.session.execute(
        select(Activity.id, owner).where(owner.in_(from_ids)))]
    db.session.execute(update(Activity).where(owner.in_(from_ids)).values({owner.key: to_id}))
    return moved


def return_entries(owner: Any, moved: list[list[int]]) -> None:
    """Undo :func:`move_entries`: every entry goes back to the record it came from."""
    back: dict[int, list[int]] = {}
    for activity_id, owner_id in moved:
        back.setdefault(owner_id, []).append(activity_id)
    for owner_id, ids in back.items():
        db.session.execute(update(Activity).where(Activity.id.in_(ids)).values({owner.key: owner_id}))


def bring_back(model: Any, ids: list[int]) -> None:
    for record in db.session.scalars(select(model).where(model.id.in_(ids))):
        record.deleted_at, record.merged_into_id = None, None


def merge(actor: Actor, keep_id: int, other_ids: Sequence[int], chosen: dict[str, int]) -> Activity:
    """Merge ``other_ids`` into ``keep_id``; ``chosen`` names, per field, the contact whose value to keep."""
    keep = contacts.get(actor, keep_id, "edit")
    others = [contacts.get(actor, i, "delete") for i in dict.fromkeys(other_ids) if i != keep_id]
    if not others:
        raise InvalidInput({"ids": _l("Choose at least two different contacts to merge.")})
    before = {**contacts.snapshot(keep), "birthday": keep.birthday.isoformat() if keep.birthday else None}
    choose_fields(keep, others, FIELDS, chosen)
    if "owner_id" in chosen and keep.owner_id != before["owner_id"]:
        require(actor.user, "assign", "contact")

    added_phones, added_emails = absorb_contact_points(keep, others)
    added_memberships = []
    known_companies = {m.company_id for m in keep.memberships}
    for other in others:
        for membership in other.memberships:
            if membership.company_id not in known_companies:
                added_memberships.append(membership.company_id)
                keep.memberships.append(ContactCompany(company_id=membership.company_id,
                                                       job_title=membership.job_title))
                known_companies.add(membership.company_id)
    contacts.refresh_search_keys(keep)
    db.session.flush()

    other_list = [o.id for o in others]
    moved = move_entries(Activity.contact_id, other_list, keep.id)
    now = utcnow()
    for other in others:
        other.deleted_at, other.merged_into_id = now, keep.id
    record = Activity(kind="merge", contact_id=keep.id, author_id=actor.user_id, occurred_at=now, source="core",
                      data={"merged": other_list, "before": before, "moved": moved,
                            "added_phones": [p.id for p in added_phones], "added_emails": [e.id for e in added_emails],
                            "added_companies": added_memberships, "tags_before": before["tags"]})
    db.session.add(record)
    db.session.flush()
    audit.record(actor, "contact.merged", "contact", keep.id, {"merged": other_list, "moved_entries": len(moved)})
    events.emit(ContactMerged(subject_id=keep.id, origin=actor.origin, merged_ids=tuple(other_list)))
    db.session.flush()
    return record


def undo(actor: Actor, merge_id: int) -> Contact:
    """Reverse a merge: restore the kept contact's fields, move entries back, bring the others back."""
    record = db.session.get(Activity, merge_id)
    if record is None or record.kind != "merge" or record.data.get("undone"):
        raise LookupError(merge_id)
    keep = contacts.get(actor, record.contact_id or 0, "edit")
    data = dict(record.data)
    before = data["before"]
    from core.services.clients.custom_fields import parse_date

    for field in FIELDS:
        value = before.get(field)
        if field == "birthday":
            value = parse_date(value) if value else None
        setattr(keep, field, value)
    drop_added(keep, data)
    keep.memberships = [m for m in keep.memberships if m.company_id not in set(data["added_companies"])]
    contacts.refresh_search_keys(keep)
    return_entries(Activity.contact_id, data["moved"])
    bring_back(Contact, data["merged"])
    record.data = {**data, "undone": True}
    audit.record(actor, "contact.merge_undone", "contact", keep.id, {"merged": data["merged"]})
    events.emit(ContactUnmerged(subject_id=keep.id, origin=actor.origin, restored_ids=tuple(data["merged"])))
    db.session.flush()
    return keep

