"""The import engine: reads a batch's file in chunks and writes each chunk, with its rows' outcomes and the new
position, in one transaction.

Per chunk it costs a handful of statements whatever its size: one lookup each for phones, emails and external ids
already in the database, one for the contacts found, bulk inserts of the new contacts, their phones, emails, tags,
companies and memberships, and one insert of the outcomes. Memory holds one chunk (plus, in a dry run, the keys
seen so far, since nothing is written for later chunks to find).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import lazyload, selectinload

from core.db import db
from core.models import Company, Contact, ContactCompany, Email, ImportBatch, ImportRow, Phone, User, utcnow
from core.models.contacts import contact_tags
from core.services.clients import client_fields
from core.services.clients.contacts import refresh_search_keys
from core.services.platform.access import can
from core.services.platform.context import Actor
from core.services.platform.text import search_key
from core.services.transfer import import_mapping
from core.services.transfer.bulk import among, insert_returning_ids, insert_rows
from core.services.transfer.import_rows import Draft, kept_in_notes

CHUNK = 2000
Key = tuple[str, str]


@dataclass
class _New:
    """A contact this chunk will create, and the later rows of the chunk merged into it."""

    draft: Draft
    rows: list[dict[str, Any]] = field(default_factory=list)


class Engine:
    """Applies chunks of one batch. ``apply`` commits nothing; the caller commits chunk by chunk."""

    def __init__(self, batch: ImportBatch, actor: Actor, custom: Sequence[Any]) -> None:
        self.batch = batch
        self.actor = actor
        self.labels = import_mapping.field_labels(custom)
        self.may_assign = can(actor.user, "assign", "contact")
        self.user_id = actor.user_id  # read once: the user row expires at every chunk's commit
        self.users = self._users() if "owner" in batch.mapping else {}
        self.teams: dict[int | None, int | None] = {}
        self.seen: dict[Key, int] = {}  # dry runs only: keys of rows that would be created, across chunks

    @staticmethod
    def _users() -> dict[str, int]:
        found: dict[str, int] = {}
        for user in db.session.scalars(select(User).where(User.is_active.is_(True))):
            found[search_key(user.email)] = user.id
            found.setdefault(search_key(user.display_name), user.id)
        return found

    # --- one chunk ---------------------------------------------------------------------------------------

    def apply(self, chunk: Sequence[tuple[int, Sequence[Any], Draft | None]]) -> None:
        """Match and write one chunk of ``(row number, cells, draft)``; a blank row's draft is ``None``."""
        batch = self.batch
        cells_of = {number: cells for number, cells, _draft in chunk}
        drafts = [draft for _number, _cells, draft in chunk if draft is not None]
        found = self._lookup([k for d in drafts for k in d.match_keys()])
        created_here = self._created_by_batch(set(found.values()))
        # contacts made by this file merge in bulk; others are loaded only when the policy may change them
        contacts = self._contacts(set(found.values()) - created_here) if batch.on_duplicate != "skip" else {}
        merges: dict[int, Draft] = {}  # contact created by an earlier chunk -> what later rows add to it
        new: list[_New] = []
        new_keys: dict[Key, _New] = {}
        outcomes: list[dict[str, Any]] = []

        for draft in drafts:
            row: dict[str, Any] = {"batch_id": batch.id, "number": draft.number, "action": "error",
                                   "record_id": None, "before": None, "summary": None}
            outcomes.append(row)
            if batch.dry_run:
                row["summary"] = draft.summary()
            if draft.has_errors and (not batch.keep_invalid or not (draft.has_name or draft.phones or draft.emails)):
                batch.failed += 1
                continue
            keys = draft.match_keys()
            pending = next((new_keys[k] for k in keys if k in new_keys), None)
            if pending is None and batch.dry_run:
                earlier = next((self.seen[k] for k in keys if k in self.seen), None)
                if earlier is not None:
                    row["action"], row["summary"]["merged_into_row"] = "merge", earlier
                    batch.merged += 1
                    continue
            if pending is not None:
                self._merge_drafts(pending.draft, draft)
                pending.rows.append(row)
                row["action"] = "merge"
                if batch.dry_run:
                    row["summary"]["merged_into_row"] = pending.draft.number
                batch.merged += 1
                for key in keys:
                    new_keys.setdefault(key, pending)
                continue
            existing_id = next((found[k] for k in keys if k in found), None)
            if existing_id is not None and existing_id in created_here:
                row["action"], row["record_id"] = "merge", existing_id
                batch.merged += 1
                if existing_id in merges:
                    self._merge_drafts(merges[existing_id], draft)
                else:
                    merges[existing_id] = draft
                continue
            if existing_id is not None:
                self._existing(row, draft, existing_id, contacts.get(existing_id))
                continue
            entry = _New(draft, [row])
            new.append(entry)
            row["action"] = "create"
            batch.created += 1
            for key in keys:
                new_keys.setdefault(key, entry)
                if batch.dry_run:
                    self.seen.setdefault(key, draft.number)

        if not batch.dry_run:
            self._insert(new)
            self._merge_into_created(merges)
        problems = {d.number: d.problems for d in drafts if d.problems}
        kept = []
        for row in outcomes:
            found_problems = problems.get(row["number"])
            row["problems"] = found_problems or None
            row["cells"] = [_json_cell(c) for c in cells_of[row["number"]]] if found_problems else None
            if found_problems and row["action"] != "error":
                batch.flagged += 1
            if batch.dry_run or found_problems or row["action"] not in ("create", "merge"):
                kept.append(row)  # a clean new (or merged) contact is told by its import_batch_id
        insert_rows(ImportRow.__table__, kept)
        batch.rows += len(drafts)
        batch.position = chunk[-1][0] if chunk else batch.position

    # --- matching ----------------------------------------------------------------------------------------

    @staticmethod
    def _lookup(keys: list[Key]) -> dict[Key, int]:
        """Live contacts already holding these external ids, phones or emails."""
        by_kind: dict[str, set[str]] = {"x": set(), "p": set(), "e": set(), "d": set()}
        for kind, value in keys:
            by_kind[kind].add(value)
        found: dict[Key, int] = {}
        live = Contact.deleted_at.is_(None)
        if by_kind["x"]:
            for external_id, contact_id in db.session.execute(
                    select(Contact.external_id, Contact.id).where(among(Contact.external_id, by_kind["x"]), live)):
                found.setdefault(("x", external_id), contact_id)
        if by_kind["p"]:
            for e164, contact_id in db.session.execute(
                    select(Phone.e164, Phone.contact_id).join(Contact, Contact.id == Phone.contact_id)
                    .where(among(Phone.e164, by_kind["p"]), live).order_by(Phone.contact_id)):
                found.setdefault(("p", e164), contact_id)
        if by_kind["e"]:
            for normalized, contact_id in db.session.execute(
                    select(Email.normalized, Email.contact_id).join(Contact, Contact.id == Email.contact_id)
                    .where(among(Email.normalized, by_kind["e"]), live).order_by(Email.contact_id)):
                found.setdefault(("e", normalized), contact_id)
        if by_kind["d"]:
            for digits_rev, contact_id in db.session.execute(
                    select(Phone.digits_rev, Phone.contact_id).join(Contact, Contact.id == Phone.contact_id)
                    .where(among(Phone.digits_rev, by_kind["d"]), Phone.e164.is_(None), live)
                    .order_by(Phone.contact_id)):
                found.setdefault(("d", digits_rev), contact_id)
        return found

    @staticmethod
    def _contacts(ids: set[int]) -> dict[int, Contact]:
        if not ids:
            return {}
        # phones and emails are compared with the row's; tags and companies load only if a row brings some
        return {c.id: c for c in db.session.scalars(
            select(Contact).where(among(Contact.id, ids))
            .options(selectinload(Contact.phones), selectinload(Contact.emails), lazyload(Contact.tags),
                     lazyload(Contact.memberships)))}

    def _created_by_batch(self, ids: set[int]) -> set[int]:
        if not ids or self.batch.dry_run:
            return set()
        return set(db.session.scalars(select(Contact.id).where(among(Contact.id, ids),
                                                               Contact.import_batch_id == self.batch.id)))

    def _existing(self, row: dict[str, Any], draft: Draft, contact_id: int, contact: Contact | None) -> None:
        """A row naming a contact that was in Mayak before: the duplicates policy decides."""
        batch = self.batch
        row["record_id"] = contact_id
        if batch.on_duplicate == "skip" or contact is None:
            row["action"] = "skip"
            batch.skipped += 1
            return
        if not can(self.actor.user, "edit", "contact", contact):
            draft.problem("phone", "not_allowed", contact.display_name)
            row["action"] = "skip"
            batch.skipped += 1
            return
        if batch.dry_run:  # what would change, found by changing it and rolling back
            savepoint = db.session.begin_nested()
            before = self._update(contact, draft, overwrite=batch.on_duplicate == "overwrite")
            savepoint.rollback()
        else:
            before = self._update(contact, draft, overwrite=batch.on_duplicate == "overwrite")
        if before is None:
            row["action"] = "skip"  # nothing new in the row
            batch.skipped += 1
            return
        row["action"], row["before"] = "update", None if batch.dry_run else before
        batch.updated += 1

    # --- writing -----------------------------------------------------------------------------------------

    @staticmethod
    def _merge_drafts(into: Draft, other: Draft) -> None:
        """A later row of the file about the same person: its phones, emails and tags join; empty fields fill."""
        names_before = (dict(into.text), into.company)
        for name, value in other.text.items():
            if value and not into.text.get(name):
                into.text[name] = value
        into.phones += [p for p in other.phones if all((p.e164 or p.raw) != (q.e164 or q.raw) for q in into.phones)]
        into.emails += [e for e in other.emails if all(e.normalized != f.normalized for f in into.emails)]
        into.tags += [t for t in other.tags if t not in into.tags]
        into.birthday = into.birthday or other.birthday
        into.company = into.company or other.company
        into.external_id = into.external_id or other.external_id
        into.owner = into.owner or other.owner
        if other.notes and other.notes not in into.notes:
            into.notes = f"{into.notes}\n{other.notes}".strip()
        for key, value in other.custom.items():
            into.custom.setdefault(key, value)
        if (into.text, into.company) != names_before:
            into.index()

    def _update(self, contact: Contact, draft: Draft, *, overwrite: bool) -> dict[str, Any] | None:
        """Fill the contact's empty fields from the row (or, with ``overwrite``, replace them); phones, emails
        and tags the row adds are appended, none removed. Returns the values before, or ``None`` if nothing
        changed."""
        before = undo_snapshot(contact, with_tags=bool(draft.tags))
        changed = False

        def put(name: str, value: Any) -> None:
            nonlocal changed
            current = getattr(contact, name)
            if value not in (None, "") and current != value and (overwrite or not current):
                setattr(contact, name, value)
                changed = True

        for name, value in draft.text.items():
            put(name, value)
        put("birthday", draft.birthday)
        put("external_id", draft.external_id)
        extra_notes = "\n".join(n for n in (draft.notes, kept_in_notes(draft, self.labels)) if n)
        if extra_notes and extra_notes not in (contact.notes or ""):
            contact.notes = f"{contact.notes or ''}\n{extra_notes}".strip()[:20000]
            changed = True
        custom = dict(contact.custom or {})
        for key, value in draft.custom.items():
            if overwrite or custom.get(key) in (None, "", []):
                custom[key] = value
        if custom != (contact.custom or {}):
            contact.custom = custom
            changed = True
        known_phones = {p.e164 or p.raw for p in contact.phones}
        for parsed in draft.phones:
            if (parsed.e164 or parsed.raw) not in known_phones:
                contact.phones.append(_phone(parsed, len(contact.phones)))
                changed = True
        known_emails = {e.normalized for e in contact.emails}
        for parsed in draft.emails:
            if parsed.normalized not in known_emails:
                contact.emails.append(Email(kind="work", address=parsed.address, normalized=parsed.normalized,
                                            valid=parsed.valid, position=len(contact.emails)))
                changed = True
        if draft.tags:
            missing = [t for t in client_fields.tags_named(draft.tags) if t not in contact.tags]
            if missing:
                contact.tags = [*contact.tags, *missing]
                changed = True
        if not changed:
            return None
        refresh_search_keys(contact)
        contact.updated_at = utcnow()
        return before

    def _merge_into_created(self, merges: dict[int, Draft]) -> None:
        """Later rows of contacts this file created in earlier chunks: their empty fields filled and new phones,
        emails and tags added with a few bulk statements (no ORM objects: in a file with many repeats these are
        a fifth of all rows)."""
        if not merges:
            return
        ids = list(merges)
        table = Contact.__table__
        columns = ("first_name", "middle_name", "last_name", "job_title", "city", "region", "source", "birthday",
                   "external_id", "notes", "custom")
        current = {row.id: row for row in db.session.execute(
            select(table.c.id, *(table.c[name] for name in columns)).where(among(table.c.id, ids)))}
        phones_of: dict[int, set[str]] = {i: set() for i in ids}
        for contact_id, e164, raw in db.session.execute(
                select(Phone.contact_id, Phone.e164, Phone.raw).where(among(Phone.contact_id, ids))):
            phones_of[contact_id].add(e164 or raw)
        emails_of: dict[int, set[str]] = {i: set() for i in ids}
        for contact_id, normalized in db.session.execute(
                select(Email.contact_id, Email.normalized).where(among(Email.contact_id, ids))):
            emails_of[contact_id].add(normalized)
        updates, phone_rows, email_rows, tag_names = [], [], [], {}
        now = utcnow()
        for contact_id, draft in merges.items():
            row = current.get(contact_id)
            if row is None:
                continue
            values = {name: getattr(row, name) for name in columns}
            changed = False
            for name, value in [*draft.text.items(), ("birthday", draft.birthday),
                                ("external_id", draft.external_id or None)]:
                if value and not values[name]:
                    values[name], changed = value, True
            extra = "\n".join(n for n in (draft.notes, kept_in_notes(draft, self.labels)) if n)
            if extra and extra not in (values["notes"] or ""):
                values["notes"], changed = f"{values['notes'] or ''}\n{extra}".strip()[:20000], True
            custom = {**(draft.custom or {}), **(values["custom"] or {})}
            if custom != (values["custom"] or {}):
                values["custom"], changed = custom, True
            if changed:
                updates.append({"b_id": contact_id, **values, "updated_at": now,
                                "search_lf": search_key(values["last_name"], values["first_name"],
                                                        values["middle_name"]),
                                "search_fl": search_key(values["first_name"], values["last_name"],
                                                        values["middle_name"])})
            known = phones_of[contact_id]
            for parsed in draft.phones:
                if (parsed.e164 or parsed.raw) not in known:
                    phone_rows.append(_phone_row(contact_id, parsed, len(known)))
                    known.add(parsed.e164 or parsed.raw)
            for parsed in draft.emails:
                if parsed.normalized not in emails_of[contact_id]:
                    email_rows.append(_email_row(contact_id, parsed, len(emails_of[contact_id])))
                    emails_of[contact_id].add(parsed.normalized)
            if draft.tags:
                tag_names[contact_id] = draft.tags
        if updates:
            statement = update(table).where(table.c.id == bindparam("b_id")).values(
                {name: bindparam(name, type_=table.c[name].type)
                 for name in (*columns, "updated_at", "search_lf", "search_fl")})
            db.session.execute(statement, updates)
        insert_rows(Phone.__table__, phone_rows)
        insert_rows(Email.__table__, email_rows)
        if tag_names:
            tags = {t.key: t for t in client_fields.tags_named([t for names in tag_names.values() for t in names])}
            db.session.flush()
            have = set(db.session.execute(select(contact_tags.c.contact_id, contact_tags.c.tag_id).where(
                among(contact_tags.c.contact_id, list(tag_names)))).tuples())
            links = {(contact_id, tags[search_key(t)[:80]].id) for contact_id, names in tag_names.items()
                     for t in names if search_key(t)[:80] in tags}
            insert_rows(contact_tags, [{"contact_id": c, "tag_id": t} for c, t in sorted(links - have)])

    def _owner(self, draft: Draft, *, report: bool = True) -> int | None:
        """The row's owner column read as a user (by email or name), else whoever runs the import; an unknown
        name is reported once, for the contact (``report=False`` for the company the row also makes)."""
        if draft.owner and self.may_assign:
            owner_id = self.users.get(search_key(draft.owner))
            if owner_id is not None:
                return owner_id
            if report:
                draft.problem("owner", "owner_unknown", draft.owner)
        return self.user_id

    def _team(self, owner_id: int | None) -> int | None:
        if owner_id not in self.teams:
            self.teams[owner_id] = client_fields.team_of(owner_id)
        return self.teams[owner_id]

    def _insert(self, new: list[_New]) -> None:
        """The chunk's new contacts with their phones, emails, tags and companies: a few bulk inserts."""
        if not new:
            return
        now = utcnow()
        values = []
        for entry in new:
            draft = entry.draft
            owner_id = self._owner(draft)
            notes = "\n".join(n for n in (draft.notes, kept_in_notes(draft, self.labels)) if n)
            values.append({
                **{k: draft.text.get(k, "") for k in ("first_name", "middle_name", "last_name", "job_title", "city",
                                                      "region", "source")},
                "search_lf": draft.search_lf, "search_fl": draft.search_fl,
                "birthday": draft.birthday,
                "notes": notes, "custom": draft.custom, "external_id": draft.external_id or None,
                "owner_id": owner_id, "team_id": self._team(owner_id), "created_at": now, "updated_at": now,
                "import_batch_id": self.batch.id,
            })
        ids = insert_returning_ids(Contact.__table__, values)
        phone_rows, email_rows, tag_rows = [], [], []
        tags = {t.key: t for t in client_fields.tags_named([t for e in new for t in e.draft.tags])}
        if tags:
            db.session.flush()
        for contact_id, entry in zip(ids, new, strict=True):
            for row in entry.rows:
                row["record_id"] = contact_id
            draft = entry.draft
            phone_rows += [_phone_row(contact_id, p, i) for i, p in enumerate(draft.phones)]
            email_rows += [_email_row(contact_id, e, i) for i, e in enumerate(draft.emails)]
            tag_ids = dict.fromkeys(tags[search_key(t)[:80]].id for t in draft.tags if search_key(t)[:80] in tags)
            tag_rows += [{"contact_id": contact_id, "tag_id": tag_id} for tag_id in tag_ids]
        if phone_rows:
            insert_rows(Phone.__table__, phone_rows)
        if email_rows:
            insert_rows(Email.__table__, email_rows)
        if tag_rows:
            insert_rows(contact_tags, tag_rows)
        self._memberships(new, ids, now)

    def _memberships(self, new: list[_New], ids: Sequence[int], now: Any) -> None:
        keys = [e.draft.company_key for e in new]
        wanted = {key: e for key, e in zip(keys, new, strict=True) if key}
        if not wanted:
            return
        companies = dict(db.session.execute(
            select(Company.search_name, Company.id).where(among(Company.search_name, list(wanted)),
                                                          Company.deleted_at.is_(None))).all())
        missing = [key for key in wanted if key not in companies]
        if missing:
            rows = []
            for key in missing:
                draft = wanted[key].draft
                owner_id = self._owner(draft, report=False)
                rows.append({"name": draft.company, "search_name": key, "owner_id": owner_id,
                             "team_id": self._team(owner_id), "industry": "", "website": "", "city": "",
                             "region": "", "source": draft.text.get("source", ""), "notes": "", "custom": {},
                             "created_at": now, "updated_at": now, "import_batch_id": self.batch.id})
            created = insert_returning_ids(Company.__table__, rows)
            companies.update(zip(missing, created, strict=True))
        links = [{"contact_id": contact_id, "company_id": companies[key],
                  "job_title": e.draft.text.get("job_title", ""), "position": 0}
                 for contact_id, e, key in zip(ids, new, keys, strict=True) if key in companies]
        if links:
            insert_rows(ContactCompany.__table__, links)

