"""Facades: the only way views, services and jobs reach plugins. They call hooks and fail loudly when a
provider is missing, so callers never touch ``pm.hook`` directly."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import current_app, has_app_context

from core.errors import ProviderNotFound, StartupError
from core.plugins import webhooks
from core.plugins.events import ALL, Event, EventHandler, build_catalogue
from core.plugins.manager import Policy
from core.plugins.provider_registry import ProviderRegistry
from core.plugins.types import CardAction, CardPanel, CountryRules, HealthStatus, ImportFormat, LocaleSpec, NavItem

if TYPE_CHECKING:
    from core.models import User
    from core.plugins.manager import MayakPlugins
    from core.plugins.types import JobSpec, PermissionSpec, PluginInfo, ScheduleSpec

EXTENSION_KEY = "mayak.plugins"
REGISTRY_KEY = "mayak.registry"
CATALOGUE_KEY = "mayak.event_catalogue"
WEBHOOKS_KEY = "mayak.webhooks"


def plugins() -> MayakPlugins:
    """The plugin manager of the current app."""
    if not has_app_context():
        raise RuntimeError("the plugin facades need an application context")
    return current_app.extensions[EXTENSION_KEY]


class Registry:
    """What the ``register_*`` hooks returned, collected once at start-up."""

    def __init__(self, manager: MayakPlugins) -> None:
        self.permissions: dict[str, PermissionSpec] = {}
        for spec in manager.collect("register_permissions"):
            self.permissions[spec.entity] = spec
        self.jobs: dict[str, JobSpec] = {}
        for spec in manager.collect("register_jobs"):
            self.jobs[spec.name] = spec
        self.schedules: dict[str, ScheduleSpec] = {}
        for spec in manager.collect("register_schedules"):
            if spec.job not in self.jobs:
                raise ProviderNotFound(f"schedule {spec.name!r} names unknown job {spec.job!r}")
            self.schedules[spec.name] = spec
        locales = {"en": LocaleSpec("en", "English")}
        for spec in manager.collect("register_locales"):
            locales[spec.code] = spec
        self.locales: dict[str, LocaleSpec] = locales
        self.import_formats: list[ImportFormat] = sorted(manager.collect("register_import_formats"),
                                                         key=lambda f: (f.order, f.key))
        self.providers = ProviderRegistry(manager)  # providers, inbox channels, timeline kinds
        try:
            self.events: dict[str, type[Event]] = build_catalogue(manager.collect("register_events"))
            if has_app_context():  # handlers registered next may check names against it (event_catalogue())
                current_app.extensions[CATALOGUE_KEY] = self.events
        except ValueError as exc:
            raise StartupError(f"register_events: {exc}") from exc
        self.event_handlers: dict[str, EventHandler] = {}
        for handler in manager.collect("register_event_handlers"):
            if handler.key in self.event_handlers:
                raise StartupError(f"two event handlers have the key {handler.key!r}; keys must be unique")
            unknown = sorted(set(handler.events) - set(self.events) - {ALL})
            if unknown:
                raise StartupError(f"event handler {handler.key!r} subscribes to unknown events "
                                   f"{', '.join(unknown)}; choose from {', '.join(sorted(self.events))}")
            self.event_handlers[handler.key] = handler


def registry() -> Registry:
    return current_app.extensions[REGISTRY_KEY]


def job_spec(name: str) -> JobSpec:
    try:
        return registry().jobs[name]
    except KeyError:
        raise ProviderNotFound(f"no enabled plugin registers the job {name!r}") from None


def nav_items(user: User) -> list[NavItem]:
    """Every navigation item the plugins offer ``user``, in display order (a raising plugin is skipped)."""
    items: list[NavItem] = [item for _plugin, result in plugins().call_each("nav_items", user=user)
                            for item in result]
    return sorted(items, key=lambda item: (item.order, item.key))


def card_actions(entity: str, record: object, user: User) -> list[CardAction]:
    found = [a for _p, result in plugins().call_each("card_actions", entity=entity, record=record, user=user)
             for a in result]
    return sorted(found, key=lambda a: (a.order, a.key))


def card_panels(entity: str, record: object, user: User) -> list[CardPanel]:
    found = [p for _p, result in plugins().call_each("card_panels", entity=entity, record=record, user=user)
             for p in result]
    return sorted(found, key=lambda p: (p.order, p.key))


def country_rules() -> CountryRules:
    answer = plugins().call("country_rules", Policy.FIRST)
    if not answer:
        raise ProviderNotFound("no plugin answered country_rules (core should have)")
    return answer[0].value  # type: ignore[no-any-return]


def default_phone_region() -> str:
    """Region for phone numbers typed without a country code: ``MAYAK_PHONE_REGION``, else the country rules.

    Settings and plugins are fixed for the life of the app, so the answer is computed once per app (lists ask for
    it once per phone shown)."""
    cached = current_app.extensions.get("mayak.phone_region")
    if cached is None:
        settings = current_app.extensions["mayak.settings"]
        cached = settings.default_phone_region or country_rules().phone_region
        current_app.extensions["mayak.phone_region"] = cached
    return str(cached)


def deliver_notification(channel: str, user: User, message: str, params: dict[str, Any],
                         link: str | None) -> bool:
    """Send ``user`` a notification over ``channel`` through the plugin that delivers it; ``False`` when no
    enabled plugin does or the delivery failed (logged: the in-app notification is there anyway)."""
    try:
        sent = plugins().call("deliver_notification", Policy.FIRST, channel=channel, user=user, message=message,
                              params=params, link=link)
    except Exception:
        current_app.logger.exception("delivering a %s notification to user %s failed", channel, user.id)
        return False
    return bool(sent and sent[0].value)


def blueprints() -> list[Any]:
    """The Flask blueprints the enabled plugins register (collected once, at start-up)."""
    return plugins().collect("register_blueprints")


def import_formats() -> list[ImportFormat]:
    """Every import format the enabled plugins read, in their order."""
    return registry().import_formats


def plugin_health() -> dict[str, HealthStatus]:
    """Each enabled plugin's health; a plugin that raises is reported unhealthy, not hidden."""
    manager = plugins()
    status = {info.name: HealthStatus(True, "") for info in manager.enabled}
    for answer in manager.call("plugin_health", Policy.ISOLATED):
        result = answer.value if answer.error is None else \
            HealthStatus(False, f"health check raised {type(answer.error).__name__}")
        if answer.plugin in status:
            status[answer.plugin] = result
    return status


