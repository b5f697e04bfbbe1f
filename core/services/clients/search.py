"""Global search: the top bar's box finds contacts, companies and deals at once.

It reuses the lists' matcher (:func:`core.services.clients.listing.search_condition`: name prefixes in either word
order, phone in any format, email, company) and their access scope
(:func:`core.services.clients.listing.apply_filters`, which asks :mod:`core.services.platform.access`), so the top bar
finds exactly what the lists would. Each kind costs one statement: its top ``limit`` rows ranked by how well they
match, with what a result line shows (first phone, email, company, stage, client) read in the same statement. Names
of linked records the reader may not see are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import case, exists, literal, or_, select

from core.db import db
from core.models import Company, Contact, ContactCompany, Deal, Email, Phone, Stage, User
from core.plugins.facades import default_phone_region
from core.services.clients import phones
from core.services.clients.listing import COMPANIES, CONTACTS, DEALS, EntityList, ListQuery, apply_filters
from core.services.platform.access import filter_query, scope_for
from core.services.platform.text import company_key, search_key

KINDS = ("contact", "company", "deal")
SUGGEST_LIMIT = 5  # per kind, as you type
PAGE_LIMIT = 25  # per kind, on the results page

# how well a row matches: its own name (or phone, email) exactly, its own name by prefix, or through something
# else (a contact found by its company, a deal by its client, a phone by its last digits)
EXACT, PREFIX, RELATED = 0, 1, 2


class PhoneText(NamedTuple):
    e164: str | None
    raw: str


@dataclass
class Hit:
    kind: str
    id: int
    title: str
    rank: int
    details: list[str] = field(default_factory=list)
    phone: PhoneText | None = None  # shown in the reader's phone format
    amount: tuple[Decimal, str] | None = None  # (amount, currency) for the reader's money format


@dataclass
class Results:
    q: str
    groups: dict[str, list[Hit]]
    limit: int

    @property
    def best(self) -> Hit | None:
        """The row Enter opens: the best-ranked one; among equals contacts, then companies, then deals."""
        hits = [hit for kind in KINDS for hit in self.groups.get(kind, [])]
        return min(hits, key=lambda h: h.rank) if hits else None

    @property
    def empty(self) -> bool:
        return not any(self.groups.values())


def _visible_name(user: User | None, contact_id: Any) -> Any:
    """A contact's name parts for a result line, only when the reader may see that contact."""
    name = Contact.first_name + " " + Contact.middle_name + " " + Contact.last_name
    stmt = select(name).where(Contact.id == contact_id, Contact.deleted_at.is_(None))
    return filter_query(user, "view", "contact", stmt, Contact.owner_id).limit(1).scalar_subquery()


def _visible_company(user: User | None, company_id: Any) -> Any:
    stmt = select(Company.name).where(Company.id == company_id, Company.deleted_at.is_(None))
    return filter_query(user, "view", "company", stmt, Company.owner_id).limit(1).scalar_subquery()


def _rank(exact: list[Any], prefix: list[Any]) -> Any:
    return case((or_(*exact), literal(EXACT)), (or_(*prefix), literal(PREFIX)), else_=literal(RELATED))


def _exact_channels(q: str, model: Any, kind: str) -> list[Any]:
    conditions: list[Any] = []
    phone_owner = Phone.contact_id if kind == "contact" else Phone.company_id
    email_owner = Email.contact_id if kind == "contact" else Email.company_id
    phone = phones.query(q, default_phone_region())
    if phone is not None and phone.e164:
        conditions.append(exists().where(phone_owner == model.id, Phone.e164 == phone.e164))
    lowered = q.strip().lower()
    if "@" in lowered:
        conditions.append(exists().where(email_owner == model.id, Email.normalized == lowered))
    return conditions


def _first_phone(kind: str, model: Any, column: Any) -> Any:
    owner = Phone.contact_id if kind == "contact" else Phone.company_id
    return select(column).where(owner == model.id).order_by(Phone.position, Phone.id).limit(1).scalar_subquery()


def _first_email(kind: str, model: Any) -> Any:
    owner = Email.contact_id if kind == "contact" else Email.company_id
    return (select(Email.address).where(owner == model.id).order_by(Email.position, Email.id).limit(1)
            .scalar_subquery())


def _filtered(spec: EntityList, columns: list[Any], q: str, user: User | None) -> Any:
    return apply_filters(spec, select(*columns), ListQuery(q=q), user)


