"""The activity timeline of a contact or company: newest first, filterable by kind, paged by keyset.

``record`` is the one way anything (core, plugins, imports) writes an entry; it is idempotent by
``(source, external_id)`` and, as every service, leaves the commit to the outermost caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select, union
from sqlalchemy.exc import IntegrityError

from core.db import db, savepoint
from core.models import Activity, Contact, ContactCompany, utcnow
from core.plugins import provider_facades
from core.plugins.events import NoteAdded
from core.services.platform import audit, events, loading
from core.services.platform.access import require
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput

PAGE = 30


@dataclass(frozen=True)
class Cursor:
    occurred_at: datetime
    id: int

    def encode(self) -> str:
        return f"{self.occurred_at.timestamp():.6f}_{self.id}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        """The position of a "more" link; one this module did not write is refused (``params.BadParameter``, a
        400), as every list's cursor is."""
        if not text:
            return None
        from datetime import UTC

        from core.services.platform import params

        stamp, _, ident = text.partition("_")
        try:
            if not stamp.isascii() or len(stamp) > 30:
                raise ValueError(stamp)
            return cls(datetime.fromtimestamp(float(stamp), tz=UTC), params.record_id("before", ident))
        except (ValueError, OverflowError, OSError) as exc:
            raise params.BadParameter("before", params.DAMAGED_CURSOR) from exc


def record(*, kind: str, contact_id: int | None = None, company_id: int | None = None,
           author_id: int | None = None, title: str = "", body: str = "", data: dict[str, Any] | None = None,
           occurred_at: datetime | None = None, source: str = "core", external_id: str | None = None) -> Activity:
    """Add a timeline entry to the caller's unit of work (it never commits).

    Idempotent by ``(source, external_id)``: an entry recorded before is returned as it is. Two deliveries of the
    same event racing each other meet at the unique key; the insert runs in a SAVEPOINT, so the one that loses
    gets the winner's entry and keeps everything else its unit of work wrote."""
    if kind not in provider_facades.timeline_kind_keys():
        raise ValueError(f"unknown activity kind {kind!r}; register it with register_timeline_kinds")
    if contact_id is None and company_id is None:
        raise ValueError("a timeline entry belongs to a contact or a company")
    if external_id is not None:
        existing = find_entry(source, external_id)
        if existing is not None:
            return existing
    entry = Activity(kind=kind, contact_id=contact_id, company_id=company_id, author_id=author_id,
                     title=title[:300], body=body, data=data or {}, occurred_at=occurred_at or utcnow(),
                     source=source, external_id=external_id)
    try:
        with savepoint():
            db.session.add(entry)
    except IntegrityError:
        if external_id is None:
            raise
        existing = find_entry(source, external_id)
        assert existing is not None
        return existing
    if contact_id is not None:
        db.session.execute(Contact.__table__.update().where(Contact.id == contact_id)
                           .values(last_activity_at=entry.occurred_at))
    return entry


def find_entry(source: str, external_id: str) -> Activity | None:
    """The entry recorded with ``(source, external_id)``, if any."""
    return db.session.scalar(select(Activity).where(Activity.source == source, Activity.external_id == external_id))


def update(source: str, external_id: str, *, title: str | None = None, body: str | None = None,
           data: dict[str, Any] | None = None, occurred_at: datetime | None = None) -> Activity | None:
    """Change an entry recorded before with ``(source, external_id)`` (a message's delivery status, a call's
    duration once it ended), in the caller's unit of work. ``data`` is merged into the entry's data, a key given
    ``None`` is removed; the other arguments replace what they name. Returns ``None`` when no such entry was
    recorded (yet): the caller records it, or retries when the update outran the entry."""
    entry = db.session.scalar(select(Activity).where(Activity.source == source, Activity.external_id == external_id)
                              .with_for_update())
    if entry is None:
        return None
    if title is not None:
        entry.title = title[:300]
    if body is not None:
        entry.body = body
    if occurred_at is not None:
        entry.occurred_at = occurred_at
    if data:
        merged = {**(entry.data or {}), **data}  # a new dict: the JSON column sees the change
        entry.data = {k: v for k, v in merged.items() if v is not None}
    db.session.flush()
    return entry


def add_note(actor: Actor, *, contact: Contact | None = None, company: Any = None, body: str) -> Activity:
    body = (body or "").strip()
    if not body:
        raise InvalidInput({"body": _l("Write the note first.")})
    if len(body) > 20000:
        raise InvalidInput({"body": _l("The note is too long (at most 20,000 characters).")})
    target = contact or company
    entity = "contact" if contact is not None else "company"
    require(actor.user, "edit", entity, target)
    entry = record(kind="note", contact_id=contact.id if contact else None,
                   company_id=company.id if company else None, author_id=actor.user_id, body=body)
    audit.record(actor, "note.created", entity, target.id, {"activity": entry.id})
    events.emit(NoteAdded(subject_id=entry.id, origin=actor.origin, contact_id=entry.contact_id,
                          company_id=entry.company_id))
    db.session.flush()
    return entry


def entries(*, contact_id: int | None = None, company_id: int | None = None, kinds: Sequence[str] = (),
            before: Cursor | None = None, limit: int = PAGE) -> list[Activity]:
    """A page of entries, newest first. A company's timeline includes its people's entries: the company's own
    page and its people's page are each read along their (owner, time) index, then merged."""
    known = provider_facades.timeline_kind_keys()
    wanted = [k for k in kinds if k in known]

    def page(stmt: Any) -> Any:
        if wanted:
            stmt = stmt.where(Activity.kind.in_(wanted))
        if before is not None:
            stmt = stmt.where(or_(Activity.occurred_at < before.occurred_at,
                                  and_(Activity.occurred_at == before.occurred_at, Activity.id < before.id)))
        return stmt.order_by(Activity.occurred_at.desc(), Activity.id.desc()).limit(limit)

    if contact_id is not None:
        stmt = page(select(Activity).where(Activity.contact_id == contact_id))
    else:
        people = select(ContactCompany.contact_id).where(ContactCompany.company_id == company_id)
        own = page(select(Activity.id).where(Activity.company_id == company_id)).subquery()
        theirs = page(select(Activity.id).where(Activity.contact_id.in_(people))).subquery()
        stmt = page(select(Activity).where(Activity.id.in_(union(select(own.c.id), select(theirs.c.id)))))
    return list(db.session.scalars(stmt.options(*loading.with_related(Activity.attachments))).unique())


def count_for_contact(contact_id: int) -> int:
    return db.session.scalar(select(func.count(Activity.id)).where(Activity.contact_id == contact_id)) or 0


def count_for_company(company_id: int) -> int:
    return db.session.scalar(select(func.count(Activity.id)).where(Activity.company_id == company_id)) or 0


def next_cursor(page: list[Activity], limit: int = PAGE) -> str | None:
    if len(page) < limit:
        return None
    last = page[-1]
    return Cursor(last.occurred_at, last.id).encode()
