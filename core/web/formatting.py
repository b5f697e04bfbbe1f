"""Template filters that write moments, amounts and numbers the way the reader reads them.

A list draws hundreds of them, so the reader's locale, time zone and phone region are found once per render (a
context processor puts them in the template context) and each filter only looks them up there; the formatted
text itself is cached per value. A template rendered under ``force_locale`` (a mail in its recipient's
language) gets its own reader, because the context processor runs when that render starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel import dates as babel_dates
from babel.numbers import format_currency
from babel.units import format_unit
from flask import Flask
from flask_babel import get_locale, get_timezone
from jinja2 import pass_context
from jinja2.runtime import Context

from core.models import utcnow
from core.plugins import facades
from core.services.clients import phones

READER = "_mayak_reader"


@dataclass(frozen=True)
class Reader:
    """Who reads the page: their locale and time zone (names) and the installation's phone region."""

    locale: str
    zone: str
    phone_region: str


def current_reader() -> Reader:
    return Reader(str(get_locale() or "en"), str(get_timezone() or "UTC"), facades.default_phone_region())


def reader_of(context: Context) -> Reader:
    """The reader of this render (the context processor's), or found now for a template rendered without it
    (a macro module imported without context)."""
    found = context.get(READER)
    return found if isinstance(found, Reader) else current_reader()


@lru_cache(maxsize=8192)
def money_text(amount: str, currency: str, locale: str) -> str:
    """An amount in the reader's locale (``1 250 000,50 ₽``); boards show hundreds, so each text is kept."""
    return format_currency(Decimal(amount), currency, locale=locale)


@lru_cache(maxsize=8192)
def moment_text(value: datetime | str, fmt: str, zone: str, locale: str) -> str:
    """A moment in the reader's time zone and locale; task lists repeat the same due times (18:00 today...).
    An ISO string (as JSON data, such as a timeline entry's, keeps moments) is read first."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return babel_dates.format_datetime(value, fmt, tzinfo=babel_dates.get_timezone(zone), locale=locale)


@pass_context
def money_filter(context: Context, amount: Any, currency: str) -> str:
    return money_text(str(amount), currency, reader_of(context).locale)


@pass_context
def datetime_filter(context: Context, value: datetime | str | None, fmt: str = "medium") -> str:
    if not value:
        return ""
    reader = reader_of(context)
    return moment_text(value, fmt, reader.zone, reader.locale)


@lru_cache(maxsize=8192)
def relative_text(minutes: int, locale: str) -> str:
    """``minutes`` from now in words ("5 minutes ago", "in 2 days"); a timeline draws hundreds, and the words of a
    whole number of minutes are the same for every entry and request."""
    return babel_dates.format_timedelta(timedelta(minutes=minutes), add_direction=True, granularity="minute",
                                        locale=locale)


@pass_context
def relative_filter(context: Context, moment: datetime) -> str:
    """"5 minutes ago" within a week, the date after that (the exact time is in the title attribute)."""
    reader = reader_of(context)
    delta = moment - utcnow()
    if abs(delta) < timedelta(days=7):
        seconds = delta.total_seconds()
        minutes = round(seconds / 60) or (1 if seconds > 0 else -1)  # under half a minute: as babel says it
        return relative_text(minutes, reader.locale)
    return moment_text(moment, "short", reader.zone, reader.locale)


@pass_context
def date_value_filter(context: Context, value: object) -> str:
    """A stored date (an ISO string in custom fields) in the reader's short format; other text as it is."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, date):
        return babel_dates.format_date(value, "short", locale=reader_of(context).locale)
    return str(value)


@pass_context
def phone_filter(context: Context, phone: Any) -> str:
    return phones.display(phone.e164, phone.raw, reader_of(context).phone_region)


@pass_context
def phone_number_filter(context: Context, e164: str | None, raw: str = "") -> str:
    """A number kept as E.164 (and as the PBX gave it), shown as the reader dials it."""
    return phones.display(e164, raw or "", reader_of(context).phone_region)


def date_input(value: object) -> str:
    """A date as the date inputs take it back (DD.MM.YYYY, as their placeholder says), whatever the locale; what
    was typed (an ISO string from storage, or text after an error) is kept when it is not a stored date."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    return value.strftime("%d.%m.%Y") if isinstance(value, date) else ("" if value is None else str(value))


@lru_cache(maxsize=4096)
def size_text(size: int, locale: str) -> str:
    """A file's size in the reader's words and units: ``37 байт``, ``350 кБ``, ``1,2 МБ`` (``37 bytes``,
    ``1.2 MB``); Jinja's own ``filesizeformat`` writes English units whatever the language."""
    if size < 1000:
        return format_unit(size, "digital-byte", length="long", locale=locale)
    for unit, scale in (("digital-kilobyte", 1e3), ("digital-megabyte", 1e6), ("digital-gigabyte", 1e9)):
        if size < scale * 1000 or unit == "digital-gigabyte":
            return format_unit(size / scale, unit, length="short", locale=locale, format="#,##0.#")
    raise AssertionError("unreachable")


@pass_context
def size_filter(context: Context, size: Any) -> str:
    return size_text(int(size or 0), reader_of(context).locale)


def init_formatting(app: Flask) -> None:
    app.context_processor(lambda: {READER: current_reader()})
    app.jinja_env.filters.update({
        "money": money_filter, "datetime": datetime_filter, "relative": relative_filter,
        "format_date_value": date_value_filter, "date_input": date_input, "phone": phone_filter,
        "phone_number": phone_number_filter, "filesize": size_filter,
    })
