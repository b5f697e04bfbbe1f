"""Column suggestions for the import (issue 5): Russian and English titles, amoCRM and Bitrix24 exports, custom
fields, and the header row found under title rows."""

from __future__ import annotations

from types import SimpleNamespace

from core.services.transfer import import_mapping


def _fields(titles, custom=()):
    return [s.field for s in import_mapping.suggest(titles, custom)]


def test_russian_and_english_titles():
    assert _fields(["ФИО", "Телефон", "E-mail", "Компания", "Должность", "Город", "Дата рождения", "Комментарий"]) == [
        "full_name", "phone", "email", "company", "job_title", "city", "birthday", "notes"]
    assert _fields(["First Name", "Last name", "Mobile", "Work phone", "Email Address", "Tags", "Owner"]) == [
        "first_name", "last_name", "phone", "phone", "email", "tags", "owner"]


def test_amocrm_and_bitrix24_exports():
    amocrm = ["ID", "Полное имя", "Компания", "Рабочий телефон", "Мобильный телефон", "Рабочий email",
              "Личный email", "Должность", "Ответственный", "Теги", "Дата создания"]
    assert _fields(amocrm) == ["external_id", "full_name", "company", "phone", "phone", "email", "email",
                               "job_title", "owner", "tags", None]
    bitrix = ["ID", "Имя", "Фамилия", "Отчество", "Рабочий телефон", "Мобильный телефон", "Рабочий e-mail",
              "Компания", "Должность", "Источник", "Ответственный", "Комментарий"]
    assert _fields(bitrix) == ["external_id", "first_name", "last_name", "middle_name", "phone", "phone", "email",
                               "company", "job_title", "source", "owner", "notes"]


def test_custom_fields_and_single_fields_taken_once():
    car = SimpleNamespace(key="car", label="Марка авто")
    assert _fields(["Имя", "Марка авто", "Имя"], [car]) == ["first_name", "custom.car", None]


def test_header_row_is_found_under_a_title_and_blank_rows():
    rows = [(1, ["Клиенты на 01.11.2026", None, None]), (2, [None, None, None]),
            (3, ["ФИО", "Телефон", "Почта"]), (4, ["Иван Петров", "8 916 123-45-67", "ivan@example.com"])]
    assert import_mapping.header_row(rows) == 3
