"""Mango Office (VPBX API) for Mayak: the PBX's calls on the clients' timelines, click-to-call, recordings, the
employees' extensions, and a known client's call put through to their manager.

The plugin does the wire work only — the signed form, Mango's notifications read into :class:`CallEvent` items,
Mango's commands — and the core does the CRM work with them (``record_call_events``). See ``README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mayak import (
    TELEPHONY,
    FetchFailed,
    FetchRefused,
    ProviderSpec,
    WebhookEndpoint,
    check_url,
    hookimpl,
    secret_field,
)
from mayak import lazy_gettext as _l
from plugins.mango import wire
from plugins.mango.provider import KEY, MangoPbx
from plugins.mango.settings_form import MangoForm
from plugins.mango.webhooks import endpoints


@dataclass(frozen=True)
class Settings:
    """``[plugins.mango]``: ``api_key = { env = "..." }`` and ``api_salt = { env = "..." }`` (the API
    connector's key and salt), ``api_url`` (Mango's API address) and ``route_incoming`` (put a known client's
    call through to their manager; off by default)."""

    api_url: str = wire.API_URL
    api_key: str = secret_field(default="")
    api_salt: str = secret_field(default="")
    route_incoming: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.route_incoming, bool):
            raise ValueError("route_incoming is true or false")
        if bool(self.api_key) != bool(self.api_salt):
            raise ValueError('set both api_key and api_salt: api_salt = { env = "MANGO_API_SALT" }')
        try:  # the same guard every request goes through (the name itself is resolved at each request)
            check_url(self.api_url, lookup=False)
        except FetchRefused as exc:
            raise ValueError(f"api_url {self.api_url!r}: {exc}") from exc
        except FetchFailed:
            pass


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [ProviderSpec(kind=TELEPHONY, key=KEY, label=_l("Mango Office"), factory=MangoPbx)]


@hookimpl
def register_webhooks() -> list[WebhookEndpoint]:
    return endpoints()


@hookimpl
def plugin_settings_form() -> type[MangoForm]:
    return MangoForm
