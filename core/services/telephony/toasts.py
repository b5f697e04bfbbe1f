"""The caller's card on the screen of the manager whose phone rings, and the note they write about the call.

Every open page asks :func:`fingerprint` every second or two; it is one statement over a partial index holding
only the open toasts, and the page redraws (:func:`cards`) only when the fingerprint changed — a new call, or one
that was answered. Nothing else of the page is touched, so a note being typed is never lost to a redraw."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from core.db import db
from core.models import Activity, Call, Company, Contact, ContactCompany, Deal, Stage, utcnow
from core.services.clients import timeline
from core.services.platform import audit
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.services.platform.text import text_block
from core.services.telephony import calls
from core.services.users.directory import by_id

NOTE_OUTCOMES = {
    "agreed": _l("Agreed on the next step"),
    "call_back": _l("Call back later"),
    "thinking": _l("Thinking it over"),
    "not_interested": _l("Not interested"),
    "wrong_number": _l("Wrong number"),
    "other": _l("Other"),
}
MAX_TOASTS = 3
# a card whose call ended this long ago (its note never written), or that still rings hours on (the PBX never said
# it ended), is no longer shown: a manager back from lunch does not find a wall of old calls
ENDED_SHOWN_FOR = timedelta(minutes=30)
LIVE_SHOWN_FOR = timedelta(hours=4)


def fingerprint(actor: Actor) -> str:
    """What the actor's toasts show, in a few characters: the same while nothing changed."""
    if actor.user is None:
        return ""
    rows = db.session.execute(_open(select(Call.id, Call.answered_at.is_not(None)), actor)).all()
    if not rows:
        return "-"
    return hashlib.blake2s(repr(rows).encode(), digest_size=6).hexdigest()


def _open(stmt: Any, actor: Actor) -> Any:
    """The actor's open toasts, newest first (along the partial index of open toasts; the age limits then look at
    a handful of rows)."""
    now = utcnow()
    return (stmt.where(Call.user_id == actor.user_id, Call.toast_open.is_(True),
                       Call.started_at >= now - LIVE_SHOWN_FOR,
                       or_(Call.ended_at.is_(None), Call.ended_at >= now - ENDED_SHOWN_FOR))
            .order_by(Call.id.desc()).limit(MAX_TOASTS))


@dataclass(frozen=True)
class DealLine:
    id: int
    title: str
    stage: str
    amount: Decimal | None
    currency: str


@dataclass(frozen=True)
class Card:
    """One toast: the call, and the caller as the CRM knows them (empty for a new number)."""

    call: Call
    contact: Contact | None = None
    company: Company | None = None
    owner_name: str = ""
    deals: list[DealLine] = field(default_factory=list)
    recent: list[Activity] = field(default_factory=list)

    @property
    def talking(self) -> bool:
        return self.call.answered_at is not None


def cards(actor: Actor) -> list[Card]:
    """The actor's open toasts, newest first, each with the caller's card: name, company, open deals with stage
    and amount, the last three activities, the owner. The callers, their companies and open deals are read once
    for every card; the recent activities along each client's timeline index."""
    if actor.user is None:
        return []
    found = list(db.session.scalars(_open(select(Call), actor)))
    contact_ids = {c.contact_id for c in found if c.contact_id}
    people = {c.id: c for c in db.session.scalars(select(Contact).where(Contact.id.in_(contact_ids)))} \
        if contact_ids else {}
    first_company = dict(db.session.execute(
        select(ContactCompany.contact_id, ContactCompany.company_id).where(ContactCompany.contact_id.in_(contact_ids))
        .order_by(ContactCompany.position.desc())).all()) if contact_ids else {}  # the first position wins
    company_ids = {c.company_id for c in found if c.company_id} | set(first_company.values())
    firms = {c.id: c for c in db.session.scalars(select(Company).where(Company.id.in_(company_ids)))} \
        if company_ids else {}
    deals = _open_deals(contact_ids, {c.company_id for c in found if c.company_id and not c.contact_id})
    names = by_id()
    result = []
    for call in found:
        contact = people.get(call.contact_id) if call.contact_id else None
        company = firms.get(call.company_id or first_company.get(call.contact_id or 0, 0))
        client = contact or company
        owner = names.get(client.owner_id) if client is not None and client.owner_id else None
        key = ("contact", contact.id) if contact is not None else ("company", company.id) if company else None
        result.append(Card(call=call, contact=contact, company=company,
                           owner_name=owner.display_name if owner is not None else "",
                           deals=deals.get(key, [])[:3] if key else [], recent=_recent(contact, company)))
    return result


def _open_deals(contact_ids: set[int], company_ids: set[int]) -> dict[tuple[str, int], list[DealLine]]:
    """The open deals of these contacts and companies, most recently changed first, by client."""
    if not contact_ids and not company_ids:
        return {}
    rows = db.session.execute(
        select(Deal.contact_id, Deal.company_id, Deal.id, Deal.title, Stage.name, Deal.amount, Deal.currency)
        .join(Stage, Stage.id == Deal.stage_id)
        .where(or_(Deal.contact_id.in_(contact_ids), Deal.company_id.in_(company_ids)), Deal.deleted_at.is_(None),
               Stage.kind == "open")
        .order_by(Deal.updated_at.desc()).limit(60))
    found: dict[tuple[str, int], list[DealLine]] = {}
    for contact_id, company_id, *line in rows:
        if contact_id in contact_ids:
            found.setdefault(("contact", contact_id), []).append(DealLine(*line))
        if company_id in company_ids:
            found.setdefault(("company", company_id), []).append(DealLine(*line))
    return found


def _recent(contact: Contact | None, company: Company | None) -> list[Activity]:
    if contact is None and company is None:
        return []
    return timeline.entries(contact_id=contact.id if contact else None,
                            company_id=None if contact else company.id, limit=3)  # type: ignore[union-attr]


def dismiss(actor: Actor, call_id: int) -> None:
    """Take the toast off the actor's screen (only their own)."""
    call = _own(actor, call_id)
    call.toast_open = False
    db.session.flush()


def save_note(actor: Actor, call_id: int, text: str, outcome: str) -> Call:
    """The manager's note about a call they took: its text and outcome land on the call and its timeline entry;
    the toast closes."""
    call = _own(actor, call_id)
    note, outcome = text_block(text, 5000).strip(), (outcome or "").strip()
    errors = {}
    if outcome and outcome not in NOTE_OUTCOMES:
        errors["outcome"] = _l("Choose how the call went from the list.")
    if not note and not outcome:
        errors["note"] = _l("Write what you agreed on, or choose how the call went.")
    if errors:
        raise InvalidInput(errors)
    call.note, call.note_outcome, call.note_by_id, call.toast_open = note, outcome, actor.user_id, False
    db.session.flush()
    calls.sync_timeline(call)
    audit.record(actor, "call.noted", "call", call.id, {"outcome": outcome, "length": len(note)})
    return call


def _own(actor: Actor, call_id: int) -> Call:
    call = db.session.get(Call, call_id)
    if call is None or actor.user is None or call.user_id != actor.user_id:
        raise LookupError(call_id)
    return call