def event_catalogue() -> dict[str, type[Event]]:
    """Every event the installation knows, name → class: core's and the enabled plugins'. Available from
    ``register_event_handlers`` on (the catalogue is built before the handlers are collected)."""
    return current_app.extensions[CATALOGUE_KEY]  # type: ignore[no-any-return]


def event_class(name: str) -> type[Event]:
    try:
        return registry().events[name]
    except KeyError:
        raise ProviderNotFound(f"no event {name!r} in the catalogue (is the plugin declaring it enabled?)") from None


def event_handlers(event: Event | None = None) -> list[EventHandler]:
    """The handlers ``event`` goes to (all handlers without an event), in registration order."""
    handlers = list(registry().event_handlers.values())
    return handlers if event is None else [h for h in handlers if h.wants(event)]


def subscribers(name: str) -> list[EventHandler]:
    """The handlers subscribed to the event ``name`` (whatever the origins they accept)."""
    return [h for h in registry().event_handlers.values() if ALL in h.events or name in h.events]


def deliver_event(handler: EventHandler, event: Event) -> None:
    """Run one handler on one event (the dispatcher records the delivery per handler key)."""
    handler.handle(event)


def plugin_info(name: str) -> PluginInfo | None:
    """What Mayak knows of the enabled plugin ``name`` (version, root folder, its deploy-time ``Settings``)."""
    return plugins().info(name)


def webhook_endpoints() -> dict[tuple[str, str], webhooks.WebhookEndpoint]:
    """Every webhook endpoint the enabled plugins declare, by ``(plugin, path)``; collected once per app (a wrong
    declaration stops with one line naming the plugin)."""
    found = current_app.extensions.get(WEBHOOKS_KEY)
    if found is None:
        found = webhooks.collect((a.plugin, a.value) for a in plugins().call("register_webhooks", Policy.STRICT))
        current_app.extensions[WEBHOOKS_KEY] = found
    return found  # type: ignore[no-any-return]
