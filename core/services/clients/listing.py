"""Lists of contacts, companies and deals: allow-listed filters (custom fields included), sorting, grouping with
counts, active search, permission scope, and keyset pagination (no OFFSET, whatever the page)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, exists, false, func, or_, select, tuple_, union
from sqlalchemy.orm import InstrumentedAttribute

from core.db import db
from core.models import Company, Contact, ContactCompany, Deal, Email, Phone, Stage, Tag, User, utcnow
from core.models.contacts import company_tags, contact_tags
from core.plugins.facades import default_phone_region
from core.services.clients import custom_fields, phones
from core.services.platform import loading, params
from core.services.platform.access import filter_query
from core.services.platform.text import company_key, search_key

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
GROUP_LIMIT = 100


@dataclass
class ListQuery:
    """What a list shows: parsed from the query string of a list page, an export or the API."""

    q: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)
    sort: str = "name"
    desc: bool = False
    cursor: str | None = None
    group: str | None = None
    limit: int = PAGE_SIZE
    spec: EntityList | None = field(default=None, repr=False, compare=False)  # the list whose filters these are

    RESERVED = ("q", "sort", "dir", "after", "group", "limit", "columns", "view", "format", "encoding")

    @classmethod
    def from_args(cls, args: Any, spec: EntityList | None = None) -> ListQuery:
        """The list an address asks for. Values of the wrong kind raise :class:`params.BadParameter`: here for
        the parameters every list has, in :func:`check` and the filters for those that depend on the entity.
        Names that are no filter of ``spec``'s list (``?entity=x``, ``?_anchor=x``) are dropped here, so they
        never come back in the links the page builds from :meth:`as_args`."""
        filters: dict[str, list[str]] = {}
        for key in args:
            if key in cls.RESERVED or not knows_filter(spec, key):
                continue
            values = [_text(key, v) for v in args.getlist(key) if str(v).strip()]
            if values:
                filters[_text("filter", key)] = [v[:200] for v in values[:1000 if key == "id" else 50]]
        limit = params.integer("limit", args["limit"], 1, MAX_PAGE_SIZE) if str(args.get("limit", "")).strip() \
            else PAGE_SIZE
        direction = params.choice("dir", args["dir"], ("asc", "desc")) if args.get("dir") else "asc"
        return cls(q=_text("q", args.get("q", ""))[:200].strip(), filters=filters,
                   sort=_text("sort", args.get("sort") or "name"), desc=direction == "desc",
                   cursor=_text("after", args.get("after") or "") or None,
                   group=_text("group", args.get("group") or "") or None, limit=limit, spec=spec)

    def as_args(self, **override: Any) -> dict[str, Any]:
        """Query-string arguments that reproduce this list (for links, saved views and "more"): only the list's own
        parameters, never a name ``url_for`` reads itself (``_anchor``, ``_external``, ``endpoint``...) or a path
        argument of the page it links to (``entity``, ``format``): those made absolute links or a 500."""
        args: dict[str, Any] = {k: v for k, v in self.filters.items() if knows_filter(self.spec, k)}
        if self.q:
            args["q"] = self.q
        if self.sort != "name":
            args["sort"] = self.sort
        if self.desc:
            args["dir"] = "desc"
        if self.group:
            args["group"] = self.group
        if self.limit != PAGE_SIZE:
            args["limit"] = str(self.limit)
        args.update({k: v for k, v in override.items() if v is not None})
        return args


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _text(name: str, value: Any) -> str:
    """Text typed into an address: control characters (NUL, CR, LF...) have no place in a search or a filter and
    PostgreSQL refuses NUL in strings, so they are refused here."""
    text = str(value)
    if _CONTROL.search(text):
        raise params.BadParameter(name, _l("“%(name)s” must not contain control characters.", name=name))
    return text


@dataclass(frozen=True)
class Sort:
    column: InstrumentedAttribute[Any]
    kind: str  # str | datetime | decimal


@dataclass(frozen=True)
class EntityList:
    entity: str
    model: Any
    sorts: dict[str, Sort]
    text_filters: tuple[str, ...]
    tag_table: Any = None
    tag_column: str = ""
    related: tuple[str, ...] = ()  # loaded with the page's rows (never one query per row)


CONTACTS = EntityList("contact", Contact, {"name": Sort(Contact.search_lf, "str"),
                                           "created": Sort(Contact.created_at, "datetime")},
                      ("city", "region", "source", "job_title"), contact_tags, "contact_id",
                      ("phones", "emails", "tags", "memberships"))
COMPANIES = EntityList("company", Company, {"name": Sort(Company.search_name, "str"),
                                            "created": Sort(Company.created_at, "datetime")},
                       ("city", "region", "source", "industry"), company_tags, "company_id",
                       ("phones", "emails", "tags"))
DEALS = EntityList("deal", Deal, {"name": Sort(Deal.search_title, "str"), "created": Sort(Deal.created_at, "datetime"),
                                  "amount": Sort(Deal.amount, "decimal")},
                   ("channel", "source", "currency"))
COMMON_FILTERS = ("owner", "team", "id", "created_from", "created_to")
DEAL_FILTERS = ("pipeline", "stage", "contact", "company", "status", "amount_from", "amount_to", "close_from",
                "close_to")
CLIENT_FILTERS = ("has_phone", "has_email", "phone_e164", "phone", "flagged_phone", "quiet_days")
_CUSTOM_KEY = re.compile(r"custom\.[a-z][a-z0-9_]{0,59}")  # custom_fields.KEY_RE


def filter_names(spec: EntityList) -> frozenset[str]:
    """The filters ``spec``'s list reads (the allow-list of :func:`_filter`), besides ``custom.<key>``."""
    names = {*COMMON_FILTERS, *spec.text_filters}
    if spec.entity == "deal":
        names.update(DEAL_FILTERS)
    if spec.tag_table is not None:
        names.add("tag")
    if spec.entity in ("contact", "company"):
        names.update(CLIENT_FILTERS)
    if spec.entity == "contact":
        names.update(("company", "birthday_month"))
    return frozenset(names)


