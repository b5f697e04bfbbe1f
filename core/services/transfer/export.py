"""Exports of what a user may see: the current list view or everything, to XLSX, CSV or vCard.

Contacts, companies, deals and tasks. Rows are read in keyset batches (constant memory at any size); big exports
run as a job that writes the file (see :func:`write`). Cells pass through one function on their way into a file
(:func:`neutralise`, called by the writers :func:`to_csv` and :func:`to_xlsx`): a cell that a spreadsheet would run
as a formula — one starting with ``= + - @`` once what a spreadsheet skips is skipped (spaces of every kind,
zero-width and other invisible characters, a byte-order mark, line breaks) and full-width look-alikes (``＝ ＋ － ＠``)
are read as what they look like — or one starting with a tab, CR, LF or NUL gets an apostrophe in front, and XLSX
cells are always string cells, so an export never carries a formula.

Phone numbers are the exception that needs none: a cell made only of ``+``, digits, brackets, dots, hyphens and at
least one space (``+44 20 7946 0958``, what the exports write for a phone) can call no function. XLSX keeps it as
the text it is; Excel opening a CSV cannot read it as a number or a formula either (the spaces stop both) and keeps
it as text, so it shows without a visible mark.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import date, datetime
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import select

from core.db import db
from core.models import Company, Contact, Deal, Pipeline, Stage, Task, User
from core.plugins.facades import default_phone_region
from core.services.clients import custom_fields, labels, listing, phones
from core.services.platform import access, params, storage
from core.services.platform.access import require
from core.services.platform.context import Actor

BATCH = 500
TITLES = {"contacts": _l("Contacts"), "companies": _l("Companies"), "deals": _l("Deals"), "tasks": _l("Tasks")}
ENTITIES = {"contacts": "contact", "companies": "company", "deals": "deal", "tasks": "task"}
FORMATS = ("xlsx", "csv", "vcard")
DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")
FORMULA_START = ("=", "+", "-", "@")
# Invisible characters that are not whitespace nor of a category skipped below (Hangul fillers, the combining
# grapheme joiner, Khmer inherent vowels): a spreadsheet may show nothing for them either.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u034f\u17b4\u17b5")
# A phone as the exports write it: digits and separators with at least one space, no operator but a leading "+".
_PHONE = re.compile(r"\+?[0-9][0-9().\-]*(?: [0-9().\-]+)+")


def _skipped(char: str) -> bool:
    """Whether a spreadsheet may skip ``char`` before it reads a cell: spaces of every kind, control and format
    characters (zero-width space, byte-order mark, direction marks), combining marks, unassigned code points."""
    return char.isspace() or unicodedata.category(char)[0] in "CZM" or char in _INVISIBLE


def formula_like(text: str) -> bool:
    """Whether a spreadsheet could read ``text`` as a formula (or as the start of a cell it would shift)."""
    if text.startswith(("\t", "\r", "\n", "\0")):
        return True
    start = 0
    while start < len(text) and _skipped(text[start]):
        start += 1
    if start == len(text):
        return False
    # full-width ＝ ＋ － ＠ and small ﹦ ﹢ ﹣ ﹫ are read as = + - @
    first = unicodedata.normalize("NFKC", text[start])[:1]
    return first in FORMULA_START and _PHONE.fullmatch(text) is None


def neutralise(value: Any) -> str:
    """The text of one exported cell, with an apostrophe in front when a spreadsheet could run it as a formula."""
    text = "" if value is None else str(value)
    text = text.replace("\0", "")
    return "'" + text if formula_like(text) else text


def _rows(spec: listing.EntityList, query: listing.ListQuery, user: User | None) -> Iterator[Any]:
    query = listing.ListQuery(q=query.q, filters=query.filters, sort=query.sort, desc=query.desc,
                              limit=BATCH)
    while True:
        page = listing.page(spec, query, user)
        yield from page.rows
        for row in page.rows:  # keep memory flat however many rows there are
            db.session.expunge(row)
        if not page.next_cursor:
            return
        query.cursor = page.next_cursor


def _format(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return "" if value is None else str(value)


def table(entity: str, actor: Actor, query: listing.ListQuery) -> tuple[list[str], Iterator[list[str]]]:
    """Header and rows (cell texts, neutralised by the writers) of an export of ``entity`` (contacts, companies,
    deals or tasks)."""
    kind = ENTITIES.get(entity)
    if kind is None:
        raise ValueError(entity)
    require(actor.user, "export" if kind != "task" else "view", kind)
    owners = {u.id: u.display_name for u in db.session.query(User).all()}
    if kind == "deal":
        return _deals(actor, query, owners)
    if kind == "task":
        return _tasks(actor, owners, query)
    spec = listing.CONTACTS if kind == "contact" else listing.COMPANIES
    fields = custom_fields.definitions(kind)
    region = default_phone_region()
    if kind == "contact":
        header = ["ID", _("Last name"), _("First name"), _("Middle name"), _("Phones"), _("Emails"), _("Companies"),
                  _("Job title"), _("Birthday"), _("City"), _("Region"), _("Source"), _("Owner"), _("Tags"),
                  _("Created")]
    else:
        header = ["ID", _("Name"), _("Industry"), _("Website"), _("Phones"), _("Emails"), _("City"), _("Region"),
                  _("Source"), _("Owner"), _("Tags"), _("Created")]
    header += [f.label for f in fields]

    def rows() -> Iterator[list[str]]:
        for record in _rows(spec, query, actor.user):
            phone_text = ", ".join(phones.display(p.e164, p.raw, region) for p in record.phones)
            email_text = ", ".join(e.address for e in record.emails)
            tags = ", ".join(t.name for t in record.tags)
            if isinstance(record, Contact):
                values: list[Any] = [record.id, record.last_name, record.first_name, record.middle_name, phone_text,
                                     email_text, ", ".join(m.company.name for m in record.memberships),
                                     record.job_title, record.birthday, record.city, record.region, record.source,
                                     owners.get(record.owner_id or 0, ""), tags, record.created_at]
            else:
                assert isinstance(record, Company)
                values = [record.id, record.name, record.industry, record.website, phone_text, email_text,
                          record.city, record.region, record.source, owners.get(record.owner_id or 0, ""), tags,
                          record.created_at]
            values += [(record.custom or {}).get(f.key) for f in fields]
            yield [_format(v) for v in values]

    return header, rows()


def _deals(actor: Actor, query: listing.ListQuery, owners: dict[int, str]) -> tuple[list[str], Iterator[list[str]]]:
    header = ["ID", _("Title"), _("Pipeline"), _("Stage"), _("Amount"), _("Currency"), _("Contact"), _("Company"),
              _("Owner"), _("Source"), _("Channel"), _("Expected close"), _("Probability"), _("Lost reason"),
              _("Created"), _("Closed")]
    stages = {s.id: s.name for s in db.session.scalars(select(Stage))}
    pipelines = {p.id: p.name for p in db.session.scalars(select(Pipeline))}

    def rows() -> Iterator[list[str]]:
        page: list[Deal] = []
        for deal in _rows(listing.DEALS, query, actor.user):
            page.append(deal)
            if len(page) == BATCH:
                yield from _deal_rows(page, stages, pipelines, owners)
                page = []
        yield from _deal_rows(page, stages, pipelines, owners)

    return header, rows()


def _deal_rows(deals: list[Deal], stages: dict[int, str], pipelines: dict[int, str],
               owners: dict[int, str]) -> Iterator[list[str]]:
    names = labels.linked_names(deals)
    for deal in deals:
        values = [deal.id, deal.title, pipelines.get(deal.pipeline_id, ""), stages.get(deal.stage_id, ""),
                  deal.amount, deal.currency, names["contact"].get(deal.contact_id or 0, ""),
                  names["company"].get(deal.company_id or 0, ""), owners.get(deal.owner_id or 0, ""), deal.source,
                  deal.channel, deal.expected_close, deal.probability, deal.lost_reason, deal.created_at,
                  deal.closed_at]
        yield [_format(v) for v in values]


def day_tasks(actor: Actor, owner_id: int) -> list[Task]:
    """The tasks of one person's day page, in the page's order (overdue, today, the next days, undated): the
    list on screen when the export is asked from that page."""
    from core.services.work import tasks

    day = tasks.my_day(actor, owner_id, entities=True)
    return [*day.overdue, *day.today, *day.upcoming, *day.undated]


def _tasks(actor: Actor, owners: dict[int, str], query: listing.ListQuery) -> tuple[list[str], Iterator[list[str]]]:
    """Tasks: a person's day (``owner`` in the query, as the day page links it) or every task the actor may see."""
    header = ["ID", _("Title"), _("Status"), _("Priority"), _("Due"), _("Owner"), _("Contact"), _("Company"),
              _("Deal"), _("Notes"), _("Created"), _("Completed")]
    owner = query.filters.get("owner")
    # read now, not while the file streams: a bad owner is a 400 before the first byte
    owner_id = params.record_ids("owner", owner[:1], me=actor.user_id)[0] if owner else None

    def task_rows(page: list[Task]) -> Iterator[list[str]]:
        names = labels.linked_names(page)
        for task in page:
            values = [task.id, task.title, task.status, task.priority, task.due_at,
                      owners.get(task.owner_id or 0, ""), names["contact"].get(task.contact_id or 0, ""),
                      names["company"].get(task.company_id or 0, ""), names["deal"].get(task.deal_id or 0, ""),
                      task.notes, task.created_at, task.completed_at]
            yield [_format(v) for v in values]

    def rows() -> Iterator[list[str]]:
        if owner_id is not None:
            yield from task_rows(day_tasks(actor, owner_id))
            return
        last = 0
        while True:
            stmt = select(Task).where(Task.deleted_at.is_(None), Task.id > last).order_by(Task.id).limit(BATCH)
            page = list(db.session.scalars(access.filter_query(actor.user, "view", "task", stmt, Task.owner_id)))
            if not page:
                return
            yield from task_rows(page)
            last = page[-1].id
            db.session.expunge_all()

    return header, rows()


