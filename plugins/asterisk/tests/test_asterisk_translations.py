"""Every message the plugin shows has its Russian translation, and the catalogue holds nothing else."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

PLUGIN = Path(__file__).resolve().parents[1]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None, "N_": None,
            "pgettext": ((1, "c"), 2)}


def test_every_message_is_translated_into_russian():
    marked = {message for _, _, message, _, _ in extract_from_dir(
        str(PLUGIN), method_map=[("tests/**.py", "ignore"), ("**.py", "python")], keywords=KEYWORDS)}
    with (PLUGIN / "translations" / "ru" / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalogue = read_po(source)
    translated = {m.id: m for m in catalogue if m.id}
    assert marked == set(translated), "messages.po and the code disagree: extract and translate again"
    assert [m.id for m in translated.values() if not m.string or m.fuzzy] == []
    assert all(any("а" <= c <= "я" for c in m.string.lower()) or m.id == m.string for m in translated.values())
