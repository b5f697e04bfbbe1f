"""The small dataclasses that hooks return. They are part of the public plugin API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class PermissionSpec:
    """An entity that roles can be granted actions on, e.g. ``PermissionSpec("contact", ("view", "edit"))``.

    ``label`` is an untranslated message id (wrap it in ``lazy_gettext`` or ``_l``); ``scoped`` says whether
    own/team scopes make sense (records with an owner) or only all-or-nothing. ``defaults`` grants actions to the
    seeded roles once, e.g. ``{"sales": {"view": "own"}}``; admins' later changes are kept.
    """

    entity: str
    actions: tuple[str, ...]
    label: Any
    scoped: bool = True
    defaults: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class JobSpec:
    """A background job: ``func(ctx, **kwargs)`` where ``ctx`` is a :class:`core.jobs.JobContext`.

    ``name`` is global: prefix it with the plugin name (``ops.purge``). ``timeout`` is in seconds.
    """

    name: str
    func: Callable[..., Any]
    timeout: int = 600
    max_attempts: int = 3
    label: Any = None


@dataclass(frozen=True)
class ScheduleSpec:
    """Run job ``job`` on a schedule: every ``every`` seconds, or at a ``cron`` expression (UTC)."""

    name: str
    job: str
    every: int | None = None
    cron: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NavItem:
    """A link in the left navigation. ``section`` is ``main`` or ``admin``; lower ``order`` comes first."""

    key: str
    label: Any
    endpoint: str
    icon: str = "dot"
    order: int = 100
    section: str = "main"
    badge: int | None = None


@dataclass(frozen=True)
class CardAction:
    """A quick action in a client card's header (call, SMS, email...). ``url`` is followed on click; with
    ``post=True`` it is posted (with the CSRF token) instead, for actions that change something."""

    key: str
    label: Any
    url: str
    icon: str = ""
    post: bool = False
    order: int = 100


@dataclass(frozen=True)
class CardPanel:
    """A panel in a client card's side column, loaded lazily from ``url`` (an htmx partial) when revealed."""

    key: str
    title: Any
    url: str
    order: int = 100


@dataclass(frozen=True)
class LocaleSpec:
    """A user interface language a plugin ships, e.g. ``LocaleSpec("ru", "Русский")``."""

    code: str
    native_name: str


@dataclass(frozen=True)
class CountryRules:
    """Country defaults: phone region for parsing numbers typed without a country code, money, time."""

    country: str
    phone_region: str
    currency: str
    locale: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class HealthStatus:
    """What a plugin says about its own state; ``detail`` is shown to admins, never secrets."""

    ok: bool
    detail: str = ""


class ImportFileError(ValueError):
    """A file an import cannot read: ``message`` is a translatable text saying what is wrong and what to do."""

    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True)
class ImportFormat:
    """A file format the import can read (``register_import_formats``).

    ``sniff(head, filename)`` looks at the first bytes (up to 64 KiB) and the name and answers whether the file is
    in this format. ``open(path)`` returns a :class:`TableSource`; it raises :class:`ImportFileError` for a file it
    recognises but cannot read (corrupt, password-protected, too large when unpacked).
    """

    key: str
    label: Any
    extensions: tuple[str, ...]
    sniff: Callable[[bytes, str], bool]
    open: Callable[[Path], TableSource]
    order: int = 100


class TableSource:
    """Rows of a file, streamed: ``sheets()`` (one name for formats without sheets) and ``rows(sheet)`` yielding
    ``(row number in the file, [cell, ...])`` with cells as strings, numbers, dates or ``None``. Constant memory
    whatever the file's size; ``close()`` releases the file."""

    def sheets(self) -> list[str]:
        raise NotImplementedError

    def rows(self, sheet: str | None = None) -> Iterator[tuple[int, list[Any]]]:
        raise NotImplementedError

    def estimated_rows(self, sheet: str | None = None) -> int | None:
        """About how many rows the sheet has, for a progress bar; ``None`` when it cannot be told cheaply."""
        return None

    def close(self) -> None:
        """Release the file (nothing to do by default)."""

    def __enter__(self) -> TableSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


TABLE_MAX_COLUMNS = 1000  # a contact table has tens of columns; 60,000 of them held a request for minutes


def table_row(number: int, cells: list[Any]) -> list[Any]:
    """``cells`` of row ``number``, cut to :data:`TABLE_MAX_COLUMNS` when only empty cells lie past it (a sheet
    formatted to its last column); :class:`ImportFileError` when the row really is wider. Core reads every
    format's rows through it; a reader may call it earlier, as the CSV reader does for each record."""
    if len(cells) <= TABLE_MAX_COLUMNS:
        return cells
    if any(c is not None and str(c).strip() for c in cells[TABLE_MAX_COLUMNS:]):
        raise ImportFileError(_l("Row %(row)s has %(count)s columns; Mayak reads at most %(limit)s. Delete the "
                                 "extra columns or check that this is a table of contacts.",
                                 row=number, count=len(cells), limit=TABLE_MAX_COLUMNS))
    return cells[:TABLE_MAX_COLUMNS]


@dataclass
class PluginInfo:
    """An enabled plugin as the manager loaded it."""

    name: str
    module_name: str
    version: str
    distribution: str | None
    root: Path
    settings: Any
    bundled: bool

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def static_dir(self) -> Path:
        return self.root / "static"

    @property
    def translations_dir(self) -> Path:
        return self.root / "translations"

    @property
    def migrations_dir(self) -> Path:
        return self.root / "migrations"
