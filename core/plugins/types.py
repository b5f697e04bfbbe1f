"""The small dataclasses that hooks return. They are part of the public plugin API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


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


@dataclass(frozen=True)
class Event:
    """An event as handlers receive it, after the change that caused it was committed."""

    id: int
    name: str
    payload: dict[str, Any]
    created_at: datetime


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
