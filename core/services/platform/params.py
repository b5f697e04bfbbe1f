"""Parameters typed into addresses (list filters, sort keys, paging cursors, ids in query strings), each kind
parsed in one place.

The rule everywhere: a value that is present but not of its kind is refused with :class:`BadParameter` (the web
answers 400 with the translated message, the API its JSON error), never passed on to the database where it
would fail as a 500 (``²`` is a digit to ``str.isdigit()`` but not to ``int()``; ``9223372036854775808`` is an
integer to Python but not to PostgreSQL's ``bigint``; ``31.12.9999`` is a date but the day after it is not).
An empty value means "no filter". Parsers take the parameter's name so the message can say what to fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l

from core.services.platform.errors import InvalidInput
from core.services.platform.text import parse_date

# the largest id a record can have: ids are Integer columns, PostgreSQL's 32-bit ``integer`` (SQLAlchemy binds
# values with a cast to it, so 2**31 already fails there as "integer out of range", a 500)
MAX_ID = 2**31 - 1
MIN_DAY = date(1, 1, 1)
MAX_DAY = date(9998, 12, 31)  # "to" filters add a day; 9999-12-31 would overflow
MAX_AMOUNT = Decimal("1e15")  # beyond any Numeric(16, 2) column
DAMAGED_CURSOR = _l("The list's position marker is damaged: open the list again.")
_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")  # ASCII digits only: int() accepts "٣" and "1_000", addresses should not


class BadParameter(InvalidInput):
    """A parameter of an address is not of its kind. ``name`` is the parameter, ``message`` what to fix."""

    def __init__(self, name: str, message: Any) -> None:
        super().__init__({name: message})
        self.name = name
        self.message = message


def integer(name: str, value: Any, lo: int = -MAX_ID, hi: int = MAX_ID) -> int:
    """A whole number written with ASCII digits, between ``lo`` and ``hi``."""
    text = str(value).strip()
    if not _INTEGER.fullmatch(text):
        raise BadParameter(name, _l("“%(name)s” must be a whole number.", name=name))
    number = int(text)
    if not lo <= number <= hi:
        raise BadParameter(name, _l("“%(name)s” must be between %(lo)s and %(hi)s.", name=name, lo=lo, hi=hi))
    return number


def record_id(name: str, value: Any) -> int:
    """The id of a record: a positive number that fits a 64-bit column."""
    text = str(value).strip()
    if not _INTEGER.fullmatch(text) or not 1 <= int(text) <= MAX_ID:
        raise BadParameter(name, _l("“%(name)s” must be the number of a record.", name=name))
    return int(text)


def record_ids(name: str, values: Iterable[Any], *, me: int | None = None, extra: Iterable[str] = ()) -> list[int]:
    """Ids of records; ``me`` stands for the signed-in user's id, words in ``extra`` (``none``) are skipped here
    and handled by the caller."""
    words = set(extra)
    result = []
    for value in values:
        text = str(value).strip()
        if text in words:
            continue
        if text == "me" and me is not None:
            result.append(me)
            continue
        result.append(record_id(name, text))
    return result


def optional_id(name: str, value: Any) -> int | None:
    """An id, or ``None`` when the parameter is absent or empty."""
    if value is None or not str(value).strip():
        return None
    return record_id(name, value)


def day(name: str, value: Any) -> date:
    """A date as people type it (``31.12.2025``, ``2025-12-31``), within years 1 to 9998."""
    try:
        parsed = parse_date(str(value)[:40])
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None or not MIN_DAY <= parsed <= MAX_DAY:
        raise BadParameter(name, _l("“%(name)s” must be a date, such as 31.12.2025.", name=name))
    return parsed


def amount(name: str, value: Any) -> Decimal:
    """A sum of money as typed (spaces, no-break spaces and a decimal comma allowed): finite and bounded."""
    text = str(value).strip().replace(" ", "").replace("\u00a0", "").replace("\u202f", "").replace(",", ".")
    try:
        number = Decimal(text) if text.isascii() and len(text) <= 40 else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or abs(number) >= MAX_AMOUNT:
        raise BadParameter(name, _l("“%(name)s” must be an amount, such as 1500.50.", name=name))
    return number


def number(name: str, value: Any) -> float:
    """A finite number (custom number fields)."""
    text = str(value).strip().replace(",", ".")
    try:
        result = float(text) if text.isascii() and len(text) <= 40 else None
    except ValueError:
        result = None
    if result is None or result != result or result in (float("inf"), float("-inf")):
        raise BadParameter(name, _l("“%(name)s” must be a number.", name=name))
    return result


def choice(name: str, value: Any, allowed: Iterable[str]) -> str:
    """One of the ``allowed`` words."""
    options = tuple(allowed)
    text = str(value).strip()
    if text not in options:
        raise BadParameter(name, _l("“%(name)s” must be one of: %(options)s.", name=name,
                                    options=", ".join(options)))
    return text


def flag(name: str, value: Any) -> bool:
    """Yes or no, as checkboxes and links send it."""
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on", "y", "да"):
        return True
    if text in ("0", "false", "no", "off", "n", "нет", ""):
        return False
    raise BadParameter(name, _l("“%(name)s” must be 1 or 0.", name=name))
