"""The addresses Mango's API connector posts to (``/webhooks/mango/<path>``), and what each notification does.

Every notification is signed (``sign`` over its ``json`` with our salt, and our ``vpbx_api_key``): one that is not
is refused (403) before anything runs. Mango wants a quick 200, so every endpoint answers inline, with an empty 200
as the fallback when the handler is slow. Each notification is named for de-duplication (a repeat changes nothing)
and passed through :mod:`.conversations` (a stale one cannot move a call back) before the core folds it.

Routing: when an inbound call appears in the voice menu and ``route_incoming`` is on, the core's ``route_call``
answer (the client's manager) goes to Mango as ``commands/route`` while the call waits there; if the answer is
empty, late or refused, the PBX simply follows its own scenario.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Any

from mayak import (
    InboundDelivery,
    WebhookAnswer,
    WebhookEndpoint,
    WebhookRequest,
    db,
    plugin_settings,
    record_call_events,
    route_incoming_call,
    telephony,
    utcnow,
)
from mayak import lazy_gettext as _l
from plugins.mango import conversations, notices, wire
from plugins.mango.provider import KEY, MangoPbx

log = logging.getLogger(__name__)

FORM = ("application/x-www-form-urlencoded",)
DEADLINE_MS = 2000  # Mango wants its 200 quickly; the fallback is the same empty 200
MAX_BYTES = 64 * 1024  # a notification is a few hundred bytes
ROUTE_MAX_AGE = timedelta(seconds=30)  # a call announced longer ago has left the voice menu: never route it late


def _settings() -> Any:
    return plugin_settings(KEY)


def verify(request: WebhookRequest) -> bool:
    conf = _settings()
    return wire.verified(request, str(conf.api_key or ""), str(conf.api_salt or ""))


def _named(prefix: str, key: str) -> str:
    """A delivery id of at most 200 characters (Mango's ids are short; a long one is hashed)."""
    name = f"{prefix}:{key}"
    return name if len(name) <= 200 else f"{prefix}:{hashlib.sha256(key.encode()).hexdigest()}"


def call_delivery_id(request: WebhookRequest) -> str:
    return _named("call", notices.read_call(wire.payload(request)).delivery_key)


def summary_delivery_id(request: WebhookRequest) -> str:
    return _named("summary", wire.text(wire.payload(request), "entry_id", required=True) or "")


def recording_delivery_id(request: WebhookRequest) -> str:
    return _named("recording", notices.recording_key(wire.payload(request)))


def callback_delivery_id(request: WebhookRequest) -> str:
    data = wire.payload(request)
    return _named("callback", f"{wire.text(data, 'command_id', required=True, limit=64)}:"
                              f"{wire.number(data, 'result', required=True)}")


def _pbx() -> MangoPbx:
    pbx = telephony(key=KEY)
    assert isinstance(pbx, MangoPbx)
    return pbx


def _record(events: list[Any]) -> WebhookAnswer:
    if events:
        record_call_events(KEY, events)
    return WebhookAnswer()


def handle_call(delivery: InboundDelivery) -> WebhookAnswer:
    """One leg's notification: routed first when it is the call's first ring in the voice menu (the PBX is
    waiting), then folded into the call."""
    notice = notices.read_call(wire.payload(delivery.request))
    admitted = conversations.admit_call(notice, notices.call_event(notice), replay=delivery.replay)
    if admitted.first_ring and not delivery.replay:
        _route(notice)
    return _record(admitted.events)


def _route(notice: notices.CallNotice) -> None:
    """Tell Mango whom the waiting call rings, if the CRM knows (its client's manager). A failure here is logged
    and forgotten: the call follows the PBX's scenario, and its notifications are folded all the same."""
    if not _settings().route_incoming or utcnow() - notice.at > ROUTE_MAX_AGE:
        return
    incoming = notices.incoming_call(notice)
    if incoming is None or incoming.from_number is None:
        return
    try:
        with db.session.begin_nested():  # a failed lookup must not spoil the unit of work the call is folded in
            _pbx().route_reply(incoming, route_incoming_call(incoming))
    except Exception:  # the scenario goes on whatever went wrong; the call is recorded regardless
        log.warning("mango: routing call %s failed; the PBX follows its scenario", notice.entry_id, exc_info=True)


def handle_summary(delivery: InboundDelivery) -> WebhookAnswer:
    """The conversation's end, as Mango sums it up."""
    event = notices.summary_event(wire.payload(delivery.request))
    return _record(conversations.admit_summary(event).events)


def handle_recording(delivery: InboundDelivery) -> WebhookAnswer:
    """A finished recording: the core fetches it through :meth:`MangoPbx.fetch_recording` in a job."""
    event = notices.recording_event(wire.payload(delivery.request))
    return _record(conversations.admit_recording(event).events if event is not None else [])


def handle_callback(delivery: InboundDelivery) -> WebhookAnswer:
    """Mango's later word on a click-to-call: one it could not start ends with its reason."""
    event = notices.callback_event(wire.payload(delivery.request))
    return _record([event] if event is not None else [])


def handle_ping(delivery: InboundDelivery) -> WebhookAnswer:
    """"Check connection" in Mango's cabinet: a signed notification answered with 200."""
    return WebhookAnswer()


def _endpoint(path: str, handle: Any, delivery_id: Any, label: Any) -> WebhookEndpoint:
    return WebhookEndpoint(path=path, verify=verify, delivery_id=delivery_id, handle=handle, content_types=FORM,
                           inline=True, deadline_ms=DEADLINE_MS, fallback=WebhookAnswer(), max_bytes=MAX_BYTES,
                           label=label)


def endpoints() -> list[WebhookEndpoint]:
    return [
        _endpoint("events/call", handle_call, call_delivery_id, _l("Mango Office: call events")),
        _endpoint("events/summary", handle_summary, summary_delivery_id, _l("Mango Office: call summaries")),
        _endpoint("events/recording", handle_recording, recording_delivery_id, _l("Mango Office: recordings")),
        _endpoint("result/callback", handle_callback, callback_delivery_id, _l("Mango Office: click-to-call results")),
        _endpoint("ping", handle_ping, lambda request: None, _l("Mango Office: connection check")),
    ]
