"""Text normalisation shared by search keys and duplicate checks."""

from __future__ import annotations

import re
import unicodedata


def search_key(*parts: str) -> str:
    """Case-folded, ё→е, accents and extra spaces removed: the form names are searched and compared in."""
    text = " ".join(p for p in parts if p)
    text = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    text = "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn"
                   or ch in "\u0306")  # keep й (и + breve) intact
    text = unicodedata.normalize("NFC", text)
    return re.sub(r"\s+", " ", text).strip()[:400]


def clean(text: str | None, limit: int) -> str:
    """Trim and collapse a one-line value; control characters are dropped."""
    text = "".join(ch for ch in (text or "") if ch == "\n" or unicodedata.category(ch)[0] != "C")
    return re.sub(r"[ \t]+", " ", text).strip()[:limit]


LEGAL_FORMS = {"ооо", "оао", "зао", "пао", "ао", "нао", "ип", "тоо", "чп", "ук", "нко", "ано", "гуп", "муп",
               "фгуп", "llc", "ltd", "inc", "gmbh", "ag", "oy", "ab", "sa", "srl", "bv", "plc", "corp", "co"}


def company_key(name: str) -> str:
    """Search form of a company name: quotes and legal forms dropped, so «ООО "Ромашка"» is found by "ромашка"."""
    key = re.sub(r"[«»\"'„“”`]", " ", search_key(name))
    words = [w.strip(".,") for w in key.split()]
    kept = [w for w in words if w and w not in LEGAL_FORMS]
    return " ".join(kept or words)[:300]