def knows_filter(spec: EntityList | None, name: str) -> bool:
    """Is ``name`` a filter of ``spec``'s list (of any list when ``spec`` is not known)?"""
    if _CUSTOM_KEY.fullmatch(name):
        return True
    specs = (spec,) if spec is not None else (CONTACTS, COMPANIES, DEALS)
    return any(name in filter_names(s) for s in specs)


GROUPS = ("owner", "city", "region", "source", "tag", "company", "industry", "stage", "channel")


def _encode(value: Any, ident: int) -> str:
    raw = value.isoformat() if isinstance(value, datetime) else str(value) if isinstance(value, Decimal) else value
    return base64.urlsafe_b64encode(json.dumps([raw, ident]).encode()).decode()


def _decode(cursor: str | None, sort: Sort) -> tuple[Any, int] | None:
    """The position a "more" link carries. A cursor that is not one this module wrote (forged, cut, from another
    sort) is refused: it would otherwise reach the database as a value of the wrong type."""
    if not cursor:
        return None
    try:
        raw, ident = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(ident, int) or isinstance(ident, bool) or not 0 <= ident <= params.MAX_ID:
            raise ValueError(ident)
        if raw is None:
            return None, ident
        if not isinstance(raw, str) or len(raw) > 1000 or _CONTROL.search(raw):
            raise ValueError(raw)
        if sort.kind == "datetime":
            value: Any = datetime.fromisoformat(raw)
        elif sort.kind == "decimal":
            value = params.amount("after", raw)
        else:
            value = raw
        return value, ident
    except (ValueError, TypeError, ArithmeticError, UnicodeError, params.BadParameter) as exc:
        raise params.BadParameter("after", params.DAMAGED_CURSOR) from exc


SEARCH_CAP = 200


def _capped(stmt: Select[Any]) -> Select[Any]:
    """One branch of a search, limited, so that no search ever scans a whole table."""
    inner = stmt.limit(SEARCH_CAP).subquery()
    return select(inner.c[0])


