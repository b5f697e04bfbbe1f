"""Repeat rules in people's terms: the task form's friendly choices (how often, every how many, which weekdays,
which day of the month, when it stops) turned into an RFC 5545 RRULE, and any stored rule said back in words in
the reader's language ("каждый квартал, 5-го числа, 8 раз", "every weekday", "каждый месяц в последний день").

Users never type or read RRULE text; :mod:`core.services.work.recurrence` validates and runs the rules.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from babel.dates import format_date
from flask_babel import get_locale, gettext, ngettext
from flask_babel import lazy_gettext as _l

from core.services.platform.errors import InvalidInput

FREQUENCIES = {"daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY", "yearly": "YEARLY"}
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WORKDAYS = WEEKDAYS[:5]
MAX_INTERVAL = 99
MAX_COUNT = 1000


def _whole(value: Any, lo: int, hi: int) -> int | None:
    text = str(value or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        return None
    number = int(text)
    return number if lo <= number <= hi else None


def build(values: dict[str, Any]) -> str:
    """The RRULE for the form's choices, or :class:`InvalidInput` naming each field to fix.

    ``repeat`` (daily, weekdays, weekly, monthly, quarterly, yearly), ``interval`` (every how many), ``by_day``
    (weekdays for weekly), ``month_day`` (1-31 or ``last``, for monthly), ``ends`` (``count`` or ``until``) with
    ``count`` or ``until`` (a date)."""
    from core.services.clients.custom_fields import parse_date

    errors: dict[str, Any] = {}
    repeat = str(values.get("repeat") or "")
    interval = 1
    if repeat == "quarterly":
        freq, interval = "MONTHLY", 3
    elif repeat == "weekdays":
        freq = "WEEKLY"
    elif repeat in FREQUENCIES:
        freq = FREQUENCIES[repeat]
        if str(values.get("interval") or "").strip():
            parsed = _whole(values.get("interval"), 1, MAX_INTERVAL)
            if parsed is None:
                errors["interval"] = _l("Repeat every 1 to %(max)s periods.", max=MAX_INTERVAL)
            interval = parsed or 1
    else:
        raise InvalidInput({"repeat": _l("Choose how often the task repeats.")})
    parts = [f"FREQ={freq}"]
    if interval > 1:
        parts.append(f"INTERVAL={interval}")
    if repeat == "weekdays":
        parts.append("BYDAY=" + ",".join(WORKDAYS))
    elif freq == "WEEKLY":
        by_day = values.get("by_day") or []
        days = [d for d in WEEKDAYS if d in ([by_day] if isinstance(by_day, str) else list(by_day))]
        if days:
            parts.append("BYDAY=" + ",".join(days))
    if freq == "MONTHLY":
        month_day = str(values.get("month_day") or "").strip()
        if month_day == "last":
            parts.append("BYMONTHDAY=-1")
        elif month_day:
            day = _whole(month_day, 1, 31)
            if day is None:
                errors["month_day"] = _l("Choose a day of the month from 1 to 31, or the last day.")
            else:
                parts.append(f"BYMONTHDAY={day}")
    ends = str(values.get("ends") or ("until" if values.get("until") and not values.get("count") else "count"))
    if ends == "until":
        try:
            until = parse_date(str(values.get("until") or "")[:40])
        except (ValueError, OverflowError):
            until = None
        if until is None:
            errors["until"] = _l("Enter the last date as DD.MM.YYYY.")
        else:
            parts.append(f"UNTIL={until:%Y%m%d}T235959")
    else:
        count = _whole(values.get("count"), 1, MAX_COUNT)
        if count is None:
            errors["count"] = _l("Say how many times: from 1 to %(max)s.", max=MAX_COUNT)
        else:
            parts.append(f"COUNT={count}")
    if errors:
        raise InvalidInput(errors)
    return ";".join(parts)


def choices_of(rule: str) -> dict[str, Any]:
    """The form's choices for a stored rule (to show it again in the form)."""
    parts = _parts(rule)
    freq = parts.get("FREQ", "")
    interval = _whole(parts.get("INTERVAL"), 1, 10_000) or 1
    days = [d[-2:] for d in parts.get("BYDAY", "").split(",") if d]
    repeat = {v: k for k, v in FREQUENCIES.items()}.get(freq, "")
    if freq == "WEEKLY" and interval == 1 and days == list(WORKDAYS):
        repeat, days = "weekdays", []
    if freq == "MONTHLY" and interval == 3:
        repeat, interval = "quarterly", 1
    month_day = parts.get("BYMONTHDAY", "")
    until = _until(parts.get("UNTIL", ""))
    return {"repeat": repeat, "interval": str(interval) if interval > 1 else "", "by_day": days,
            "month_day": "last" if month_day == "-1" else month_day,
            "ends": "until" if until else "count", "count": parts.get("COUNT", ""),
            "until": until.isoformat() if until else ""}


