"""Generate import files for the import benchmark: N rows of people as a CRM migration brings them.

Phones are typed every way people type them (8 (916) …, +7 916 …, 916…, 7916… as an Excel number), a fifth of
the rows repeat an earlier person (same phone or same email, written differently), and there is a title row and
a blank row above the header, as in real exports.

    python -m bench.import_files 10000 /tmp/mayak-import   # writes people-10000.csv (cp1251) and .xlsx
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from openpyxl import Workbook

LAST = ["Иванов", "Петров", "Сидоров", "Кузнецов", "Смирнов", "Попов", "Васильев", "Соколов", "Михайлов",
        "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов"]
FIRST = ["Иван", "Пётр", "Сергей", "Алексей", "Дмитрий", "Андрей", "Михаил", "Николай", "Олег", "Юрий"]
MIDDLE = ["Иванович", "Петрович", "Сергеевич", "Алексеевич", "Дмитриевич", "Андреевич"]
CITIES = ["Москва", "Санкт-Петербург", "Казань", "Новосибирск", "Екатеринбург", "Самара", "Тверь"]
COMPANIES = [f"ООО «Компания {n}»" for n in range(1, 400)]
HEADER = ["ФИО", "Телефон", "Email", "Компания", "Должность", "Город", "Дата рождения", "Комментарий"]


def phone_text(number: int, style: int) -> object:
    digits = f"{number:010d}"
    a, b, c, d = digits[:3], digits[3:6], digits[6:8], digits[8:]
    return [f"8 ({a}) {b}-{c}-{d}", f"+7 {a} {b}-{c}-{d}", f"{a}{b}{c}{d}", f"7{digits}",
            int(f"7{digits}"), f"+7({a}){b}{c}{d}"][style % 6]


def rows(count: int, seed: int = 5) -> list[list[object]]:
    rng = random.Random(seed)
    people: list[list[object]] = []
    for index in range(count):
        if index and rng.random() < 0.2:  # a fifth: someone already in the file, written another way
            earlier = people[rng.randrange(len(people))]
            number = int(str(earlier[8]))
            people.append([earlier[0], phone_text(number, rng.randrange(6)), "", "", "", "", "", "ещё раз", number])
            continue
        number = 9000000000 + rng.randrange(99999999)
        female = False
        last, first = rng.choice(LAST), rng.choice(FIRST)
        name = f"{last}{'а' if female else ''} {first} {rng.choice(MIDDLE)}"
        people.append([name, phone_text(number, rng.randrange(6)), f"client{index}@example.ru",
                       rng.choice(COMPANIES), "менеджер", rng.choice(CITIES),
                       f"{rng.randrange(1, 28):02d}.{rng.randrange(1, 13):02d}.{rng.randrange(1950, 2004)}",
                       "", number])
    return [row[:8] for row in people]


def write(count: int, folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    data = rows(count)
    csv_path = folder / f"people-{count}.csv"
    with csv_path.open("w", encoding="cp1251", newline="") as fh:
        fh.write(f"Выгрузка клиентов на 01.11.2026{';' * 7}\r\n{';' * 7}\r\n")
        fh.write(";".join(HEADER) + "\r\n")
        for row in data:
            fh.write(";".join(str(v) for v in row) + "\r\n")
    xlsx_path = folder / f"people-{count}.xlsx"
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Клиенты")
    sheet.append(["Выгрузка клиентов на 01.11.2026"])
    sheet.append([])
    sheet.append(HEADER)
    for row in data:
        sheet.append(row)
    book.save(xlsx_path)
    return csv_path, xlsx_path


if __name__ == "__main__":
    for path in write(int(sys.argv[1]), Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/mayak-import")):
        print(path)
