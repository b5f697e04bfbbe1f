"""CSV import: the encoding (UTF-8 with or without BOM, Windows-1251, KOI8-R) and the delimiter (; , tab |) are
found from the file itself; quoted fields may hold newlines; rows are streamed, whatever the file's size."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l

from mayak import ImportFileError, ImportFormat, TableSource, hookimpl, table_row

SAMPLE = 64 * 1024
DELIMITERS = ";,\t|"
MAX_LINE = 1024 * 1024  # characters in one line of the file
csv.field_size_limit(MAX_LINE)  # a cell of a megabyte is a broken file, not a note


def detect_encoding(head: bytes) -> str:
    """UTF-8 (BOM or valid bytes), else the Cyrillic single-byte code page the bytes look like.

    Russian text is mostly lower case: Windows-1251 puts lower-case letters at 0xE0–0xFF and capitals at
    0xC0–0xDF, KOI8-R the other way round, so whichever range holds more letters tells the two apart."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # the sample ended inside a character: the rest was valid
            return "utf-8"
    upper_half = sum(1 for b in head if b >= 0xE0)
    lower_half = sum(1 for b in head if 0xC0 <= b < 0xE0)
    return "cp1251" if upper_half >= lower_half else "koi8_r"


def detect_delimiter(text: str) -> str:
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if not lines:
        return ";"
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: sum(line.count(d) for line in lines) for d in DELIMITERS}
        return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ";"


def _lines(file: io.TextIOWrapper) -> Iterator[str]:
    """The file's lines for the CSV parser, none longer than :data:`MAX_LINE`: a file of one 60 MB line is refused
    after reading a megabyte of it, not after reading (and splitting) all of it."""
    number = 0
    while line := file.readline(MAX_LINE + 1):
        number += 1
        if len(line) > MAX_LINE:
            raise ImportFileError(_l("The file breaks off at line %(line)s: the line is longer than a megabyte, "
                                     "which no table of contacts has. Check that you chose the right file, or save "
                                     "the table again as CSV or XLSX.", line=number))
        yield line


class CsvSource(TableSource):
    def __init__(self, path: Path) -> None:
        with path.open("rb") as fh:
            head = fh.read(SAMPLE)
        if not head.strip():
            raise ImportFileError(_l("The file is empty."))
        if b"\x00" in head:
            raise ImportFileError(_l("This is not a text file: save the table as CSV or XLSX and upload it again."))
        self.path = path
        self.head_lines = max(1, head.count(b"\n"))
        self.head_size = len(head)
        self.encoding = detect_encoding(head)
        self.delimiter = detect_delimiter(head.decode(self.encoding, errors="ignore"))
        self._file: io.TextIOWrapper | None = None

    def sheets(self) -> list[str]:
        return [self.path.stem]

    def rows(self, sheet: str | None = None) -> Iterator[tuple[int, list[Any]]]:
        self.close()
        self._file = self.path.open("r", encoding=self.encoding, errors="replace", newline="")
        reader = csv.reader(_lines(self._file), delimiter=self.delimiter)
        try:
            for cells in reader:
                # the row number people see in Excel: the line the record starts on
                number = reader.line_num - sum(cell.count("\n") for cell in cells)
                yield number, [c.strip() for c in table_row(number, cells)]
        except csv.Error as exc:
            raise ImportFileError(_l("The file breaks off at line %(line)s: %(error)s", line=reader.line_num,
                                     error=str(exc))) from exc

    def estimated_rows(self, sheet: str | None = None) -> int | None:
        # lines in the first 64 KiB scaled to the file's size: good enough for a progress bar
        return round(self.path.stat().st_size * self.head_lines / self.head_size)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def sniff(head: bytes, filename: str) -> bool:
    if filename.lower().endswith((".csv", ".txt", ".tsv")):
        return True
    return b"\x00" not in head[:4096] and not head.startswith((b"PK", b"\xd0\xcf\x11\xe0", b"BEGIN:VCARD"))


@hookimpl
def register_import_formats() -> list[ImportFormat]:
    return [ImportFormat("csv", _l("CSV (comma- or semicolon-separated text)"), (".csv", ".txt", ".tsv"), sniff,
                         CsvSource, order=90)]