def search_condition(spec: EntityList, q: str) -> Any:
    """Rows matching a search box: name prefix (either word order), phone in any format, email or company.

    Each way of matching is an index range scan capped at ``SEARCH_CAP`` rows; the list then sorts what they
    found. A search box that matches more than that is asking to be refined.
    """
    model = spec.model
    key = search_key(q)
    if not key:
        return None
    if spec.entity == "deal":
        return _deal_search(key, q)
    upper = phones.prefix_upper_bound(key)
    live = model.deleted_at.is_(None)
    branches: list[Select[Any]] = []
    if spec.entity == "contact":
        # ordered by the indexed column: the first matches by name, read straight from the index
        branches.append(select(Contact.id).where(live, Contact.search_lf >= key, Contact.search_lf < upper)
                        .order_by(Contact.search_lf))
        branches.append(select(Contact.id).where(live, Contact.search_fl >= key, Contact.search_fl < upper)
                        .order_by(Contact.search_fl))
    company = company_key(q)
    company_ids = select(Company.id).where(Company.search_name >= company,
                                           Company.search_name < phones.prefix_upper_bound(company),
                                           Company.deleted_at.is_(None))
    if spec.entity == "contact":
        branches.append(select(ContactCompany.contact_id).where(ContactCompany.company_id.in_(
            _capped(company_ids))))
    else:
        branches.append(company_ids)
    owner_col = Phone.contact_id if spec.entity == "contact" else Phone.company_id
    email_col = Email.contact_id if spec.entity == "contact" else Email.company_id
    lowered = q.strip().lower()
    if "@" in lowered or "." in lowered:
        branches.append(select(email_col).where(Email.normalized >= lowered, Email.normalized < lowered + "\uffff"))
    phone = phones.query(q, default_phone_region())
    if phone is not None:
        if phone.e164:
            branches.append(select(owner_col).where(Phone.e164 == phone.e164))
        if phone.tail_rev:
            branches.append(select(owner_col).where(Phone.digits_rev >= phone.tail_rev,
                                                    Phone.digits_rev < phones.prefix_upper_bound(phone.tail_rev)))
    return model.id.in_(union(*[_capped(b) for b in branches]))


def _deal_search(key: str, q: str) -> Any:
    """Deals by title prefix, or deals of the clients the same search finds (name, phone, email, company)."""
    by_title = (select(Deal.id).where(Deal.deleted_at.is_(None), Deal.search_title >= key,
                                      Deal.search_title < phones.prefix_upper_bound(key)).order_by(Deal.search_title))
    branches = [by_title]
    for spec, column in ((CONTACTS, Deal.contact_id), (COMPANIES, Deal.company_id)):
        clients = search_condition(spec, q)
        if clients is not None:
            client_ids = select(spec.model.id).where(clients)
            branches.append(select(Deal.id).where(column.in_(_capped(client_ids))))
    return Deal.id.in_(union(*[_capped(b) for b in branches]))


def _custom_condition(spec: EntityList, key: str, values: list[str]) -> Any:
    definition = next((d for d in custom_fields.definitions(spec.entity) if d.key == key), None)
    if definition is None:
        return false()
    column = spec.model.custom[key]
    name = f"custom.{key}"
    if definition.type == "boolean":
        wanted = params.flag(name, values[0])
        return column.as_boolean() == wanted if wanted else or_(column.as_boolean().is_(None),
                                                                column.as_boolean() == False)  # noqa: E712
    if definition.type == "number":
        return column.as_float().in_([params.number(name, v) for v in values])
    if definition.type == "multichoice":
        return or_(*[func.coalesce(spec.model.custom[key].as_string(), "").contains(f'"{v}"') for v in values])
    return column.as_string().in_(values)


def apply_filters(spec: EntityList, stmt: Select[Any], query: ListQuery, user: User | None) -> Select[Any]:
    model = spec.model
    stmt = stmt.where(model.deleted_at.is_(None))
    stmt = filter_query(user, "view", spec.entity, stmt, model.owner_id)
    if query.q:
        condition = search_condition(spec, query.q)
        if condition is not None:
            stmt = stmt.where(condition)
    for name, values in query.filters.items():
        stmt = _filter(spec, stmt, name, values, user)
    return stmt


def _ints(name: str, values: list[str], user: User | None) -> list[int]:
    return params.record_ids(name, values, me=user.id if user is not None else None, extra=("none",))