def to_csv(header: list[str], rows: Iterator[list[str]], encoding: str = "utf-8-sig") -> Iterator[bytes]:
    """CSV for spreadsheets: UTF-8 with BOM (Excel opens it right), or Windows-1251 on request; ``;``-separated
    for the Russian Excel default."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", quoting=csv.QUOTE_MINIMAL)
    first = True
    writer.writerow([neutralise(cell) for cell in header])
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
        if buffer.tell() > 64 * 1024:
            yield _encode(buffer, encoding, first)
            first = False
    yield _encode(buffer, encoding, first)


def _encode(buffer: io.StringIO, encoding: str, first: bool) -> bytes:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    if encoding == "utf-8-sig" and not first:
        return text.encode("utf-8")
    return text.encode(encoding, errors="replace")


def to_xlsx(header: list[str], rows: Iterator[list[str]], target: Any, title: str) -> None:
    """Write an XLSX in streaming mode; every cell is a string cell, never a formula."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    sheet.append(_xlsx_row(header))
    for row in rows:
        sheet.append(_xlsx_row(row))
    book.save(target)


def _xlsx_row(row: list[str]) -> list[str]:
    # XML cannot hold most control characters (openpyxl refuses them): they go, then the cell is neutralised
    return [neutralise(ILLEGAL_CHARACTERS_RE.sub("", str(cell))) for cell in row]


