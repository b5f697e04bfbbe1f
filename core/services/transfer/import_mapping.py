"""Which column of an imported file goes to which field: suggestions from the column names in Russian and English
(the exports of amoCRM, Bitrix24, 1C, Excel and phone address books included), custom fields by their label, and
the row that holds the header under any title rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l

from core.services.platform.text import search_key

# The fields a column can go to, in the order the mapping step lists them.
FIELDS: dict[str, Any] = {
    "full_name": _l("Full name (split into last, first and middle name)"),
    "last_name": _l("Last name"), "first_name": _l("First name"), "middle_name": _l("Middle name"),
    "phone": _l("Phone"), "email": _l("Email"), "company": _l("Company"), "job_title": _l("Job title"),
    "city": _l("City"), "region": _l("Region"), "source": _l("Source"), "notes": _l("Notes"),
    "birthday": _l("Birthday"), "tags": _l("Tags"), "owner": _l("Owner (name or email of a user)"),
    "external_id": _l("ID in the previous system"),
}

# Field → names people give that column, compared in search-key form (case, ё, extra spaces do not matter).
# A name that is a whole column title matches first; otherwise a column whose title contains one of the words
# ("Мобильный телефон", "Рабочий e-mail") does.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "last_name": ("фамилия", "last name", "surname", "family name", "lastname"),
    "first_name": ("имя", "first name", "given name", "firstname", "name first"),
    "middle_name": ("отчество", "middle name", "patronymic", "second name"),
    "full_name": ("фио", "ф.и.о.", "полное имя", "full name", "name", "контакт", "контактное лицо", "клиент",
                  "наименование контакта", "contact", "contact name", "display name"),
    "phone": ("телефон", "тел", "тел.", "phone", "mobile", "mobile phone", "мобильный", "сотовый", "tel",
              "phone number", "номер телефона", "whatsapp"),
    "email": ("email", "e-mail", "e mail", "почта", "эл. почта", "электронная почта", "mail", "эл.почта"),
    "company": ("компания", "организация", "company", "organization", "organisation", "контрагент", "фирма",
                "название компании", "company name"),
    "job_title": ("должность", "job title", "title", "position", "позиция"),
    "city": ("город", "city", "населенный пункт", "town"),
    "region": ("регион", "область", "region", "state", "край"),
    "source": ("источник", "source", "откуда узнал", "канал", "utm_source", "lead source"),
    "notes": ("примечание", "примечания", "комментарий", "комментарии", "заметка", "заметки", "note", "notes",
              "comment", "comments", "описание", "description"),
    "birthday": ("дата рождения", "день рождения", "birthday", "birth date", "date of birth", "др", "dob"),
    "tags": ("теги", "тег", "метки", "tags", "tag", "labels", "группа", "группы", "categories"),
    "owner": ("ответственный", "менеджер", "owner", "responsible", "manager", "assigned to",
              "ответственный менеджер"),
    "external_id": ("id", "внешний id", "external id", "uid", "vcard uid", "код", "id контакта", "contact id",
                    "guid", "идентификатор"),
}
# Words that, inside a longer title, point to a field ("Рабочий телефон", "Личный email", "Город доставки").
KEYWORDS: dict[str, tuple[str, ...]] = {
    "phone": ("телефон", "phone", "мобильн", "тел"), "email": ("email", "e-mail", "почта", "mail"),
    "company": ("компани", "организац", "company"), "birthday": ("рожден", "birth"),
    "notes": ("коммент", "примечан", "comment", "note"), "city": ("город", "city"), "owner": ("ответствен",),
}
MULTI = {"phone", "email"}  # several columns may feed these fields
HEADER_SCAN = 20


def field_labels(custom_fields: Iterable[Any] = ()) -> dict[str, str]:
    """Every field a column can go to, with its label in the current language (custom fields last)."""
    labels = {key: str(label) for key, label in FIELDS.items()}
    labels.update({f"custom.{f.key}": str(f.label) for f in custom_fields})
    return labels


@dataclass(frozen=True)
class Suggestion:
    column: int
    title: str
    field: str | None  # None: not imported


def _field_for(title: str, custom: dict[str, str]) -> str | None:
    key = search_key(str(title or ""))
    if not key:
        return None
    for label_key, field in custom.items():
        if key == label_key:
            return field
    for field, names in SYNONYMS.items():
        if key in {search_key(n) for n in names}:
            return field
    for field, words in KEYWORDS.items():
        if any(word in key for word in words):
            return field
    return None


def suggest(titles: Sequence[Any], custom_fields: Iterable[Any] = ()) -> list[Suggestion]:
    """A field for each column (or ``None``); a single-value field goes to its first column only."""
    custom = {search_key(str(f.label)): f"custom.{f.key}" for f in custom_fields}
    custom.update({search_key(str(f.key)): f"custom.{f.key}" for f in custom_fields})
    taken: set[str] = set()
    result = []
    for index, title in enumerate(titles):
        field = _field_for(str(title) if title is not None else "", custom)
        if field is not None and field not in MULTI and field in taken:
            field = None
        if field is not None:
            taken.add(field)
        result.append(Suggestion(index, "" if title is None else str(title), field))
    return result


def header_row(rows: Sequence[tuple[int, Sequence[Any]]]) -> int:
    """The row number (as in the file) that holds the column names: among the first rows, the one whose cells
    name the most known fields (a title row such as "Клиенты на 01.11.2026" names none)."""
    best, best_score = (rows[0][0] if rows else 1), -1
    for number, cells in rows[:HEADER_SCAN]:
        texts = [c for c in cells if isinstance(c, str) and c.strip()]
        score = sum(1 for s in suggest(texts) if s.field is not None) * 10 + len(texts)
        if texts and score > best_score:
            best, best_score = number, score
    return best