def _filter(spec: EntityList, stmt: Select[Any], name: str, values: list[str], user: User | None) -> Select[Any]:
    model = spec.model
    if name in spec.text_filters:
        return stmt.where(getattr(model, name).in_(values))
    if name == "owner":
        ids = _ints(name, values, user)
        wants_none = "none" in values
        return stmt.where(or_(model.owner_id.in_(ids), model.owner_id.is_(None) if wants_none else false()))
    if name == "team":
        return stmt.where(model.team_id.in_(_ints(name, values, user)))
    if name == "id":  # the rows selected in a list (its bulk export)
        return stmt.where(model.id.in_(params.record_ids(name, values)))
    if spec.entity == "deal":
        condition = _deal_condition(name, values, user)
        if condition is not None:
            return stmt.where(condition)
    if name == "tag" and spec.tag_table is not None:
        tag_ids = select(Tag.id).where(Tag.key.in_([search_key(v) for v in values]))
        link = spec.tag_table
        return stmt.where(exists().where(getattr(link.c, spec.tag_column) == model.id,
                                         link.c.tag_id.in_(tag_ids)))
    if name == "company" and spec.entity == "contact":
        return stmt.where(model.id.in_(select(ContactCompany.contact_id)
                                       .where(ContactCompany.company_id.in_(_ints(name, values, user)))))
    if name in ("created_from", "created_to"):
        day = params.day(name, values[0])
        if name == "created_from":
            return stmt.where(model.created_at >= datetime.combine(day, time.min, tzinfo=UTC))
        return stmt.where(model.created_at < datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC))
    if spec.entity not in ("contact", "company"):
        return stmt  # the filters below are about clients' phones, emails and activity
    if name == "has_phone":
        owner_col = Phone.contact_id if spec.entity == "contact" else Phone.company_id
        has = exists().where(owner_col == model.id)
        return stmt.where(has if params.flag(name, values[0]) else ~has)
    if name == "has_email":
        owner_col = Email.contact_id if spec.entity == "contact" else Email.company_id
        has = exists().where(owner_col == model.id)
        return stmt.where(has if params.flag(name, values[0]) else ~has)
    if name == "phone_e164":
        owner_col = Phone.contact_id if spec.entity == "contact" else Phone.company_id
        return stmt.where(model.id.in_(select(owner_col).where(Phone.e164.in_(values))))
    if name == "phone":
        region = default_phone_region()
        numbers = [p.e164 for p in (phones.parse(v, region) for v in values) if p.e164]
        return _filter(spec, stmt, "phone_e164", numbers, user) if numbers else stmt.where(false())
    if name == "flagged_phone":
        owner_col = Phone.contact_id if spec.entity == "contact" else Phone.company_id
        return stmt.where(exists().where(owner_col == model.id, Phone.valid.is_(False)))
    if name == "quiet_days":
        since = utcnow() - timedelta(days=params.integer(name, values[0], 0, 36_500))
        return stmt.where(func.coalesce(model.last_activity_at, model.created_at) < since)
    if name == "birthday_month" and spec.entity == "contact":
        month = f"{params.integer(name, values[0], 1, 12):02d}"
        return stmt.where(func.strftime("%m", Contact.birthday) == month if db.engine.dialect.name == "sqlite"
                          else func.to_char(Contact.birthday, "MM") == month)
    if name.startswith("custom."):
        return stmt.where(_custom_condition(spec, name.removeprefix("custom."), values))
    return stmt  # unknown filters are ignored: the allow-list is this function


def _deal_condition(name: str, values: list[str], user: User | None) -> Any:
    """The deal list's own filters: pipeline, stage, status (open/won/lost), client, amount and close ranges."""
    if name in ("pipeline", "stage", "contact", "company"):
        return getattr(Deal, f"{name}_id").in_(_ints(name, values, user))
    if name == "status":
        kinds = [params.choice(name, v, ("open", "won", "lost")) for v in values]
        return Deal.stage_id.in_(select(Stage.id).where(Stage.kind.in_(kinds)))
    if name in ("amount_from", "amount_to"):
        amount = params.amount(name, values[0])
        return Deal.amount >= amount if name == "amount_from" else Deal.amount <= amount
    if name in ("close_from", "close_to"):
        day = params.day(name, values[0])
        return Deal.expected_close >= day if name == "close_from" else Deal.expected_close <= day
    return None


@dataclass
class Page:
    rows: list[Any]
    next_cursor: str | None


def group_options(spec: EntityList) -> tuple[str, ...]:
    """The groupings ``spec``'s list offers."""
    return tuple(g for g in GROUPS if g == "owner" or (g == "stage" and spec.entity == "deal")
                 or (g == "tag" and spec.tag_table is not None) or (g == "company" and spec.entity == "contact")
                 or (g not in ("stage", "tag", "company") and hasattr(spec.model, g)))


def check(spec: EntityList, query: ListQuery) -> None:
    """Refuse a sort or grouping ``spec``'s list does not have (:class:`params.BadParameter`)."""
    params.choice("sort", query.sort, spec.sorts)
    if query.group is not None:
        params.choice("group", query.group, group_options(spec))


