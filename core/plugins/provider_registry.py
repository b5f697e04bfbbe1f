"""What ``register_providers``, ``register_channels`` and ``register_timeline_kinds`` returned, checked and
collected once at start-up (a wrong spec stops start-up with one line naming the plugin)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from core.errors import StartupError
from core.plugins.manager import MayakPlugins, Policy
from core.plugins.providers import PROVIDER_KINDS, ChannelSpec, ProviderSpec, TimelineKindSpec

_KEY = re.compile(r"[a-z][a-z0-9_]{0,19}")  # channel and timeline kind columns are String(20)
_PROVIDER_KEY = re.compile(r"[a-z][a-z0-9_.-]{0,59}")


def _named(manager: MayakPlugins, hook_name: str) -> list[tuple[str, Any]]:
    """``(plugin, item)`` for every item the implementations of ``hook_name`` return, in registration order (core,
    then the plugins in ``plugins.toml`` order; each plugin's items in its own order). The first enabled provider
    of a kind is the default until an administrator chooses."""
    results = manager.call(hook_name, Policy.STRICT)
    return [(result.plugin, item) for result in reversed(results) for item in result.value or []]


class ProviderRegistry:
    """Providers by key, channels and timeline kinds by key (in display order), and who registered each."""

    def __init__(self, manager: MayakPlugins) -> None:
        self.providers: dict[str, ProviderSpec] = {}
        for plugin, spec in _named(manager, "register_providers"):
            where = f"plugin {plugin!r}: register_providers"
            if not isinstance(spec, ProviderSpec):
                raise StartupError(f"{where} must return ProviderSpec objects, not {type(spec).__name__}")
            if spec.kind not in PROVIDER_KINDS:
                raise StartupError(f"{where}: {spec.key!r} has the unknown kind {spec.kind!r}; "
                                   f"use one of {', '.join(PROVIDER_KINDS)}")
            if not _PROVIDER_KEY.fullmatch(spec.key):
                raise StartupError(f"{where}: the key {spec.key!r} must be lower-case letters, digits, '_', '.', '-'")
            if spec.key in self.providers:
                raise StartupError(f"{where}: the provider key {spec.key!r} is taken by plugin "
                                   f"{self.providers[spec.key].plugin!r}; choose another key")
            if not callable(spec.factory):
                raise StartupError(f"{where}: {spec.key!r} needs a factory(settings) that builds the provider")
            bad = [c for c in spec.channels if not _KEY.fullmatch(c)]
            if bad:
                raise StartupError(f"{where}: {spec.key!r} names bad channels {', '.join(bad)}")
            self.providers[spec.key] = replace(spec, plugin=plugin,
                                               channels=spec.channels or (("sms",) if spec.kind == "messaging" else ()))

        kinds: dict[str, TimelineKindSpec] = {}
        self.timeline_kind_plugins: dict[str, str] = {}
        for plugin, spec in _named(manager, "register_timeline_kinds"):
            self._check_key(plugin, "register_timeline_kinds", TimelineKindSpec, spec, kinds)
            kinds[spec.key] = spec
            self.timeline_kind_plugins[spec.key] = plugin
        self.timeline_kinds: dict[str, TimelineKindSpec] = {
            spec.key: spec for spec in sorted(kinds.values(), key=lambda s: (s.order, s.key))}

        channels: dict[str, ChannelSpec] = {}
        self.channel_plugins: dict[str, str] = {}
        for plugin, spec in _named(manager, "register_channels"):
            self._check_key(plugin, "register_channels", ChannelSpec, spec, channels)
            if spec.timeline_kind not in kinds:
                raise StartupError(f"plugin {plugin!r}: channel {spec.key!r} writes the unknown timeline kind "
                                   f"{spec.timeline_kind!r}; register it with register_timeline_kinds")
            channels[spec.key] = spec
            self.channel_plugins[spec.key] = plugin
        self.channels: dict[str, ChannelSpec] = {
            spec.key: spec for spec in sorted(channels.values(), key=lambda s: (s.order, s.key))}

    @staticmethod
    def _check_key(plugin: str, hook: str, cls: type, spec: Any, seen: dict[str, Any]) -> None:
        where = f"plugin {plugin!r}: {hook}"
        if not isinstance(spec, cls):
            raise StartupError(f"{where} must return {cls.__name__} objects, not {type(spec).__name__}")
        if not _KEY.fullmatch(spec.key):
            raise StartupError(f"{where}: the key {spec.key!r} must be at most 20 lower-case letters, digits or '_'")
        if spec.key in seen:
            raise StartupError(f"{where}: {spec.key!r} is registered twice; choose another key")