def to_vcard(entity: str, actor: Actor, query: listing.ListQuery) -> Iterator[bytes]:
    """vCard 3.0 (what phones and mail clients read) of the contacts or companies in view, one card each."""
    import vobject

    kind = ENTITIES.get(entity)
    if kind not in ("contact", "company"):
        raise ValueError(entity)
    require(actor.user, "export", kind)
    spec = listing.CONTACTS if kind == "contact" else listing.COMPANIES
    for record in _rows(spec, query, actor.user):
        card = vobject.vCard()
        if isinstance(record, Contact):
            card.add("n").value = vobject.vcard.Name(family=record.last_name, given=record.first_name,
                                                     additional=record.middle_name)
            card.add("fn").value = record.display_name
            if record.memberships:
                card.add("org").value = [record.memberships[0].company.name]
            if record.job_title:
                card.add("title").value = record.job_title
            if record.birthday:
                card.add("bday").value = record.birthday.isoformat()
        else:
            card.add("n").value = vobject.vcard.Name(family=record.name)
            card.add("fn").value = record.name
            card.add("org").value = [record.name]
        for phone in record.phones:
            tel = card.add("tel")
            tel.value = phone.e164 or phone.raw
            tel.type_param = {"mobile": "CELL", "work": "WORK", "home": "HOME", "fax": "FAX"}.get(phone.kind, "VOICE")
        for email in record.emails:
            mail = card.add("email")
            mail.value = email.address
            mail.type_param = "INTERNET"
        if record.city:
            card.add("adr").value = vobject.vcard.Address(city=record.city, region=record.region)
        if record.notes:
            card.add("note").value = record.notes
        card.add("uid").value = f"mayak-{kind}-{record.id}"
        yield card.serialize().encode("utf-8")


