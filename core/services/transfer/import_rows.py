"""One row of an imported file read into a contact draft: names split, phones read in a region, emails, dates
and custom fields checked. Nothing is written here; what cannot be read becomes a *problem* of the row (the
field, a code and the value as it was in the file) for the preview, the result and the error report."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l

from core.services.clients import custom_fields, phones
from core.services.platform import emails
from core.services.platform.text import clean, company_key, search_key

TEXT_FIELDS = ("first_name", "middle_name", "last_name", "job_title", "city", "region", "source")
LIMITS = {"first_name": 120, "middle_name": 120, "last_name": 120, "job_title": 200, "city": 120, "region": 120,
          "source": 120, "company": 300, "external_id": 120}
MAX_VALUES = 20  # phones or emails per contact, as in the form
PATRONYMIC = re.compile(r"(вич|вна|ична|чна|оглы|кызы|улы|зы)$", re.IGNORECASE)
CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
# Surname endings, and first names common enough to tell "Анна Смирнова" from "Смирнова Анна".
SURNAME = re.compile(r"(ов|ев|ёв|ин|ын|ова|ева|ёва|ына|ский|ская|цкий|цкая|ой|ых|их|енко|юк|ук|ян|дзе|швили)$",
                     re.IGNORECASE)
FIRST_NAMES = frozenset((
    "александр", "алексей", "анатолий", "андрей", "антон", "аркадий", "артём", "артем", "борис", "вадим",
    "валентин", "валерий", "василий", "виктор", "виталий", "владимир", "владислав", "вячеслав", "геннадий",
    "георгий", "григорий", "даниил", "данила", "денис", "дмитрий", "евгений", "егор", "иван", "игорь", "илья",
    "кирилл", "константин", "лев", "леонид", "максим", "марк", "матвей", "михаил", "никита", "николай", "олег",
    "павел", "пётр", "петр", "роман", "руслан", "сергей", "станислав", "степан", "тимофей", "тимур", "фёдор",
    "федор", "юрий", "ярослав", "александра", "алёна", "алена", "алина", "алла", "анастасия", "ангелина",
    "анна", "валентина", "валерия", "вера", "вероника", "виктория", "галина", "дарья", "диана", "ева",
    "евгения", "екатерина", "елена", "елизавета", "жанна", "зинаида", "зоя", "инна", "ирина", "карина",
    "кристина", "ксения", "лариса", "лидия", "любовь", "людмила", "маргарита", "марина", "мария", "милана",
    "надежда", "наталья", "наталия", "нина", "оксана", "олеся", "ольга", "полина", "раиса", "светлана", "софья",
    "софия", "тамара", "татьяна", "ульяна", "юлия", "яна",
))
SEPARATORS = re.compile(r"[,;\n]+|\s{3,}| или | or ")

# Problem codes → the message shown in the reader's language (``value`` is the cell as it was in the file).
MESSAGES = {
    "phone_unreadable": _l("%(value)s is not a phone number: add the country code (+7 …) or correct the digits."),
    "phone_doubtful": _l("%(value)s was read as %(e164)s, which is not a number in use: check it."),
    "email_invalid": _l("%(value)s is not an email address, such as name@example.com."),
    "date_invalid": _l("%(value)s is not a date: write it as DD.MM.YYYY."),
    "date_impossible": _l("%(value)s is not a possible birthday (a past date after 1900)."),
    "custom_invalid": _l("%(value)s does not fit this field: %(reason)s"),
    "no_name": _l("The row has no name, phone or email: there is nothing to import."),
    "owner_unknown": _l("No active user is called %(value)s: the contact goes to whoever runs the import."),
    "not_allowed": _l("It duplicates a contact you may not change, so it was skipped."),
}
ERRORS = {"phone_unreadable", "email_invalid", "date_invalid", "date_impossible", "custom_invalid", "no_name"}


def message(problem: dict[str, Any]) -> str:
    """The problem in words, in the current language."""
    text = MESSAGES.get(problem.get("code", ""))
    if text is None:
        return str(problem.get("code"))
    reason = custom_fields.ERRORS.get(problem.get("reason") or "", "")
    params = {"value": problem.get("value") or "", "e164": problem.get("e164") or "", "reason": str(reason)}
    return str(text) % params


@dataclass(slots=True)
class Draft:
    """What one row of the file says about a contact."""

    number: int
    text: dict[str, str] = field(default_factory=dict)
    notes: str = ""
    birthday: date | None = None
    phones: list[phones.ParsedPhone] = field(default_factory=list)
    emails: list[emails.ParsedEmail] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    company: str = ""
    owner: str = ""
    external_id: str = ""
    custom: dict[str, Any] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)
    # search forms, computed where the row is read (the reader process, for big files)
    search_lf: str = ""
    search_fl: str = ""
    company_key: str = ""

    def index(self) -> None:
        """Compute the name and company search keys (again, after rows were merged into this one)."""
        first, middle, last = (self.text.get(k, "") for k in ("first_name", "middle_name", "last_name"))
        self.search_lf = search_key(last, first, middle)
        self.search_fl = search_key(first, last, middle)
        self.company_key = company_key(self.company) if self.company else ""

    def problem(self, field_name: str, code: str, value: Any = "", **extra: Any) -> None:
        severity = "error" if code in ERRORS else "warning"
        self.problems.append({"field": field_name, "code": code, "value": str(value)[:300], "severity": severity,
                              **extra})

    @property
    def has_errors(self) -> bool:
        return any(p["severity"] == "error" for p in self.problems)

    @property
    def has_name(self) -> bool:
        return any(self.text.get(k) for k in ("first_name", "middle_name", "last_name"))

    def match_keys(self) -> list[tuple[str, str]]:
        """What identifies this person across files: the external id, then phones, then emails."""
        found: list[tuple[str, str]] = []
        if self.external_id:
            found.append(("x", self.external_id))
        found += [("p", p.e164) for p in self.phones if p.e164]
        found += [("e", e.normalized) for e in self.emails if e.valid]
        if not found:  # only unreadable numbers: the same digits typed again are the same person
            found += [("d", p.digits_rev) for p in self.phones if p.e164 is None and len(p.digits_rev) >= 5]
        return found

    def summary(self) -> dict[str, Any]:
        """What the preview shows of the row: the name and each phone read (raw → E.164, region, doubtful)."""
        return {
            "name": " ".join(p for p in (self.text.get("last_name"), self.text.get("first_name"),
                                         self.text.get("middle_name")) if p),
            "phones": [[p.raw, p.e164, p.region, p.valid] for p in self.phones],
            "emails": [e.address for e in self.emails],
            "company": self.company,
        }


def split_full_name(full: str) -> tuple[str, str, str]:
    """(last, first, middle) from one "ФИО" cell.

    Three words with a patronymic third ("Петров Иван Сергеевич") or second ("Иван Сергеевич Петров") are read by
    it; two Cyrillic words are "Фамилия Имя" (how 1C, Bitrix24 and most Russian spreadsheets write them), two
    Latin words "First Last"; one word is a first name.
    """
    parts = full.split()
    if not parts:
        return "", "", ""
    if len(parts) == 1:
        return "", parts[0], ""
    cyrillic = bool(CYRILLIC.search(full))
    if len(parts) >= 3:
        if PATRONYMIC.search(parts[2]):
            return parts[0], parts[1], " ".join(parts[2:])
        if PATRONYMIC.search(parts[1]):
            return " ".join(parts[2:]), parts[0], parts[1]
        if cyrillic:
            return parts[0], parts[1], " ".join(parts[2:])
        return parts[-1], parts[0], " ".join(parts[1:-1])
    if cyrillic and _first_name_first(parts[0], parts[1]):
        return parts[1], parts[0], ""
    if cyrillic:
        return parts[0], parts[1], ""
    return parts[1], parts[0], ""


def _first_name_first(a: str, b: str) -> bool:
    """Whether two Cyrillic words read "Имя Фамилия" rather than the usual "Фамилия Имя"."""
    a_first, b_first = a.lower() in FIRST_NAMES, b.lower() in FIRST_NAMES
    if a_first != b_first:
        return a_first
    return bool(SURNAME.search(b)) and not SURNAME.search(a)


def cell_text(value: Any) -> str:
    """A cell as the text people see in the spreadsheet (dates as DD.MM.YYYY, whole numbers without ".0")."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 79161234567 typed into Excel arrives as 79161234567.0
    if isinstance(value, datetime) and (value.hour, value.minute, value.second) != (0, 0, 0):
        return value.strftime("%d.%m.%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    return str(value).strip()


def _pieces(value: Any) -> list[str]:
    return [piece.strip() for piece in SEPARATORS.split(cell_text(value)) if piece.strip()]


class RowReader:
    """Reads rows of one file under one mapping (a field name per column, or ``None``)."""

    def __init__(self, mapping: Sequence[str | None], region: str, today: date, custom: Sequence[Any]) -> None:
        """``custom`` holds the contact custom fields (anything with ``key``, ``label``, ``type``, ``choices``)."""
        self.mapping = list(mapping)
        self.region = region
        self.today = today
        self.custom = {f.key: f for f in custom}

    def read(self, number: int, cells: Sequence[Any]) -> Draft | None:
        """The draft of a data row, or ``None`` for a blank row."""
        if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
            return None
        draft = Draft(number)
        full_name = ""
        for column, target in enumerate(self.mapping):
            if target is None or column >= len(cells):
                continue
            value = cells[column]
            if target == "phone":
                self._phones(draft, value)
            elif target == "email":
                self._emails(draft, value)
            elif target == "birthday":
                self._birthday(draft, value)
            elif target.startswith("custom."):
                self._custom(draft, target, value)
            else:
                self._text_field(draft, target, cell_text(value))
                if target == "full_name":
                    full_name = clean(cell_text(value), 400)
        if full_name and not draft.has_name:
            last, first, middle = split_full_name(full_name)
            draft.text.update({k: clean(v, 120) for k, v in
                               (("last_name", last), ("first_name", first), ("middle_name", middle))})
        if not (draft.has_name or draft.phones or draft.emails):
            draft.problem("name", "no_name")
        draft.index()
        return draft

    def _text_field(self, draft: Draft, target: str, text: str) -> None:
        if not text:
            return
        if target in TEXT_FIELDS:
            if not draft.text.get(target):
                draft.text[target] = clean(text, LIMITS[target])
        elif target == "company":
            draft.company = draft.company or clean(text, LIMITS["company"])
        elif target == "external_id":
            draft.external_id = draft.external_id or clean(text, LIMITS["external_id"])
        elif target == "owner":
            draft.owner = draft.owner or clean(text, 200)
        elif target == "notes":
            draft.notes = f"{draft.notes}\n{text}".strip()[:20000]
        elif target == "tags":
            draft.tags += [clean(t, 80) for t in _pieces(text)]

    def _phones(self, draft: Draft, value: Any) -> None:
        for raw in _pieces(value):
            if len(draft.phones) >= MAX_VALUES:
                return
            parsed = phones.parse(raw, self.region)
            if parsed.e164 is None:
                draft.problem("phone", "phone_unreadable", raw)
            elif not parsed.valid:
                draft.problem("phone", "phone_doubtful", raw, e164=parsed.e164)
            if all(p.raw != parsed.raw and (p.e164 is None or p.e164 != parsed.e164) for p in draft.phones):
                draft.phones.append(parsed)

    def _emails(self, draft: Draft, value: Any) -> None:
        for typed in _pieces(value):
            for piece in typed.split():
                if len(draft.emails) >= MAX_VALUES:
                    return
                parsed = emails.parse(piece)
                if not parsed.valid:
                    draft.problem("email", "email_invalid", piece)
                if all(e.normalized != parsed.normalized for e in draft.emails):
                    draft.emails.append(parsed)

    def _birthday(self, draft: Draft, value: Any) -> None:
        text = cell_text(value)
        if not text:
            return
        try:
            day = value.date() if isinstance(value, datetime) else custom_fields.parse_date(value)
        except ValueError:
            draft.problem("birthday", "date_invalid", text)
            return
        if day > self.today or day.year < 1900:
            draft.problem("birthday", "date_impossible", text)
            return
        draft.birthday = day

    def _custom(self, draft: Draft, target: str, value: Any) -> None:
        key = target.removeprefix("custom.")
        definition = self.custom.get(key)
        if definition is None or cell_text(value) == "":
            return
        try:
            draft.custom[key] = custom_fields.clean_value(definition, value)
        except (ValueError, TypeError):
            draft.problem(target, "custom_invalid", cell_text(value), reason=definition.type)


def kept_in_notes(draft: Draft, labels: dict[str, str]) -> str:
    """Values the row could not store in their own field (a date, a custom field), kept in the notes so nothing
    typed is lost: "Дата рождения: 31.02.1990"."""
    return "\n".join(f"{labels.get(p['field'], p['field'])}: {p['value']}" for p in draft.problems
                     if p["severity"] == "error" and (p["field"] == "birthday" or p["field"].startswith("custom.")))


def title_key(title: Any) -> str:
    """How a column title is compared with a saved mapping profile."""
    return search_key(cell_text(title))
