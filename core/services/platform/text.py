"""Text normalisation shared by search keys and duplicate checks, and the reading of typed form values."""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import date, datetime
from typing import Any


# Every combining mark (accents) but the breve, which makes й of и: removed in one ``str.translate`` (imports
# compute keys for every row, and a character loop was a third of their time).
@functools.cache
def _marks() -> dict[int, None]:
    return {cp: None for cp in range(0x110000) if unicodedata.category(chr(cp)) == "Mn" and cp != 0x306}

_SPACES = re.compile(r"\s+")
_BLANKS = re.compile(r"[ \t]+")


def search_key(*parts: str) -> str:
    """Case-folded, ё→е, accents and extra spaces removed: the form names are searched and compared in."""
    text = " ".join(p for p in parts if p)
    text = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    if not text.isascii():
        text = unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).translate(_marks()))
    return _SPACES.sub(" ", text).strip()[:400]


def clean(text: str | None, limit: int) -> str:
    """Trim and collapse a one-line value; control characters are dropped."""
    text = text or ""
    if not text.isprintable():  # the rare value with control characters (or tabs and newlines)
        text = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch)[0] != "C")
    return _BLANKS.sub(" ", text).strip()[:limit]


def text_block(text: str | None, limit: int) -> str:
    """A multi-line value (notes): line breaks and tabs kept, other control characters (NUL, which PostgreSQL
    cannot store) dropped, cut to ``limit``."""
    text = text or ""
    if not text.isprintable():
        text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return text[:limit]


LEGAL_FORMS = {"ооо", "оао", "зао", "пао", "ао", "нао", "ип", "тоо", "чп", "ук", "нко", "ано", "гуп", "муп",
               "фгуп", "llc", "ltd", "inc", "gmbh", "ag", "oy", "ab", "sa", "srl", "bv", "plc", "corp", "co"}


def company_key(name: str) -> str:
    """Search form of a company name: quotes and legal forms dropped, so «ООО "Ромашка"» is found by "ромашка"."""
    key = re.sub(r"[«»\"'„“”`]", " ", search_key(name))
    words = [w.strip(".,") for w in key.split()]
    kept = [w for w in words if w and w not in LEGAL_FORMS]
    return " ".join(kept or words)[:300]


def N_(message: str) -> str:
    """Mark a message for extraction but keep it untranslated: notifications and seeded names are stored in English
    and translated into each reader's language when shown."""
    return message


def optional_int(value: Any) -> int | None:
    """A typed whole number, or ``None`` when the value is empty or not a number (callers say what is missing)."""
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def flag(value: Any, default: bool = True) -> bool:
    """A yes/no setting from a form or JSON: absent means ``default``; ``""``, ``"0"``, ``"false"`` mean no."""
    if value is None:
        return default
    return value not in (False, "", "0", "false", "off")


def installation_text(message: str) -> str:
    """``message`` (an English message id, marked with ``N_``) in the installation's language, whoever's request
    is running: for the names the product seeds into the database (the first pipeline, the first administrator)."""
    from flask import current_app
    from flask_babel import force_locale, gettext

    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        return gettext(message)


_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")


def parse_date(value: Any) -> date:
    """A date as people type it (``31.12.2025``, ``2025-12-31``, ``31/12/2025``); ``ValueError`` otherwise."""
    if isinstance(value, date):
        return value
    text = str(value).strip()
    russian = _DAY_MONTH_YEAR.fullmatch(text)
    if russian:  # DD.MM.YYYY, the usual case, without strptime's cost (imports read it on every row)
        return date(int(russian[3]), int(russian[2]), int(russian[1]))
    for fmt in ("%Y-%m-%d", "%d.%m.%Y", "%d.%m.%y", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)
