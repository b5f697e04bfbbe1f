"""Reading files for import (issue 5, first part): the CSV and XLSX format plugins, found by their bytes, streamed,
and refused with a reason when they cannot be read."""

from __future__ import annotations

import zipfile
from datetime import datetime

import pytest
from openpyxl import Workbook

from core.db import unit_of_work
from core.plugins.types import ImportFileError
from core.services.transfer.import_files import open_table

PEOPLE = [["Фамилия", "Имя", "Телефон"], ["Петров", "Иван", "8 916 123-45-67"], ["Ёжикова", "Анна", "+7(903)1112233"]]


def _csv(tmp_path, text: str, encoding: str, name: str = "base.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1251", "koi8_r"])
@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_csv_encodings_and_delimiters_are_found(app, tmp_path, encoding, delimiter):
    text = "\r\n".join(delimiter.join(row) for row in PEOPLE) + "\r\n"
    path = _csv(tmp_path, text, encoding, name="export.txt")
    with app.app_context(), unit_of_work():
        fmt, source = open_table(path, "export.txt")
        with source:
            assert fmt.key == "csv"
            assert [cells for _n, cells in source.rows()] == PEOPLE


def test_csv_quoted_newlines_keep_the_row_numbers_of_the_file(app, tmp_path):
    text = 'Имя;Заметка\r\n"Иван";"первая строка\r\nвторая строка"\r\n"Анна";"коротко"\r\n'
    path = _csv(tmp_path, text, "cp1251")
    with app.app_context(), unit_of_work():
        _fmt, source = open_table(path, "1c.csv")
        rows = list(source.rows())
    assert rows == [(1, ["Имя", "Заметка"]), (2, ["Иван", "первая строка\r\nвторая строка"]), (4, ["Анна", "коротко"])]


def test_xlsx_sheets_dates_and_streaming(app, tmp_path):
    book = Workbook(write_only=True)
    cover = book.create_sheet("Обложка")
    cover.append(["Выгрузка клиентов"])
    sheet = book.create_sheet("Клиенты")
    sheet.append(["Клиенты на 01.11.2026"])
    sheet.append([])
    sheet.append(["Имя", "Телефон", "День рождения", "Сумма"])
    sheet.append(["Иван", 79161234567, datetime(1990, 5, 17), 1250.5])
    path = tmp_path / "book.xlsx"
    book.save(path)
    with app.app_context(), unit_of_work():
        fmt, source = open_table(path, "клиенты.xlsx")
        with source:
            assert fmt.key == "xlsx" and source.sheets() == ["Обложка", "Клиенты"]
            rows = list(source.rows("Клиенты"))
    assert rows[0] == (1, ["Клиенты на 01.11.2026"])
    assert rows[3] == (4, ["Иван", 79161234567, datetime(1990, 5, 17), 1250.5])


def test_unreadable_files_are_refused_with_the_reason(app, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    encrypted = tmp_path / "secret.xlsx"
    encrypted.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4096)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04" + b"xl/ not really a zip" * 100)
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (50 * 1024 * 1024))
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00\x01" * 1000)
    with app.app_context(), unit_of_work():
        for path, expected in ((empty, "empty"), (encrypted, "password-protected"), (broken, "damaged"),
                               (bomb, "unreasonable size"), (binary, "not a text file")):
            with pytest.raises(ImportFileError) as info:
                open_table(path, path.name)
            assert expected in str(info.value.message), path.name


VCARDS = """BEGIN:VCARD
VERSION:4.0
FN:Иван Петров
N:Петров;Иван;Сергеевич;;
TEL;TYPE=cell:+7 916 123-45-67
TEL;TYPE=work:8 (495) 111-22-33
EMAIL:ivan@example.com
EMAIL;TYPE=work:petrov@firm.ru
ORG:ООО Ромашка
TITLE:Директор
BDAY:19900517
NOTE:Любит звонки\\, но не утром
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Anna Smith
N:Smith;Anna;;;
TEL;TYPE=CELL:+44 20 7946 0958
ADR;TYPE=HOME:;;1 Street;London;;;UK
UID:anna-1
END:VCARD
"""


def test_vcard_cards_become_rows_under_a_fixed_header(app, tmp_path):
    path = tmp_path / "contacts.vcf"
    path.write_text(VCARDS, encoding="utf-8")
    with app.app_context(), unit_of_work():
        fmt, source = open_table(path, "export")  # found by its content, whatever the name
        with source:
            rows = list(source.rows())
    header = rows[0][1]
    ivan = dict(zip(header, rows[1][1], strict=True))
    anna = dict(zip(header, rows[2][1], strict=True))
    assert fmt.key == "vcard" and [n for n, _cells in rows] == [1, 2, 3]
    assert (ivan["Last name"], ivan["First name"], ivan["Middle name"]) == ("Петров", "Иван", "Сергеевич")
    assert (ivan["Phone 1"], ivan["Phone 2"], ivan["Email 2"]) == ("+7 916 123-45-67", "8 (495) 111-22-33",
                                                                   "petrov@firm.ru")
    assert (ivan["Organization"], ivan["Birthday"], ivan["Note"]) == ("ООО Ромашка", "19900517",
                                                                      "Любит звонки, но не утром")
    assert (anna["City"], anna["vCard UID"], anna["Phone 2"]) == ("London", "anna-1", "")
