"""Merging duplicate companies into one, and undoing it: the kept company takes the chosen values, every person
and timeline entry of the others moves to it, their phones, emails, tags and custom values are added, and the
others are removed (pointing to the kept one). The merge entry on the timeline holds what undo needs."""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from core.db import db
from core.models import Activity, Company, ContactCompany, Email, Phone, utcnow
from core.plugins.events import CompanyMerged, CompanyUnmerged
from core.services.clients import companies
from core.services.clients.merge import (
    absorb_contact_points,
    bring_back,
    choose_fields,
    drop_added,
    move_entries,
    return_entries,
)
from core.services.platform import audit, events
from core.services.platform.access import filter_query, require
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.services.platform.text import company_key

FIELDS = ("name", "industry", "website", "city", "region", "source", "notes", "owner_id")


def candidate_groups(actor: Actor, limit: int = 50) -> list[tuple[str, list[Company]]]:
    """Live companies (that ``actor`` may see) sharing a phone, an email or the same name."""
    visible = filter_query(actor.user, "view", "company", select(Company.id).where(Company.deleted_at.is_(None)),
                           Company.owner_id)
    groups: list[tuple[str, list[Company]]] = []
    for column, owner, label in ((Phone.e164, Phone.company_id, "phone"),
                                 (Email.normalized, Email.company_id, "email"),
                                 (Company.search_name, Company.id, "name")):
        shared = (select(column).where(owner.in_(visible), column.is_not(None), column != "")
                  .group_by(column).having(func.count(func.distinct(owner)) > 1).limit(limit))
        for (value,) in db.session.execute(shared):
            ids = select(owner).where(column == value, owner.in_(visible))
            found = list(db.session.scalars(select(Company).where(Company.id.in_(ids)).order_by(Company.id)))
            groups.append((f"{label}: {value}", found))
    return groups[:limit]


def merge(actor: Actor, keep_id: int, other_ids: Sequence[int], chosen: dict[str, int]) -> Activity:
    keep = companies.get(actor, keep_id, "edit")
    others = [companies.get(actor, i, "delete") for i in dict.fromkeys(other_ids) if i != keep_id]
    if not others:
        raise InvalidInput({"ids": _l("Choose at least two different companies to merge.")})
    before = companies.snapshot(keep)
    choose_fields(keep, others, FIELDS, chosen)
    if keep.owner_id != before["owner_id"]:
        require(actor.user, "assign", "company")
    added_phones, added_emails = absorb_contact_points(keep, others)
    keep.search_name = company_key(keep.name)

    other_list = [o.id for o in others]
    members = {m.contact_id for m in keep.memberships}
    moved_people = []
    for membership in db.session.scalars(select(ContactCompany).where(ContactCompany.company_id.in_(other_list))):
        created = membership.contact_id not in members
        if created:
            db.session.add(ContactCompany(contact_id=membership.contact_id, company_id=keep.id,
                                          job_title=membership.job_title, position=membership.position))
            members.add(membership.contact_id)
        moved_people.append([membership.contact_id, membership.company_id, membership.job_title, created])
        db.session.delete(membership)
    moved = move_entries(Activity.company_id, other_list, keep.id)
    now = utcnow()
    for other in others:
        other.deleted_at, other.merged_into_id = now, keep.id
    record = Activity(kind="merge", company_id=keep.id, author_id=actor.user_id, occurred_at=now, source="core",
                      data={"merged": other_list, "before": before, "moved": moved, "people": moved_people,
                            "added_phones": [p.id for p in added_phones], "added_emails": [e.id for e in added_emails],
                            "tags_before": before["tags"]})
    db.session.add(record)
    db.session.flush()
    audit.record(actor, "company.merged", "company", keep.id,
                 {"merged": other_list, "moved_entries": len(moved), "moved_people": len(moved_people)})
    events.emit(CompanyMerged(subject_id=keep.id, origin=actor.origin, merged_ids=tuple(other_list)))
    db.session.flush()
    return record


def undo(actor: Actor, merge_id: int) -> Company:
    record = db.session.get(Activity, merge_id)
    if record is None or record.kind != "merge" or record.company_id is None or record.data.get("undone"):
        raise LookupError(merge_id)
    keep = companies.get(actor, record.company_id, "edit")
    data = dict(record.data)
    for field in FIELDS:
        setattr(keep, field, data["before"].get(field))
    drop_added(keep, data)
    keep.search_name = company_key(keep.name)
    for contact_id, company_id, job_title, created in data["people"]:
        if created:
            db.session.execute(ContactCompany.__table__.delete().where(
                ContactCompany.contact_id == contact_id, ContactCompany.company_id == keep.id))
        db.session.add(ContactCompany(contact_id=contact_id, company_id=company_id, job_title=job_title))
    return_entries(Activity.company_id, data["moved"])
    bring_back(Company, data["merged"])
    record.data = {**data, "undone": True}
    audit.record(actor, "company.merge_undone", "company", keep.id, {"merged": data["merged"]})
    events.emit(CompanyUnmerged(subject_id=keep.id, origin=actor.origin, restored_ids=tuple(data["merged"])))
    db.session.flush()
    return keep
