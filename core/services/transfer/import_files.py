"""Opening a file for import: which of the enabled formats reads it (by its bytes first, then its name), and a
clear, translated refusal for what none can read."""

from __future__ import annotations

from pathlib import Path

from flask_babel import lazy_gettext as _l

from core.plugins.facades import import_formats
from core.plugins.types import ImportFileError, ImportFormat, TableSource

HEAD = 64 * 1024


def open_table(path: Path, filename: str) -> tuple[ImportFormat, TableSource]:
    """The format and an open source of rows for the uploaded file ``path`` (originally called ``filename``)."""
    with path.open("rb") as fh:
        head = fh.read(HEAD)
    if not head:
        raise ImportFileError(_l("The file is empty."))
    formats = import_formats()
    by_content = [f for f in formats if f.sniff(head, "")]
    by_name = [f for f in formats if filename.lower().endswith(f.extensions)]
    chosen = next(iter(by_content or by_name), None)
    if chosen is None:
        names = ", ".join(ext for f in formats for ext in f.extensions)
        raise ImportFileError(_l("Mayak cannot read this file; upload one of: %(formats)s.", formats=names))
    return chosen, chosen.open(path)