def _phone_row(contact_id: int, parsed: Any, position: int) -> dict[str, Any]:
    return {"contact_id": contact_id, "company_id": None, "kind": "mobile", "raw": parsed.raw, "e164": parsed.e164,
            "digits_rev": parsed.digits_rev, "valid": parsed.valid and parsed.e164 is not None, "position": position}


def _email_row(contact_id: int, parsed: Any, position: int) -> dict[str, Any]:
    return {"contact_id": contact_id, "company_id": None, "kind": "work", "address": parsed.address,
            "normalized": parsed.normalized, "valid": parsed.valid, "position": position}


def _phone(parsed: Any, position: int) -> Phone:
    return Phone(kind="mobile", raw=parsed.raw, e164=parsed.e164, digits_rev=parsed.digits_rev,
                 valid=parsed.valid and parsed.e164 is not None, position=position)


def undo_snapshot(contact: Contact, *, with_tags: bool) -> dict[str, Any]:
    """Everything an import may change on a contact, in a form undo can put back (tags only when the row brings
    some: reading them costs a query per contact)."""
    snapshot = {
        **{name: getattr(contact, name) for name in ("first_name", "middle_name", "last_name", "job_title", "city",
                                                     "region", "source", "notes", "external_id")},
        "birthday": contact.birthday.isoformat() if contact.birthday else None,
        "custom": dict(contact.custom or {}),
        "phones": [[p.kind, p.raw, p.e164, p.digits_rev, p.valid] for p in contact.phones],
        "emails": [[e.kind, e.address, e.normalized, e.valid] for e in contact.emails],
    }
    if with_tags:
        snapshot["tags"] = [t.name for t in contact.tags]
    return snapshot


def restore(contact: Contact, before: dict[str, Any]) -> None:
    """Put back what :func:`undo_snapshot` recorded."""
    for name in ("first_name", "middle_name", "last_name", "job_title", "city", "region", "source", "notes",
                 "external_id"):
        setattr(contact, name, before.get(name))
    contact.birthday = date.fromisoformat(before["birthday"]) if before.get("birthday") else None
    contact.custom = dict(before.get("custom") or {})
    if [[p.kind, p.raw, p.e164, p.digits_rev, p.valid] for p in contact.phones] != before["phones"]:
        contact.phones = [Phone(kind=k, raw=r, e164=e, digits_rev=d, valid=v, position=i)
                          for i, (k, r, e, d, v) in enumerate(before["phones"])]
    if [[e.kind, e.address, e.normalized, e.valid] for e in contact.emails] != before["emails"]:
        contact.emails = [Email(kind=k, address=a, normalized=n, valid=v, position=i)
                          for i, (k, a, n, v) in enumerate(before["emails"])]
    if "tags" in before:
        contact.tags = client_fields.tags_named(before["tags"])
    refresh_search_keys(contact)
    contact.updated_at = utcnow()


def _json_cell(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    return str(value)


Progress = Callable[[int, int | None], None]
