"""The hook catalogue: the public contract between Mayak and its plugins.

Argument names are the contract. Mayak calls every hook with keyword arguments; an implementation declares
only the arguments it needs. A hook is never renamed and an argument is never removed: it is deprecated first.
Every hook here is documented in ``docs/plugins.md`` (a test fails otherwise).

Families:

* ``register_*`` hooks return lists of the dataclasses in :mod:`core.plugins.types`; they are called once at
  start-up.
* UI hooks (``nav_items``) are called per request; an implementation that raises is logged and skipped.
* ``firstresult`` hooks answer "who handles this?" and return ``None`` when it is not theirs.
* Events are typed dataclasses in one catalogue (:mod:`core.plugins.events`); plugins add events with
  ``register_events`` and subscribe with ``register_event_handlers`` (see ``docs/events.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click
    from flask import Blueprint
    from wtforms import Form

    from core.models import User
    from core.plugins.events import Event, EventHandler
    from core.plugins.providers import ChannelSpec, IncomingCall, ProviderSpec, RouteAnswer, TimelineKindSpec
    from core.plugins.types import (
        CardAction,
        CardPanel,
        CountryRules,
        HealthStatus,
        ImportFormat,
        JobSpec,
        LocaleSpec,
        NavItem,
        PermissionSpec,
        ScheduleSpec,
    )
    from core.plugins.webhooks import WebhookEndpoint

PROJECT = "mayak"
hookspec = pluggy.HookspecMarker(PROJECT)


# --- registration (called once at start-up) -------------------------------------------------------------


@hookspec
def register_blueprints() -> list[Blueprint]:
    """Flask blueprints to mount (pages, HTMX partials, webhooks). Give each a ``url_prefix``.

    Every view in them must check permissions through :func:`core.services.platform.access.require`; a test walks the
    URL map as a user without rights.
    """


@hookspec
def register_commands() -> list[click.Command]:
    """Click commands or groups added to the ``mayak`` command line."""


@hookspec
def register_permissions() -> list[PermissionSpec]:
    """Entities and the actions that roles can grant on them."""


@hookspec
def register_jobs() -> list[JobSpec]:
    """Background jobs that :func:`core.jobs.enqueue` may run, by name."""


@hookspec
def register_schedules() -> list[ScheduleSpec]:
    """Jobs the scheduler runs periodically (interval or cron)."""


@hookspec
def register_import_formats() -> list[ImportFormat]:
    """File formats the import reads (CSV, XLSX, vCard, another CRM's export...): how to recognise a file and how
    to stream its rows."""


@hookspec
def register_locales() -> list[LocaleSpec]:
    """User interface languages the plugin ships catalogues for (in its ``translations/`` folder)."""


@hookspec
def register_webhooks() -> list[WebhookEndpoint]:
    """Endpoints providers post to, mounted at ``/webhooks/<plugin>/<path>`` (see ``docs/webhooks.md``): the core
    checks size, method, content type, the endpoint's signature and allow-list, de-duplicates by the provider's
    delivery id, keeps the delivery and runs ``handle`` as a job (or inline, with a deadline)."""


@hookspec
def register_providers() -> list[ProviderSpec]:
    """Telephony, messaging and mail providers the plugin offers (:mod:`core.plugins.providers`): each spec names
    its kind, a global key, a label and a factory that builds the provider from the plugin's settings."""


@hookspec
def register_channels() -> list[ChannelSpec]:
    """Inbox channels (ways requests come in: ``sms``, ``whatsapp``...) with a label, an icon and the timeline
    kind an accepted request writes."""


@hookspec
def register_timeline_kinds() -> list[TimelineKindSpec]:
    """Kinds of timeline entries the plugin writes, with a label, an icon and optionally a template that renders
    one entry (``<plugin>/timeline/<kind>.html``)."""


# --- answers (firstresult) -------------------------------------------------------------------------------


@hookspec(firstresult=True)
def country_rules() -> CountryRules | None:
    """The installation's country defaults (phone region, currency). The first plugin that answers wins;
    core answers last with neutral defaults."""


@hookspec(firstresult=True)
def route_call(call: IncomingCall) -> RouteAnswer | None:
    """Whom an incoming call should ring (the PBX asks before it rings anyone): the first plugin that answers
    wins; ``None`` leaves the call to the PBX's own scenario. Keep it fast: the PBX is waiting."""


# --- UI (called per request; failures are logged and skipped) ------------------------------------------


@hookspec
def nav_items(user: User) -> list[NavItem]:
    """Links for the left navigation that ``user`` may see (check permissions before returning an item)."""


@hookspec
def card_actions(entity: str, record: object, user: User) -> list[CardAction]:
    """Quick actions for the card of ``record`` (``entity`` is ``contact`` or ``company``) as ``user`` sees it."""


@hookspec
def card_panels(entity: str, record: object, user: User) -> list[CardPanel]:
    """Side panels for the card of ``record``; each loads lazily from its own URL, so a slow plugin never stalls
    the card. The panel's view must check permissions itself."""


@hookspec(firstresult=True)
def deliver_notification(channel: str, user: User, message: str, params: dict[str, object],
                         link: str | None) -> bool | None:
    """Send ``user`` a notification over ``channel`` (``email``, ``sms``...): task reminders use it. ``message``
    is an untranslated message id with ``%(name)s`` placeholders filled from ``params``; translate it into the
    user's language. Return ``True`` when sent, ``None`` when ``channel`` is not yours (the next plugin is asked).
    Called from background jobs; raise to report a failed delivery (it is logged, the in-app copy stays)."""


@hookspec
def plugin_health() -> HealthStatus | None:
    """The plugin's own health for ``/healthz`` and the plugins admin page (reachability of its provider,
    queue backlog...). Keep it fast: it runs on every health probe."""


# --- settings forms (each plugin's own answer; see core.plugins.settings) ----------------------------------


@hookspec
def plugin_settings_form() -> type[Form] | None:
    """The WTForms form class of the plugin's runtime settings, shown in *Administration → Plugins → <plugin>*.
    Field names are the setting keys (as in ``plugins.toml``); :class:`~core.plugins.settings.SecretField` marks a
    write-only secret. Read the values with ``plugin_settings(name)``."""


@hookspec
def user_settings_form() -> type[Form] | None:
    """The WTForms form class of each user's own settings for the plugin (a phone extension, a mailbox), shown in
    the user's profile and on the administrator's page of the user. Read them with ``user_settings(name, user)``."""


# --- events ---------------------------------------------------------------------------------------------


@hookspec
def register_events() -> list[type[Event]]:
    """Event classes the plugin emits (subclasses of :class:`core.plugins.events.Event` with ``name``,
    ``version``, ``subject_type`` and typed fields), added to the catalogue; document each in your README."""


@hookspec
def register_event_handlers() -> list[EventHandler]:
    """Subscriptions: each :class:`core.plugins.events.EventHandler` names the events it wants (``"*"``: all),
    optionally the origins it accepts, and is called once per event in a job after the change was committed."""


def _all_hook_names() -> list[str]:
    return sorted(
        name
        for name, value in globals().items()
        if callable(value) and hasattr(value, f"{PROJECT}_spec")
    )


HOOK_NAMES: list[str] = _all_hook_names()

__all__ = ["HOOK_NAMES", "PROJECT", "hookspec"]
