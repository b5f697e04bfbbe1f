"""Email addresses: trimmed, domain lower-cased for display; fully lower-cased for matching."""

from __future__ import annotations

import re
from typing import NamedTuple

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email


class ParsedEmail(NamedTuple):
    address: str
    normalized: str
    valid: bool


# The plain shape most addresses have (dot-separated ASCII words @ ASCII domain labels, a letter TLD): these
# need none of email_validator's Unicode and quoting rules, which cost 20 µs an address, and come out the same
# (domain lower-cased). Everything else, and the special-use domains it refuses, go through email_validator.
_PLAIN = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64}(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})")
_SPECIAL_USE = tuple(f".{name}" for name in SPECIAL_USE_DOMAIN_NAMES)


def parse(text: str) -> ParsedEmail:
    raw = (text or "").strip()[:254]
    plain = _PLAIN.fullmatch(raw)
    local = raw.split("@", 1)[0]
    if plain and len(local) <= 64 and not f".{plain[1].lower()}".endswith(_SPECIAL_USE):
        address = f"{local}@{plain[1].lower()}"
        return ParsedEmail(address, address.lower(), True)
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError:
        return ParsedEmail(raw, raw.lower(), False)
    address = f"{result.local_part}@{result.domain.lower()}"
    return ParsedEmail(address, address.lower(), True)
