"""A messy client list as companies really have them: a title row, blank rows, phones typed every way, a date
that does not exist, a bad email, a row with no name, the same person twice and two namesakes. Saved as a 1C-style
CSV (Windows-1251, semicolons) or as XLSX.

    python -m tests.import_samples /tmp/messy.csv      # or .xlsx
"""

from __future__ import annotations

import sys
from pathlib import Path

from openpyxl import Workbook

MESSY = [
    ["Клиенты на 01.11.2026", "", "", "", "", ""],
    ["", "", "", "", "", ""],
    ["ФИО", "Телефон", "E-mail", "Компания", "Дата рождения", "Комментарий"],
    ["Петров Иван Сергеевич", "8 (916) 123-45-67", "ivan@example.ru", "ООО «Ромашка»", "17.05.1985", "постоянный"],
    ["Анна Смирнова", "+7 903 111-22-33, 8-495-123-45-67", "anna@example.ru", "", "31.02.1990", ""],
    ["", "", "", "", "", ""],
    ["Петров Иван", "79161234567", "", "Ромашка", "", "второй раз"],
    ["Сидоров Пётр", "12345", "petr@@example", "", "01.01.2090", ""],
    ["Кузнецова Мария Петровна", "9161112233", "MARIA@Example.RU", "ИП Кузнецова", "1988-03-04", ""],
    ["", "", "", "", "", "нет имени"],
    ["Иванов Иван", "+375 29 123-45-67", "", "", "", "Минск"],
    ["Иванов Иван", "+7 999 000-00-01", "", "", "", "тёзка, другой человек"],
]


def write(path: Path) -> Path:
    if path.suffix == ".xlsx":
        book = Workbook(write_only=True)
        sheet = book.create_sheet("Клиенты")
        for row in MESSY:
            sheet.append([cell or None for cell in row])
        book.save(path)
    else:
        path.write_bytes(("\r\n".join(";".join(row) for row in MESSY) + "\r\n").encode("cp1251"))
    return path


if __name__ == "__main__":
    print(write(Path(sys.argv[1])))
