"""XLSX import: openpyxl in read-only streaming mode (rows read as they are needed, never the whole workbook),
any sheet, dates kept as dates. Password-protected, corrupt and "zip bomb" files are refused with a reason
before anything is read."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from flask_babel import lazy_gettext as _l
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from mayak import ImportFileError, ImportFormat, TableSource, hookimpl

# openpyxl parses with defusedxml when it is installed (a dependency of Mayak): entity declarations (billion
# laughs, external entities) raise instead of expanding
XML_ERRORS: tuple[type[BaseException], ...] = (ParseError, DefusedXmlException, ValueError)

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted XLSX and old XLS files are OLE containers
MAX_UNPACKED = 2 * 1024**3  # a spreadsheet unpacking to more than 2 GB is not a client base
MAX_RATIO = 200  # real sheets compress 5–20 times; a bomb thousands of times
MAX_PARTS = 2_000  # a workbook has a few dozen parts (sheets, styles, images); ten thousand is an attack
DAMAGED = _l("The file is damaged or not an XLSX workbook: open it in Excel and save it again as XLSX.")


def check_archive(path: Path) -> None:
    with path.open("rb") as fh:
        head = fh.read(8)
    if head == OLE_SIGNATURE:
        raise ImportFileError(_l("The file is password-protected or in the old XLS format: open it in Excel, "
                                 "remove the password and save it as XLSX."))
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile:
        raise ImportFileError(DAMAGED) from None
    if len(infos) > MAX_PARTS:
        raise ImportFileError(_l("The workbook has %(count)s parts, far more than a spreadsheet has; it is not "
                                 "imported.", count=len(infos)))
    unpacked = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos) or 1
    if unpacked > MAX_UNPACKED or unpacked / packed > MAX_RATIO:
        raise ImportFileError(_l("The workbook unpacks to an unreasonable size; it is not imported."))


class XlsxSource(TableSource):
    def __init__(self, path: Path) -> None:
        check_archive(path)
        try:
            self.book = load_workbook(path, read_only=True, data_only=True)
        except (InvalidFileException, KeyError, zipfile.BadZipFile, OSError, *XML_ERRORS) as exc:
            raise ImportFileError(DAMAGED) from exc

    def sheets(self) -> list[str]:
        return list(self.book.sheetnames)

    def rows(self, sheet: str | None = None) -> Iterator[tuple[int, list[Any]]]:
        name = sheet or self.book.sheetnames[0]
        if name not in self.book.sheetnames:
            raise ImportFileError(_l("The workbook has no sheet %(name)s.", name=name))
        try:  # sheets are parsed as they are read: entity tricks and broken XML surface here
            for number, values in enumerate(self.book[name].iter_rows(values_only=True), start=1):
                yield number, [v.strip() if isinstance(v, str) else v for v in values]
        except XML_ERRORS as exc:
            raise ImportFileError(DAMAGED) from exc

    def estimated_rows(self, sheet: str | None = None) -> int | None:
        name = sheet or self.book.sheetnames[0]
        return self.book[name].max_row if name in self.book.sheetnames else None  # from the sheet's dimension

    def close(self) -> None:
        self.book.close()


def sniff(head: bytes, filename: str) -> bool:
    return filename.lower().endswith((".xlsx", ".xlsm")) or (head.startswith(b"PK") and b"xl/" in head)


@hookimpl
def register_import_formats() -> list[ImportFormat]:
    return [ImportFormat("xlsx", _l("Excel workbook (XLSX)"), (".xlsx", ".xlsm"), sniff, XlsxSource, order=10)]
