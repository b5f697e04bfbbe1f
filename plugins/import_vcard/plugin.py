"""vCard import (3.0 and 4.0, one card or an address book of thousands): each card becomes a row with the
person's names, organisation, job title, up to five phones and five emails, birthday, city and note. Cards are
parsed one at a time by vobject, so memory stays flat."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import vobject
from flask_babel import lazy_gettext as _l

from core.plugins import ImportFileError, ImportFormat, TableSource, hookimpl

MAX_PHONES = 5
MAX_EMAILS = 5
# The header row the cards are laid out under; the mapping step suggests fields from these names.
HEADER = ["Last name", "First name", "Middle name", "Full name", "Organization", "Job title",
          *[f"Phone {n}" for n in range(1, MAX_PHONES + 1)], *[f"Email {n}" for n in range(1, MAX_EMAILS + 1)],
          "Birthday", "City", "Note", "vCard UID"]


def _values(card: Any, name: str) -> list[Any]:
    return [line.value for line in card.contents.get(name, [])]


def _text(value: Any) -> str:
    if isinstance(value, list):  # ORG is a list of units
        return " ".join(str(v) for v in value if v)
    return str(value or "").strip()


def card_row(card: Any) -> list[Any]:
    names = _values(card, "n")
    name = names[0] if names else None
    family = _text(getattr(name, "family", "")) if name is not None else ""
    given = _text(getattr(name, "given", "")) if name is not None else ""
    additional = _text(getattr(name, "additional", "")) if name is not None else ""
    phones = [_text(v) for v in _values(card, "tel")][:MAX_PHONES]
    emails = [_text(v) for v in _values(card, "email")][:MAX_EMAILS]
    cities = [getattr(a, "city", "") for a in _values(card, "adr")]
    first = lambda name: _text((_values(card, name) or [""])[0])  # noqa: E731
    return [family, given, additional, first("fn"), first("org"), first("title"),
            *(phones + [""] * (MAX_PHONES - len(phones))), *(emails + [""] * (MAX_EMAILS - len(emails))),
            first("bday"), _text(next((c for c in cities if c), "")), first("note"), first("uid")]


class VcardSource(TableSource):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: Any = None

    def sheets(self) -> list[str]:
        return [self.path.stem]

    def rows(self, sheet: str | None = None) -> Iterator[tuple[int, list[Any]]]:
        """Row 1 is the header; row N+1 is the N-th card of the file."""
        self.close()
        yield 1, list(HEADER)
        self._file = self.path.open("r", encoding="utf-8-sig", errors="replace", newline="")
        cards_read = 0
        try:
            for card in vobject.readComponents(self._file, ignoreUnreadable=True):
                if card.name.upper() == "VCARD":
                    cards_read += 1
                    yield cards_read + 1, card_row(card)
        except vobject.base.ParseError as exc:
            raise ImportFileError(_l("The address book is damaged after card %(number)s: %(error)s",
                                     number=cards_read, error=str(exc)[:200])) from exc

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def sniff(head: bytes, filename: str) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \r\n\t").upper().startswith(b"BEGIN:VCARD") or filename.lower().endswith(
        (".vcf", ".vcard"))


@hookimpl
def register_import_formats() -> list[ImportFormat]:
    return [ImportFormat("vcard", _l("vCard address book (VCF)"), (".vcf", ".vcard"), sniff, VcardSource, order=20)]