def write(entity: str, fmt: str, actor: Actor, query: listing.ListQuery, target: Any,
          encoding: str = "utf-8-sig") -> int:
    """Write the export to ``target`` (a path or a binary file); returns how many records it holds."""
    if fmt not in FORMATS:
        raise ValueError(fmt)
    count = 0

    def counted(rows: Iterator[Any]) -> Iterator[Any]:
        nonlocal count
        for row in rows:
            count += 1
            yield row

    if fmt == "vcard":
        chunks: Iterator[bytes] = counted(to_vcard(entity, actor, query))
    else:
        header, rows = table(entity, actor, query)
        if fmt == "xlsx":
            to_xlsx(header, counted(rows), target, str(TITLES[entity]))
            return count
        chunks = to_csv(header, counted(rows), encoding)
    with open(target, "wb") if isinstance(target, str | Path) else nullcontext(target) as fh:
        for chunk in chunks:
            fh.write(chunk)
    return count


INLINE_LIMIT = 5_000  # bigger exports are written by a job, with a progress bar, then downloaded
MEDIA = {"xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
         "csv": ("text/csv", "csv"), "vcard": ("text/vcard", "vcf")}


def needs_job(entity: str, actor: Actor, query: listing.ListQuery) -> bool:
    """Whether the export is big enough to be written by a job rather than streamed in the request."""
    if entity == "tasks":
        stmt = access.filter_query(actor.user, "view", "task",
                                   select(Task.id).where(Task.deleted_at.is_(None)).limit(INLINE_LIMIT + 1),
                                   Task.owner_id)
        return len(db.session.execute(stmt).all()) > INLINE_LIMIT
    spec = {"contacts": listing.CONTACTS, "companies": listing.COMPANIES, "deals": listing.DEALS}[entity]
    count, capped = listing.count(spec, query, actor.user, cap=INLINE_LIMIT)
    return capped or count > INLINE_LIMIT


def key_of(name: str) -> str:
    """Where an export written by a job is kept in the storage (``ValueError`` for a name that is not a file's)."""
    return storage.validate_key(f"exports/{name}")


def start_job(entity: str, fmt: str, actor: Actor, query: listing.ListQuery, encoding: str) -> Any:
    """Queue the export as a job; its result names the file written under ``exports/`` of the storage."""
    from core import jobs

    require(actor.user, "export" if entity != "tasks" else "view", ENTITIES[entity])
    record = jobs.enqueue("core.export", created_by_id=actor.user_id, entity=entity, fmt=fmt, encoding=encoding,
                          args=query.as_args())
    db.session.flush()
    return record


def run_job(ctx: Any, entity: str, fmt: str, encoding: str, args: dict[str, Any]) -> dict[str, Any]:
    """The ``core.export`` job: write the file as the user who asked for it."""
    from werkzeug.datastructures import MultiDict

    from core import jobs

    record = jobs.get(ctx.record_id)
    user = db.session.get(User, record.created_by_id) if record and record.created_by_id else None
    actor = Actor(user, via="job")
    query = listing.ListQuery.from_args(MultiDict([(k, v) for k, values in args.items()
                                                   for v in (values if isinstance(values, list) else [values])]))
    name = f"{entity}-{ctx.record_id}.{MEDIA[fmt][1]}"
    # written to a local file (the spreadsheet writer needs one), stored when complete
    with storage.current().staging(key_of(name)) as path:
        rows = write(entity, fmt, actor, query, path, encoding)
    return {"file": name, "rows": rows}
