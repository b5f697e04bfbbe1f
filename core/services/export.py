"""Exports of what a user may see: the current list view or everything, to XLSX, CSV or vCard.

Rows are read in keyset batches (constant memory at any size). Every text cell that a spreadsheet would run as
a formula (starting with ``= + - @``, tab, CR or NUL) is prefixed with an apostrophe, and cells are always
written as text, so an export can never carry a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from openpyxl import Workbook

from core.db import db
from core.models import Company, Contact, User
from core.plugins.facades import default_phone_region
from core.services import custom_fields, listing, phones
from core.services.access import require
from core.services.context import Actor

BATCH = 500
DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r", "\0")


def neutralise(value: Any) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\0", "")
    if text.startswith(DANGEROUS_START):
        return "'" + text
    return text


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
    """Header and rows (already neutralised) of an export of ``entity`` (``contacts`` or ``companies``)."""
    kind = "contact" if entity == "contacts" else "company"
    require(actor.user, "export", kind)
    spec = listing.CONTACTS if kind == "contact" else listing.COMPANIES
    fields = custom_fields.definitions(kind)
    owners = {u.id: u.display_name for u in db.session.query(User).all()}
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
            yield [neutralise(_format(v)) for v in values]

    return [neutralise(h) for h in header], rows()


def to_csv(header: list[str], rows: Iterator[list[str]], encoding: str = "utf-8-sig") -> Iterator[bytes]:
    """CSV for spreadsheets: UTF-8 with BOM (Excel opens it right), or Windows-1251 on request; ``;``-separated
    for the Russian Excel default."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", quoting=csv.QUOTE_MINIMAL)
    first = True
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
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
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(target)