def _parts(rule: str) -> dict[str, str]:
    body = str(rule or "").strip().removeprefix("RRULE:")
    parts: dict[str, str] = {}
    for piece in body.split(";"):
        key, _, value = piece.partition("=")
        if key.strip():
            parts[key.strip().upper()] = value.strip().upper()
    return parts


def _until(text: str) -> date | None:
    try:
        return datetime.strptime(text[:8], "%Y%m%d").date() if text else None
    except ValueError:
        return None


DAY_NAMES = {"MO": _l("Mondays"), "TU": _l("Tuesdays"), "WE": _l("Wednesdays"), "TH": _l("Thursdays"),
             "FR": _l("Fridays"), "SA": _l("Saturdays"), "SU": _l("Sundays")}


def _listed(items: list[str]) -> str:
    if len(items) < 2:
        return "".join(items)
    return gettext("%(items)s and %(last)s", items=", ".join(items[:-1]), last=items[-1])


def _ordinal(day: int) -> str:
    """A day of the month as the reader's language writes it inside "on the %(day)s": 5th in English; the
    number alone where the sentence carries the ending (Russian: "5-го числа")."""
    if not str(get_locale() or "en").startswith("en"):
        return str(day)
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def describe(rule: str) -> str:
    """The rule in words in the current language; parts it cannot say (hand-typed BYSETPOS and the like) are left
    out rather than shown as code."""
    parts = _parts(rule)
    freq = parts.get("FREQ", "")
    interval = _whole(parts.get("INTERVAL"), 1, 10_000) or 1
    days = [d[-2:] for d in parts.get("BYDAY", "").split(",") if d[-2:] in WEEKDAYS]
    if freq == "DAILY":
        every = gettext("every day") if interval == 1 else ngettext(
            "every %(num)d day", "every %(num)d days", interval)
    elif freq == "WEEKLY":
        if interval == 1 and days == list(WORKDAYS):
            every, days = gettext("every weekday"), []
        else:
            every = gettext("every week") if interval == 1 else ngettext(
                "every %(num)d week", "every %(num)d weeks", interval)
    elif freq == "MONTHLY":
        every = (gettext("every month") if interval == 1 else gettext("every quarter") if interval == 3
                 else ngettext("every %(num)d month", "every %(num)d months", interval))
    elif freq == "YEARLY":
        every = gettext("every year") if interval == 1 else ngettext(
            "every %(num)d year", "every %(num)d years", interval)
    else:
        every = gettext("on a schedule")
    if days:
        every = gettext("%(every)s on %(days)s", every=every, days=_listed([str(DAY_NAMES[d]) for d in days]))
    month_day = parts.get("BYMONTHDAY", "")
    if month_day == "-1":
        every = gettext("%(every)s on the last day", every=every)
    elif month_day.isdigit() and month_day.isascii() and 1 <= int(month_day) <= 31:
        every = gettext("%(every)s, on the %(day)s", every=every, day=_ordinal(int(month_day)))
    count = _whole(parts.get("COUNT"), 1, 10**6)
    until = _until(parts.get("UNTIL", ""))
    if count:
        every = ", ".join((every, ngettext("%(num)d time", "%(num)d times", count)))
    elif until:
        every = ", ".join((every, gettext("until %(day)s",
                                          day=format_date(until, "medium", locale=str(get_locale() or "en")))))
    return every
