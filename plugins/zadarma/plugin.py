"""Zadarma telephony for Mayak (Novofon speaks the same API): click-to-call, every call of the cloud PBX on the
client's timeline, missed calls turned into call-back tasks, a known caller's manager rung first, recordings.

Zadarma posts all call notifications to one address, ``/webhooks/zadarma/calls``:

* ``GET ?zd_echo=<value>`` when the address is saved in the cabinet: answered with the value;
* ``POST`` NOTIFY_* notifications, signed in the ``Signature`` header with the API secret: refused (403) when the
  signature does not match, de-duplicated by their content, read into call events (:mod:`plugins.zadarma.events`)
  and handed to the core (``record_call_events``). A NOTIFY_START is answered while the PBX waits: the extension
  of the caller's manager (``route_incoming_call``), or nothing, and the PBX follows its own scenario.

The endpoint answers inline, since the PBX waits for NOTIFY_START's answer and one address serves every event. The
handler therefore does only the lookup while Zadarma waits (within :data:`DEADLINE_MS`): the events are recorded by
the job :data:`RECORD_JOB` right after, so a slow write or a call row locked by the notification next to it never
delays the answer. A delivery an administrator replays is already a job: it records at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from wtforms import Form

from mayak import (
    TELEPHONY,
    InboundDelivery,
    JobContext,
    JobSpec,
    ProviderSpec,
    WebhookAnswer,
    WebhookEndpoint,
    WebhookRequest,
    enqueue,
    hookimpl,
    plugin_settings,
    record_call_events,
    route_incoming_call,
    signature_matches,
    telephony,
)
from mayak import lazy_gettext as _l
from plugins.zadarma import events, wire
from plugins.zadarma.config import NAME, Settings
from plugins.zadarma.provider import ZadarmaProvider
from plugins.zadarma.settings_form import ZadarmaForm

__all__ = ["Settings", "ZadarmaProvider", "delivery_id", "handle", "record_job", "verify"]
__version__ = "1.0.0"

log = logging.getLogger(__name__)

WEBHOOK_PATH = "calls"
RECORD_JOB = "zadarma.record_call"
DEADLINE_MS = 2000  # Zadarma's own wait for NOTIFY_START's answer is not documented; the core's default
MAX_BODY = 64 * 1024  # a notification is a few hundred bytes
_ECHO = re.compile(r"[A-Za-z0-9._~+/=:-]{1,200}")


def _echo(request: WebhookRequest) -> str | None:
    value = request.arg("zd_echo")
    return value if value is not None and _ECHO.fullmatch(value) else None


def verify(request: WebhookRequest) -> bool:
    """A GET is the address check (``zd_echo``, unsigned by Zadarma); a POST must carry the ``Signature`` of its
    event's signed fields, made with the API secret."""
    if request.method == "GET":
        return _echo(request) is not None
    given = request.header(wire.SIGNATURE_HEADER)
    secret = plugin_settings(NAME).api_secret
    if not given or not secret:
        return False
    expected = wire.notification_signature(secret, wire.read_fields(request))
    return expected is not None and signature_matches(expected, given.strip())


def delivery_id(request: WebhookRequest) -> str | None:
    """Zadarma numbers no delivery: a notification is named by its event, its call and a digest of its fields, so
    the same notification sent again (form-encoded or multipart) is a repeat. A notification this plugin cannot
    read is refused here (400)."""
    if request.method == "GET":
        return None
    fields = wire.read_fields(request)
    events.check(fields)
    digest = hashlib.sha256(json.dumps(sorted(fields.items()), ensure_ascii=False).encode()).hexdigest()[:24]
    return f"{fields['event'][7:].lower()}:{fields['pbx_call_id'][:150]}:{digest}"


def provider() -> ZadarmaProvider:
    found = telephony(key=NAME)
    if not isinstance(found, ZadarmaProvider):  # the key is ours: only a misconfigured registry gets here
        raise TypeError(f"provider {NAME!r} is a {type(found).__name__}")
    return found


def handle(delivery: InboundDelivery) -> WebhookAnswer:
    """Answer the address check; otherwise answer a NOTIFY_START with whom to ring and queue the recording of the
    call events. A replay (an administrator's, long after the call) records them here and routes nothing."""
    request = delivery.request
    if request.method == "GET":
        return WebhookAnswer(200, _echo(request) or "", "text/plain; charset=utf-8")
    fields = wire.read_fields(request)
    if delivery.replay:
        record(fields, delivery.received_at)
        return WebhookAnswer()
    answer = _route(provider(), fields)
    enqueue(RECORD_JOB, unique_key=f"{NAME}:{delivery.id}", fields=fields,
            received_at=_aware(delivery.received_at).isoformat())
    return answer


def record(fields: dict[str, str], received_at: datetime | None) -> list[int]:
    """Hand one notification's call events to the core (which folds them into the call, idempotently)."""
    return record_call_events(NAME, provider().events(fields, received_at))


def record_job(ctx: JobContext, fields: dict[str, Any], received_at: str | None = None) -> dict[str, Any]:
    """The job :data:`RECORD_JOB`: a notification's events, recorded after Zadarma had its answer."""
    moment = datetime.fromisoformat(received_at) if received_at else None
    return {"calls": record({str(k): str(v) for k, v in fields.items()}, moment)}


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _route(pbx: ZadarmaProvider, fields: dict[str, str]) -> WebhookAnswer:
    call = events.incoming_call(fields)
    if call is None or not pbx.settings.route_incoming:
        return WebhookAnswer()
    try:
        decision = route_incoming_call(call)
    except Exception:  # a router's failure must not lose the call: the PBX follows its own scenario
        log.exception("routing of Zadarma call %s failed", call.call_id)
        return WebhookAnswer()
    return pbx.route_reply(call, decision)


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [ProviderSpec(kind=TELEPHONY, key=NAME, label="Zadarma / Novofon", factory=ZadarmaProvider)]


@hookimpl
def register_jobs() -> list[JobSpec]:
    return [JobSpec(RECORD_JOB, record_job, timeout=120, max_attempts=5, label=_l("Save a call Zadarma reported"))]


@hookimpl
def register_webhooks() -> list[WebhookEndpoint]:
    return [WebhookEndpoint(
        path=WEBHOOK_PATH, verify=verify, delivery_id=delivery_id, handle=handle, methods=("GET", "POST"),
        content_types=("application/x-www-form-urlencoded", "multipart/form-data"), inline=True,
        deadline_ms=DEADLINE_MS, fallback=WebhookAnswer(), max_bytes=MAX_BODY,
        label=_l("Zadarma call notifications"))]


@hookimpl
def plugin_settings_form() -> type[Form]:
    return ZadarmaForm
