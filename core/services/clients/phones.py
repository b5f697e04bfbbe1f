"""Phone numbers: parse what people type, keep it raw, store E.164 for every lookup, show it the local way.

A number that does not parse is kept as typed and flagged (``valid=False``), never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

MIN_TAIL_DIGITS = 4


class ParsedPhone(NamedTuple):
    """A number as typed and as understood. A named tuple: imports pass a hundred thousand between processes."""

    raw: str
    e164: str | None
    valid: bool
    digits_rev: str
    region: str | None

    @property
    def flagged(self) -> bool:
        return not self.valid


def digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")


def parse(raw: str, region: str) -> ParsedPhone:
    """Parse ``raw`` as typed; numbers without a country code are read in ``region`` (e.g. ``RU``)."""
    raw = (raw or "").strip()[:64]
    try:
        number = phonenumbers.parse(raw, region)
    except NumberParseException:
        return ParsedPhone(raw, None, False, digits(raw)[::-1], None)
    if not phonenumbers.is_possible_number(number):
        return ParsedPhone(raw, None, False, digits(raw)[::-1], None)
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    # is_valid_number() would find the region again; asking once halves the cost (imports parse every row)
    home = phonenumbers.region_code_for_number(number)
    valid = home is not None and phonenumbers.is_valid_number_for_region(number, home)
    return ParsedPhone(raw, e164, valid, e164[1:][::-1], home)


@lru_cache(maxsize=65536)
def display(e164: str | None, raw: str, home_region: str) -> str:
    """National format for numbers of ``home_region``, international for the rest, raw when unparsed.

    Cached: parsing is the slowest part of drawing a list of 50 people, and the answer never changes."""
    if not e164:
        return raw
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return raw
    if phonenumbers.region_code_for_number(number) == home_region:
        return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)


@dataclass(frozen=True)
class PhoneQuery:
    """How a typed search matches stored phones: an exact E.164, and/or a tail of digits."""

    e164: str | None
    tail_rev: str | None


def query(text: str, region: str) -> PhoneQuery | None:
    """Read a search box entry as a phone number, or ``None`` when it does not look like one."""
    only_digits = digits(text)
    if len(only_digits) < MIN_TAIL_DIGITS or re.search(r"[^\d\s()+\-.]", text.strip()):
        return None
    parsed = parse(text, region)
    # A full number is matched on E.164; a shorter run of digits ("the last digits") on the tail. Eleven or
    # more digits typed with a trunk prefix (8 916 ...) would never match as a tail, so only E.164 counts then.
    tail = only_digits[::-1] if len(only_digits) <= 10 else None
    return PhoneQuery(parsed.e164, tail)


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string greater than every string that starts with ``prefix`` (for index range scans)."""
    return prefix + "\uffff"
