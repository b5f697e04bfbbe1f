"""Admin-defined custom fields: definitions, and server-side validation of the values typed into them."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from core.db import db
from core.models import CustomField
from core.models.custom_fields import FIELD_TYPES
from core.reference_cache import CUSTOM_FIELDS, cached, detached_session
from core.services.platform import audit
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput, ValidationError
from core.services.platform.text import clean
from core.services.platform.text import parse_date as parse_date  # re-exported: imports and fields use it

ENTITIES = ("contact", "company")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,59}$")


def definitions(entity: str, *, include_inactive: bool = False) -> list[CustomField]:
    """The fields of ``entity`` in their order. The active ones (what forms, lists and validation use) come from
    the process's memory and are shared, read-only objects; ``include_inactive`` (the admin page, which edits
    them) reads the request's own."""
    stmt = select(CustomField).where(CustomField.entity == entity).order_by(CustomField.position, CustomField.id)
    if include_inactive:
        return list(db.session.scalars(stmt))

    def load() -> tuple[CustomField, ...]:
        with detached_session() as session:
            return tuple(session.scalars(stmt.where(CustomField.active.is_(True))))

    return list(cached(CUSTOM_FIELDS, ("active", entity), load))


def slug(label: str) -> str:
    from core.services.platform.text import search_key

    translit = str.maketrans({
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z", "и": "i", "й": "y",
        "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
        "ф": "f", "х": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sch", "ъ": "", "ы": "y", "ь": "", "э": "e",
        "ю": "yu", "я": "ya",
    })
    key = re.sub(r"[^a-z0-9]+", "_", search_key(label).translate(translit)).strip("_")
    if not key or not key[0].isalpha():
        key = f"f_{key}"
    return key[:60]


def save_definition(actor: Actor, field: CustomField | None, *, entity: str, label: str, type_: str,
                    choices: list[str], required: bool, position: int = 0) -> CustomField:
    label = clean(label, 120)
    errors: dict[str, Any] = {}
    if entity not in ENTITIES:
        errors["entity"] = _l("Choose contacts or companies.")
    if not label:
        errors["label"] = _l("Give the field a name.")
    if type_ not in FIELD_TYPES:
        errors["type"] = _l("Choose a field type.")
    options = [c for c in dict.fromkeys(clean(c, 120) for c in choices) if c]
    if type_ in ("choice", "multichoice") and not options:
        errors["choices"] = _l("List the choices, one per line.")
    if errors:
        raise InvalidInput(errors)
    created = field is None
    if field is None:
        key = slug(label)
        taken = set(db.session.scalars(select(CustomField.key).where(CustomField.entity == entity)))
        base, n = key, 2
        while key in taken:
            key, n = f"{base[:56]}_{n}", n + 1
        position = position or (db.session.scalar(
            select(func.coalesce(func.max(CustomField.position), 0)).where(CustomField.entity == entity)) or 0) + 1
        field = CustomField(entity=entity, key=key, position=position)
        db.session.add(field)
    elif field.type != type_:
        raise InvalidInput({"type": _l("The type of a field in use cannot change; add a new field instead.")})
    field.label, field.type, field.choices, field.required = label, type_, options, required
    db.session.flush()
    audit.record(actor, "custom_field.created" if created else "custom_field.updated", "custom_field", field.id,
                 field.as_dict())
    db.session.flush()
    return field


def set_active(actor: Actor, field: CustomField, active: bool) -> None:
    field.active = active
    audit.record(actor, "custom_field.enabled" if active else "custom_field.disabled", "custom_field", field.id)
    db.session.flush()


MAX_NUMBER = Decimal(10) ** 15  # 15 digits: stored as a JSON number, exact in a double and in every client


class NumberOutOfRange(ValueError):
    """A number too large to keep exactly (``1e400`` would otherwise become ``Infinity``)."""


def _parse_number(value: Any) -> float | int:
    """A finite number within ±10^15 from what was typed or sent: NaN, sNaN, Infinity and values that would
    round to infinity are refused, because stored they make every JSON answer that carries them invalid."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise TypeError(type(value).__name__)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(value)
    text = str(value).strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "").replace(",", ".")
    if not text.isascii() or len(text) > 60:
        raise ValueError(text[:60])
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(text) from exc
    if not number.is_finite():  # NaN, sNaN, Infinity
        raise ValueError(text)
    if abs(number) >= MAX_NUMBER:
        raise NumberOutOfRange(text)
    return int(number) if number == number.to_integral_value() else float(number)


def clean_value(field: CustomField, value: Any) -> Any:
    """The stored form of one typed value; :class:`ValueError` or :class:`TypeError` when it is not one."""
    if isinstance(value, list | dict) and not (field.type == "multichoice" and isinstance(value, list)):
        raise TypeError(type(value).__name__)  # a list or an object where one value belongs
    if field.type == "text":
        return clean(str(value), 2000)
    if field.type == "number":
        return _parse_number(value)
    if field.type == "date":
        return parse_date(value).isoformat()
    if field.type == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on", "y", "да"):
            return True
        if text in ("0", "false", "no", "off", "n", "нет", ""):
            return False
        raise ValueError(text)
    if field.type == "choice":
        text = clean(str(value), 120)
        if text not in field.choices:
            raise ValueError(text)
        return text
    if field.type == "multichoice":
        items = value if isinstance(value, list) else [v for v in str(value).split(",")]
        chosen = [clean(str(v), 120) for v in items if clean(str(v), 120)]
        if any(c not in field.choices for c in chosen):
            raise ValueError(chosen)
        return list(dict.fromkeys(chosen))
    if field.type == "link":
        text = clean(str(value), 500)
        if not re.match(r"^https?://[^\s/$.?#].[^\s]*$", text, flags=re.IGNORECASE):
            raise ValueError(text)
        return text
    raise ValueError(field.type)


ERRORS = {
    "number": _l("Enter a number, such as 12 or 3.5."),
    "date": _l("Enter a date as DD.MM.YYYY or YYYY-MM-DD."),
    "boolean": _l("Choose yes or no."),
    "choice": _l("Choose one of the listed values."),
    "multichoice": _l("Choose only listed values."),
    "link": _l("Enter a web address starting with http:// or https://."),
    "text": _l("Enter text."),
}


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or (isinstance(value, str) and not value.strip())


def clean_values(entity: str, values: dict[str, Any], *, partial: bool = False,
                 current: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate typed custom values; returns the stored form or raises :class:`InvalidInput` keyed
    ``custom.<key>``. With ``partial``, only the given keys are checked and merged into ``current``."""
    result = dict(current or {}) if partial else {}
    errors: dict[str, Any] = {}
    for field in definitions(entity):
        if partial and field.key not in values:
            continue
        value = values.get(field.key)
        if _is_empty(value) and field.type != "boolean":
            if field.required:
                errors[f"custom.{field.key}"] = _l("Fill in %(label)s.", label=field.label)
            result.pop(field.key, None)
            continue
        try:
            result[field.key] = clean_value(field, value)
        except NumberOutOfRange:
            errors[f"custom.{field.key}"] = _l("Enter a number of at most 15 digits.")
        except (ValueError, TypeError):
            errors[f"custom.{field.key}"] = ERRORS[field.type]
    if errors:
        raise InvalidInput(errors)
    return result


__all__ = ["ENTITIES", "FIELD_TYPES", "ValidationError", "clean_values", "definitions", "save_definition"]
