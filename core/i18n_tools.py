"""``make translations`` and ``make compile-translations``: extract, update and compile the catalogues.

Core's messages go to ``core/translations/messages.pot``; their Russian translation lives in the ``l10n_ru``
plugin. Each plugin with a ``translations/`` folder has its own template and catalogues.

    python -m core.i18n_tools extract   # refresh .pot files and merge them into every .po
    python -m core.i18n_tools compile   # .po -> .mo (run by make install and make test)
    python -m core.i18n_tools check     # fail on untranslated or fuzzy Russian messages
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from core.config import PROJECT_ROOT

# every name the code translates with, contexts included (lazy_pgettext as _lp: a context message left out of the
# catalogue shows in English whatever the language)
KEYWORDS = ["_", "gettext", "ngettext:1,2", "lazy_gettext", "_l", "N_", "pgettext:1c,2", "lazy_pgettext:1c,2",
            "_lp:1c,2", "npgettext:1c,2,3"]
# (source folders, template, catalogue folders that translate it)
UNITS: list[tuple[list[Path], Path, list[Path]]] = [
    ([PROJECT_ROOT / "core", PROJECT_ROOT / "themes"], PROJECT_ROOT / "core/translations/messages.pot",
     [PROJECT_ROOT / "plugins/l10n_ru/translations"]),
    ([PROJECT_ROOT / "plugins/ops"], PROJECT_ROOT / "plugins/ops/translations/messages.pot",
     [PROJECT_ROOT / "plugins/ops/translations"]),
    ([PROJECT_ROOT / "plugins/card_basics"], PROJECT_ROOT / "plugins/card_basics/translations/messages.pot",
     [PROJECT_ROOT / "plugins/card_basics/translations"]),
    ([PROJECT_ROOT / "plugins/webhooks"], PROJECT_ROOT / "plugins/webhooks/translations/messages.pot",
     [PROJECT_ROOT / "plugins/webhooks/translations"]),
    ([PROJECT_ROOT / "plugins/import_csv"], PROJECT_ROOT / "plugins/import_csv/translations/messages.pot",
     [PROJECT_ROOT / "plugins/import_csv/translations"]),
    ([PROJECT_ROOT / "plugins/import_xlsx"], PROJECT_ROOT / "plugins/import_xlsx/translations/messages.pot",
     [PROJECT_ROOT / "plugins/import_xlsx/translations"]),
    ([PROJECT_ROOT / "plugins/import_vcard"], PROJECT_ROOT / "plugins/import_vcard/translations/messages.pot",
     [PROJECT_ROOT / "plugins/import_vcard/translations"]),
    ([PROJECT_ROOT / "plugins/mail_notify"], PROJECT_ROOT / "plugins/mail_notify/translations/messages.pot",
     [PROJECT_ROOT / "plugins/mail_notify/translations"]),
    *[([PROJECT_ROOT / f"plugins/{name}"], PROJECT_ROOT / f"plugins/{name}/translations/messages.pot",
       [PROJECT_ROOT / f"plugins/{name}/translations"]) for name in ("zadarma", "mango", "asterisk", "twilio")],
]
LOCALES = ["ru"]


def _babel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])


def extract() -> None:
    for sources, template, catalogues in UNITS:
        template.parent.mkdir(parents=True, exist_ok=True)
        keyword_args = [f"--keyword={k}" for k in KEYWORDS]
        _babel("extract", "-F", str(PROJECT_ROOT / "babel.cfg"), "--no-location", "--sort-output",
               "--omit-header", *keyword_args, "-o", str(template), *map(str, sources))
        for folder in catalogues:
            for locale in LOCALES:
                po = folder / locale / "LC_MESSAGES" / "messages.po"
                if po.exists():
                    _babel("update", "-i", str(template), "-d", str(folder), "-l", locale, "--no-fuzzy-matching",
                           "--ignore-obsolete")
                else:
                    _babel("init", "-i", str(template), "-d", str(folder), "-l", locale)


def catalogues() -> list[Path]:
    found = sorted(PROJECT_ROOT.glob("core/translations/*/LC_MESSAGES/*.po"))
    found += sorted(PROJECT_ROOT.glob("plugins/*/translations/*/LC_MESSAGES/*.po"))
    return found


def compile_all() -> None:
    for po in catalogues():
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        _babel("compile", "-i", str(po), "-o", str(mo))


def missing() -> dict[str, list[str]]:
    """Untranslated or fuzzy messages per catalogue (empty when every catalogue is complete)."""
    problems: dict[str, list[str]] = {}
    for po in catalogues():
        with po.open("rb") as fh:
            catalog = read_po(fh)
        bad = [str(m.id) for m in catalog if m.id and (not m.string or m.fuzzy or
                                                      (isinstance(m.string, tuple) and not all(m.string)))]
        if bad:
            problems[str(po.relative_to(PROJECT_ROOT))] = bad
    return problems


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "compile"
    if command == "extract":
        extract()
    elif command == "compile":
        compile_all()
    elif command == "check":
        problems = missing()
        for path, ids in problems.items():
            print(f"{path}: {len(ids)} untranslated: {ids[:5]}")
        return 1 if problems else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
