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


# An intranet domain (``crm.local``, ``corp.lan``, ``mail.test``, ``localhost``, a bare ``mayak``) is refused for
# client addresses but is what many companies sign their staff in with: account addresses accept them.
_LOOKUP_SUFFIX = ".mayak-intranet-check"


def parse_intranet(text: str) -> ParsedEmail:
    """Like :func:`parse`, but special-use and single-label domains are accepted (for user accounts)."""
    parsed = parse(text)
    if parsed.valid:
        return parsed
    raw = (text or "").strip()[:254]
    local, at, domain = raw.rpartition("@")
    if not at or not domain or domain.endswith(".") or domain.startswith("["):
        return parsed
    # email_validator checks every label, the local part and IDNA; a neutral suffix keeps its special-use rule
    # from applying, and is cut off again afterwards
    try:
        result = validate_email(f"{local}@{domain}{_LOOKUP_SUFFIX}", check_deliverability=False,
                                globally_deliverable=False)
    except EmailNotValidError:
        return parsed
    checked = result.domain.lower()
    if not checked.endswith(_LOOKUP_SUFFIX) or len(checked) - len(_LOOKUP_SUFFIX) + len(result.local_part) > 253:
        return parsed
    address = f"{result.local_part}@{checked[: -len(_LOOKUP_SUFFIX)]}"
    return ParsedEmail(address, address.lower(), True)