def _contacts(q: str, key: str, user: User | None, limit: int) -> list[Hit]:
    upper = phones.prefix_upper_bound(key)
    rank = _rank([Contact.search_lf == key, Contact.search_fl == key, *_exact_channels(q, Contact, "contact")],
                 [Contact.search_lf.between(key, upper), Contact.search_fl.between(key, upper)])
    company = (filter_query(user, "view", "company", select(Company.name).join(
        ContactCompany, ContactCompany.company_id == Company.id).where(
        ContactCompany.contact_id == Contact.id, Company.deleted_at.is_(None)), Company.owner_id)
        .order_by(Company.id).limit(1).scalar_subquery())
    stmt = _filtered(CONTACTS, [Contact.id, Contact.first_name, Contact.middle_name, Contact.last_name,
                                Contact.job_title, rank.label("rank"), company.label("company"),
                                _first_phone("contact", Contact, Phone.e164).label("e164"),
                                _first_phone("contact", Contact, Phone.raw).label("raw"),
                                _first_email("contact", Contact).label("email")], q, user)
    rows = db.session.execute(stmt.order_by(rank, Contact.search_lf, Contact.id).limit(limit)).all()
    return [Hit("contact", r.id, Contact.name_of(r.first_name, r.middle_name, r.last_name), r.rank,
                [d for d in (r.job_title, r.company, r.email) if d], PhoneText(r.e164, r.raw) if r.raw else None)
            for r in rows]


def _companies(q: str, user: User | None, limit: int) -> list[Hit]:
    key = company_key(q)
    upper = phones.prefix_upper_bound(key)
    rank = _rank([Company.search_name == key, *_exact_channels(q, Company, "company")],
                 [Company.search_name.between(key, upper)])
    stmt = _filtered(COMPANIES, [Company.id, Company.name, Company.city, Company.industry, rank.label("rank"),
                                 _first_phone("company", Company, Phone.e164).label("e164"),
                                 _first_phone("company", Company, Phone.raw).label("raw"),
                                 _first_email("company", Company).label("email")], q, user)
    rows = db.session.execute(stmt.order_by(rank, Company.search_name, Company.id).limit(limit)).all()
    return [Hit("company", r.id, r.name, r.rank, [d for d in (r.industry, r.city, r.email) if d],
                PhoneText(r.e164, r.raw) if r.raw else None) for r in rows]


def _deals(q: str, key: str, user: User | None, limit: int) -> list[Hit]:
    upper = phones.prefix_upper_bound(key)
    rank = _rank([Deal.search_title == key], [Deal.search_title.between(key, upper)])
    stmt = _filtered(DEALS, [Deal.id, Deal.title, Deal.amount, Deal.currency, Stage.name.label("stage"),
                             rank.label("rank"), _visible_name(user, Deal.contact_id).label("client"),
                             _visible_company(user, Deal.company_id).label("company")], q, user)
    stmt = stmt.join(Stage, Stage.id == Deal.stage_id)
    rows = db.session.execute(stmt.order_by(rank, Deal.search_title, Deal.id).limit(limit)).all()
    return [Hit("deal", r.id, r.title, r.rank,
                [d for d in (r.stage, " ".join((r.client or "").split()), r.company) if d],
                amount=(r.amount, r.currency) if r.amount else None) for r in rows]


def find(user: User | None, q: str, limit: int = SUGGEST_LIMIT) -> Results:
    """The top ``limit`` contacts, companies and deals ``user`` may see that match ``q``: one statement per kind
    (none for a kind the user may not view at all). A ``q`` with control characters raises
    :class:`core.services.platform.params.BadParameter` (a 400 that says so)."""
    q = ListQuery.from_args({"q": q or ""}).q  # as the lists read it: cut to 200, control characters refused
    key = search_key(q)
    groups: dict[str, list[Hit]] = {kind: [] for kind in KINDS}
    if not key:
        return Results(q, groups, limit)
    if scope_for(user, "view", "contact"):
        groups["contact"] = _contacts(q, key, user, limit)
    if scope_for(user, "view", "company"):
        groups["company"] = _companies(q, user, limit)
    if scope_for(user, "view", "deal"):
        groups["deal"] = _deals(q, key, user, limit)
    return Results(q, groups, limit)


def kinds_visible(user: User | None) -> list[str]:
    return [kind for kind in KINDS if scope_for(user, "view", kind)]

