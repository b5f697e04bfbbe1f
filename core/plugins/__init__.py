"""The public plugin API: the hook marker, the dataclasses hooks return, and the facades.

A plugin imports only from here (and documented service functions)::

    from core.plugins import hookimpl, NavItem
"""

import pluggy

from core.net import AllowList, FetchError, FetchFailed, FetchRefused, Response, check_url, fetch
from core.plugins.events import Event, EventHandler, Origin
from core.plugins.hookspecs import PROJECT
from core.plugins.manager import secret_field
from core.plugins.types import (
    TABLE_MAX_COLUMNS,
    CardAction,
    CardPanel,
    CountryRules,
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
    table_row,
)

hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = [
    "TABLE_MAX_COLUMNS",
    "AllowList",
    "CardAction",
    "CardPanel",
    "CountryRules",
    "Event",
    "EventHandler",
    "FetchError",
    "FetchFailed",
    "FetchRefused",
    "HealthStatus",
    "ImportFileError",
    "ImportFormat",
    "JobSpec",
    "LocaleSpec",
    "NavItem",
    "Origin",
    "PermissionSpec",
    "PluginInfo",
    "Response",
    "ScheduleSpec",
    "TableSource",
    "check_url",
    "fetch",
    "hookimpl",
    "secret_field",
    "table_row",
]
