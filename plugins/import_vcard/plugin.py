"""vCard import (3.0 and 4.0, one card or an address book of thousands): each card becomes a row with the
person's names, organisation, job title, up to five phones and five emails, birthday, city and note. Cards are
parsed one at a time by vobject, so memory stays flat."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import vobject
from flask_babel import lazy_gettext as _l

from mayak import ImportFileError, ImportFormat, TableSource, hookimpl

MAX_PHONES = 5
MAX_NESTING = 4  # a card inside a card (vCard 3's AGENT) is as deep as real address books go
MAX_LINE = 1024 * 1024
_BEGIN_END = re.compile(r"(?:[A-Za-z0-9-]+\.)?(BEGIN|END)\s*[;:]", re.IGNORECASE)
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


class _Guarded:
    """The file as vobject reads it, line by line, refusing what would make the parser recurse until the
    interpreter gives up (20,000 nested ``BEGIN`` lines were a 500) or swallow the file in one line."""

    def __init__(self, file: IO[str]) -> None:
        self.file = file
        self.depth = 0
        self.line = 0

    def readline(self) -> str:
        line = self.file.readline(MAX_LINE + 1)
        self.line += 1
        if len(line) > MAX_LINE:
            raise ImportFileError(_l("Line %(line)s of the address book is longer than a megabyte: this is not a "
                                     "vCard file.", line=self.line))
        found = _BEGIN_END.match(line)
        if found is not None and found.group(1).upper() == "BEGIN":
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise ImportFileError(_l("Line %(line)s opens a card inside a card more than %(limit)s levels "
                                         "deep: the address book is damaged. Export it again and upload the new "
                                         "file.", line=self.line, limit=MAX_NESTING))
        elif found is not None:
            self.depth = max(0, self.depth - 1)
        return line


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
            # allowQP: read line by line (and decode vCard 2.1's quoted-printable soft breaks), never the whole file
            for card in vobject.readComponents(_Guarded(self._file), ignoreUnreadable=True, allowQP=True):
                if card.name.upper() == "VCARD":
                    cards_read += 1
                    yield cards_read + 1, card_row(card)
        except vobject.base.ParseError as exc:
            raise ImportFileError(_l("The address book is damaged after card %(number)s: %(error)s",
                                     number=cards_read, error=str(exc)[:200])) from exc
        except RecursionError as exc:  # nesting written in a way the guard does not see: refuse all the same
            raise ImportFileError(_l("The address book is damaged after card %(number)s: %(error)s",
                                     number=cards_read, error="cards nested too deeply")) from exc

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
