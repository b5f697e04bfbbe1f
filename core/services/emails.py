"""Email addresses: trimmed, domain lower-cased for display; fully lower-cased for matching."""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email


@dataclass(frozen=True)
class ParsedEmail:
    address: str
    normalized: str
    valid: bool


def parse(text: str) -> ParsedEmail:
    raw = (text or "").strip()[:254]
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError:
        return ParsedEmail(raw, raw.lower(), False)
    address = f"{result.local_part}@{result.domain.lower()}"
    return ParsedEmail(address, address.lower(), True)