def validate(spec: EntityList, query: ListQuery, user: User | None) -> None:
    """Raise :class:`params.BadParameter` now for anything :func:`page` would refuse later: for callers that
    stream their answer (exports), where a refusal after the first byte could no longer be a 400."""
    check(spec, query)
    apply_filters(spec, select(spec.model.id), query, user)
    _decode(query.cursor, spec.sorts[query.sort])


def page(spec: EntityList, query: ListQuery, user: User | None) -> Page:
    """A page of ``spec``'s records as entities, their related rows loaded with them (the API, exports, pickers)."""
    model = spec.model
    stmt, sort = keyset_statement(spec, select(model), query, user)
    if spec.related:
        stmt = stmt.options(*loading.with_related(*[getattr(model, name) for name in spec.related]))
    return cut(list(db.session.scalars(stmt).unique()), query, sort)


def keyset_statement(spec: EntityList, stmt: Select[Any], query: ListQuery,
                     user: User | None) -> tuple[Select[Any], Sort]:
    """``stmt`` (of the entity, or of some of its columns including the sort column and the id) narrowed to the
    list's filters, the reader's scope and the page after the cursor, in the list's order, one row more than a page
    (to know whether there is a next one)."""
    check(spec, query)
    sort = spec.sorts[query.sort]
    model = spec.model
    stmt = apply_filters(spec, stmt, query, user)
    after = _decode(query.cursor, sort)
    if after is not None:
        # a row-value comparison, which both databases answer with one index range scan
        value, ident = after
        key = tuple_(sort.column, model.id)
        stmt = stmt.where(key < tuple_(value, ident) if query.desc else key > tuple_(value, ident))
    order = (sort.column.desc(), model.id.desc()) if query.desc else (sort.column.asc(), model.id.asc())
    return stmt.order_by(*order).limit(query.limit + 1), sort


def cut(rows: list[Any], query: ListQuery, sort: Sort) -> Page:
    """The page of the rows :func:`keyset_statement` read, and the cursor of the next page when there is one."""
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    cursor = None
    if more and rows:
        last = rows[-1]
        cursor = _encode(getattr(last, sort.column.key), last.id)
    return Page(rows, cursor)


def groups(spec: EntityList, query: ListQuery, user: User | None) -> list[tuple[Any, str, int]]:
    """``(value, label, count)`` for the chosen grouping, largest groups first."""
    check(spec, query)
    model = spec.model
    base = apply_filters(spec, select(model.id), query, user).subquery()
    column: Any
    label: Callable[[Any], str] = lambda v: str(v) if v not in (None, "") else "—"  # noqa: E731
    if query.group == "owner":
        stmt = (select(model.owner_id, func.count()).where(model.id.in_(select(base.c.id)))
                .group_by(model.owner_id))
        names = {u.id: u.display_name for u in db.session.scalars(select(User))}
        label = lambda v: names.get(v, "—")  # noqa: E731
    elif query.group == "stage" and spec.entity == "deal":
        stmt = (select(Deal.stage_id, func.count()).where(Deal.id.in_(select(base.c.id))).group_by(Deal.stage_id))
        stage_names = dict(db.session.execute(select(Stage.id, Stage.name)).all())
        label = lambda v: stage_names.get(v, "—")  # noqa: E731
    elif query.group == "tag" and spec.tag_table is not None:
        link = spec.tag_table
        stmt = (select(Tag.name, func.count()).join(link, link.c.tag_id == Tag.id)
                .where(getattr(link.c, spec.tag_column).in_(select(base.c.id))).group_by(Tag.name))
    elif query.group == "company" and spec.entity == "contact":
        stmt = (select(Company.name, func.count()).join(ContactCompany, ContactCompany.company_id == Company.id)
                .where(ContactCompany.contact_id.in_(select(base.c.id))).group_by(Company.name))
    elif query.group in GROUPS and hasattr(model, query.group or ""):
        column = getattr(model, str(query.group))
        stmt = select(column, func.count()).where(model.id.in_(select(base.c.id))).group_by(column)
    else:
        return []
    rows = db.session.execute(stmt.order_by(func.count().desc()).limit(GROUP_LIMIT)).all()
    return [(value, label(value), count) for value, count in rows]


def count(spec: EntityList, query: ListQuery, user: User | None, cap: int = 1_000) -> tuple[int, bool]:
    """How many rows match, counted up to ``cap`` (so a count never scans a million rows): (n, capped)."""
    stmt = apply_filters(spec, select(spec.model.id), query, user).limit(cap + 1).subquery()
    n = db.session.scalar(select(func.count()).select_from(stmt)) or 0
    return min(n, cap), n > cap
