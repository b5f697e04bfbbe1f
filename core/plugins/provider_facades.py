"""Facades for provider kinds: the only way core and plugins reach a PBX, an SMS gateway or a mailbox.

``telephony()``, ``messaging("sms")`` and ``mail()`` hand out the provider chosen for the team (Administration →
Providers), else the installation's default, else the only (or first registered) enabled one, and raise
:class:`~core.errors.ProviderNotFound` when no enabled plugin provides the kind. A ``key`` asks for one provider by
its key. ``channels()`` and ``timeline_kinds()`` are the open registries of inbox channels and timeline kinds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import select

from core.db import db
from core.errors import ProviderNotFound
from core.models import ProviderChoice
from core.plugins.facades import plugins, registry
from core.plugins.manager import Policy
from core.plugins.providers import (
    MAIL,
    MESSAGING,
    PROVIDER_CLASSES,
    TELEPHONY,
    ChannelSpec,
    IncomingCall,
    MailProvider,
    MessagingProvider,
    Provider,
    ProviderSpec,
    RouteAnswer,
    TelephonyProvider,
    TimelineKindSpec,
    choice_scope,
)
from core.plugins.settings import plugin_settings

if TYPE_CHECKING:
    from core.models import Team
    from core.plugins.provider_registry import ProviderRegistry

P = TypeVar("P", bound=Provider)


def _registry() -> ProviderRegistry:
    return registry().providers


def providers(kind: str, channel: str | None = None) -> list[ProviderSpec]:
    """The enabled providers of ``kind`` (for messaging: sending on ``channel``), in registration order."""
    return [spec for spec in _registry().providers.values()
            if spec.kind == kind and (channel is None or kind != MESSAGING or channel in spec.channels)]


def provider_spec(key: str) -> ProviderSpec:
    try:
        return _registry().providers[key]
    except KeyError:
        raise ProviderNotFound(f"no enabled plugin provides {key!r}") from None


def _team_id(team: Team | int | None) -> int | None:
    return team if team is None or isinstance(team, int) else team.id


def chosen(kind: str, channel: str | None = None, team: Team | int | None = None) -> ProviderSpec:
    """The provider serving ``kind`` (and ``channel``) for ``team``: the team's choice, else the default, else the
    first enabled one; a choice naming a provider no longer enabled is skipped."""
    candidates = {spec.key: spec for spec in providers(kind, channel)}
    what = f"{kind} ({channel})" if kind == MESSAGING else kind
    if not candidates:
        raise ProviderNotFound(f"no enabled plugin provides {what}; enable one in plugins.toml")
    team_id = _team_id(team)
    if len(candidates) > 1:
        stored = db.session.execute(
            select(ProviderChoice.team_id, ProviderChoice.provider)
            .where(ProviderChoice.scope == choice_scope(kind, channel),
                   ProviderChoice.team_id.is_(None) if team_id is None
                   else (ProviderChoice.team_id.is_(None)) | (ProviderChoice.team_id == team_id)))
        picked = dict(stored.all())
        for key in (picked.get(team_id), picked.get(None)):
            if key in candidates:
                return candidates[key]
    return next(iter(candidates.values()))


def build(spec: ProviderSpec) -> Provider:
    """A provider instance made by the spec's factory from its plugin's current settings."""
    instance = spec.factory(plugin_settings(spec.plugin))
    expected = PROVIDER_CLASSES[spec.kind]
    if not isinstance(instance, expected):
        raise TypeError(f"provider {spec.key!r} (plugin {spec.plugin!r}) must be a {expected.__name__}, "
                        f"its factory made a {type(instance).__name__}")
    instance.key = spec.key
    return instance


def _pick(cls: type[P], kind: str, channel: str | None, team: Team | int | None, key: str | None) -> P:
    if key is not None:
        spec = provider_spec(key)
        if spec.kind != kind or (kind == MESSAGING and channel not in spec.channels):
            raise ProviderNotFound(f"provider {key!r} is not a {kind} provider"
                                   + (f" for {channel}" if kind == MESSAGING else ""))
    else:
        spec = chosen(kind, channel, team)
    instance = build(spec)
    assert isinstance(instance, cls)
    return instance


def telephony(team: Team | int | None = None, key: str | None = None) -> TelephonyProvider:
    """The PBX serving ``team`` (or the default one), or the provider ``key``."""
    return _pick(TelephonyProvider, TELEPHONY, None, team, key)


def messaging(channel: str = "sms", team: Team | int | None = None, key: str | None = None) -> MessagingProvider:
    """The gateway sending ``channel`` messages for ``team`` (or the default one), or the provider ``key``."""
    return _pick(MessagingProvider, MESSAGING, channel, team, key)


def mail(team: Team | int | None = None, key: str | None = None) -> MailProvider:
    """The mail provider serving ``team`` (or the default one), or the provider ``key``."""
    return _pick(MailProvider, MAIL, None, team, key)


def route_call(call: IncomingCall) -> RouteAnswer | None:
    """Whom ``call`` should ring, as the first plugin answering ``route_call`` says; ``None``: the PBX decides."""
    answer = plugins().call("route_call", Policy.FIRST, call=call)
    return answer[0].value if answer else None  # type: ignore[no-any-return]


# --- open registries ------------------------------------------------------------------------------------------


def channels() -> list[ChannelSpec]:
    """Every inbox channel, in display order."""
    return list(_registry().channels.values())


def channel_keys() -> tuple[str, ...]:
    return tuple(_registry().channels)


def channel(key: str) -> ChannelSpec | None:
    return _registry().channels.get(key)


def timeline_kinds() -> list[TimelineKindSpec]:
    """Every timeline kind, in display order."""
    return list(_registry().timeline_kinds.values())


def timeline_kind_keys() -> tuple[str, ...]:
    return tuple(_registry().timeline_kinds)


def timeline_kind(key: str) -> TimelineKindSpec | None:
    return _registry().timeline_kinds.get(key)


def timeline_kind_plugin(key: str) -> str | None:
    """The plugin that registered the timeline kind ``key`` (``core`` for core's own)."""
    return _registry().timeline_kind_plugins.get(key)


__all__ = [
    "channel",
    "channel_keys",
    "channels",
    "chosen",
    "mail",
    "messaging",
    "provider_spec",
    "providers",
    "route_call",
    "telephony",
    "timeline_kind",
    "timeline_kind_keys",
    "timeline_kinds",
]
