"""The public plugin API: the hook marker, the dataclasses hooks return, and the facades.

A plugin imports only from here (and documented service functions)::

    from core.plugins import hookimpl, NavItem
"""

import pluggy

from core.plugins.hookspecs import PROJECT
from core.plugins.manager import secret_field
from core.plugins.types import (
    CardAction,
    CardPanel,
    CountryRules,
    Event,
    HealthStatus,
    ImportFileError,
    ImportFormat,
    JobSpec,
    LocaleSpec,
    NavItem,
    PermissionSpec,
    PluginInfo,
    ScheduleSpec,
    TableSource,
)

hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = [
    "CardAction",
    "CardPanel",
    "CountryRules",
    "Event",
    "HealthStatus",
    "ImportFileError",
    "ImportFormat",
    "JobSpec",
    "LocaleSpec",
    "NavItem",
    "PermissionSpec",
    "PluginInfo",
    "ScheduleSpec",
    "TableSource",
    "hookimpl",
    "secret_field",
]
