"""Asterisk (self-hosted, and any SIP trunk without an API behind it): Mayak's PBX through the manager interface.

* **Calls in the CRM**: ``mayak telephony listen asterisk`` keeps an AMI connection and turns its events into the
  calls on clients' timelines (:meth:`AsteriskPbx.listen`; the mapping is in :mod:`plugins.asterisk.events`).
* **Click-to-call**: an ``Originate`` rings the manager's phone, then dials the client.
* **Whom to ring**: the dialplan asks ``GET /webhooks/asterisk/route?caller=…&did=…&token=…`` (``CURL()``) and gets
  the extension of the client's manager as plain text, or nothing within a second (then it follows its own rules).
* **Recordings** from the PBX's monitor folder, over HTTP or a shared disk.

Settings: :class:`Settings` (``[plugins.asterisk]``), changed at run time in *Administration → Plugins → asterisk*.
"""

from __future__ import annotations

from wtforms import Form

from mayak import (
    TELEPHONY,
    InboundDelivery,
    ProviderSpec,
    WebhookAnswer,
    WebhookEndpoint,
    WebhookRequest,
    hookimpl,
    plugin_settings,
    route_incoming_call,
    signature_matches,
    telephony,
)
from mayak import lazy_gettext as _l
from plugins.asterisk.provider import TEXT, AsteriskPbx
from plugins.asterisk.settings_form import AsteriskForm, Settings

__all__ = ["AsteriskPbx", "Settings"]

NAME = "asterisk"
ROUTE_DEADLINE_MS = 1000  # the dialplan waits for the answer: give up well before its CURL times out
KEY_HEADER = "X-Mayak-Token"


def verify_route(request: WebhookRequest) -> bool:
    """The dialplan's shared token (``token=`` in the query, or the ``X-Mayak-Token`` header), compared in constant
    time; no token set refuses every lookup."""
    expected = plugin_settings(NAME).routing_token
    given = request.arg("token") or request.header(KEY_HEADER)
    return bool(expected) and signature_matches(expected, given)


def route(delivery: InboundDelivery) -> WebhookAnswer:
    """Whom the call should ring: the caller's manager's extension, or an empty answer."""
    provider = telephony(key=NAME)
    call = provider.parse_incoming_call(delivery.request)
    if call is None or not call.from_number:
        return WebhookAnswer(200, "", TEXT)
    return provider.route_reply(call, route_incoming_call(call))


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [ProviderSpec(kind=TELEPHONY, key=NAME, label=_l("Asterisk (AMI)"), factory=AsteriskPbx)]


@hookimpl
def register_webhooks() -> list[WebhookEndpoint]:
    return [WebhookEndpoint(path="route", verify=verify_route, handle=route, methods=("GET",), content_types=(),
                            inline=True, deadline_ms=ROUTE_DEADLINE_MS, fallback=WebhookAnswer(200, "", TEXT),
                            max_bytes=4096, secret_headers=(KEY_HEADER,),
                            label=_l("Asterisk: whom an incoming call rings"))]


@hookimpl
def plugin_settings_form() -> type[Form]:
    return AsteriskForm
