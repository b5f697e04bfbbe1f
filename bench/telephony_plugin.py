"""The PBX of the telephony benchmark (``bench/telephony.py``): one HMAC-signed JSON webhook whose handler hands
the call events to the core, as every telephony plugin does (its wire format is the only thing that differs).
Enabled by module path in the benchmark's plugins file."""

from __future__ import annotations

from datetime import UTC, datetime

from mayak import (
    TELEPHONY,
    CallDirection,
    CallEvent,
    CallState,
    HealthStatus,
    InboundDelivery,
    ProviderSpec,
    TelephonyProvider,
    WebhookEndpoint,
    WebhookRequest,
    hmac_hex,
    hookimpl,
    record_call_events,
    signature_matches,
)

SECRET = "bench-pbx-secret"
STATES = {"start": CallState.RINGING, "answer": CallState.ANSWERED, "end": CallState.ENDED}


def sign(body: bytes) -> str:
    return hmac_hex(SECRET, body)


class BenchPbx(TelephonyProvider):
    def __init__(self, settings: object) -> None:
        self.settings = settings

    def check_connection(self) -> HealthStatus:
        return HealthStatus(True, "the benchmark PBX")

    def parse_webhook(self, request: WebhookRequest) -> list[CallEvent]:
        body = request.json()
        return [CallEvent(call_id=body["call"], state=STATES[body["event"]], direction=CallDirection.INBOUND,
                          occurred_at=datetime.fromtimestamp(body["time"], UTC), from_number=body["caller"],
                          to_number=body.get("line"), extension=body.get("extension"),
                          duration=body.get("duration"))]


def _handle(delivery: InboundDelivery) -> None:
    record_call_events("benchpbx", BenchPbx(None).parse_webhook(delivery.request))


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [ProviderSpec(kind=TELEPHONY, key="benchpbx", label="Benchmark PBX", factory=BenchPbx)]


@hookimpl
def register_webhooks() -> list[WebhookEndpoint]:
    return [WebhookEndpoint(path="calls", handle=_handle,
                            verify=lambda request: signature_matches(sign(request.body), request.header("x-signature")),
                            delivery_id=lambda request: request.header("x-delivery-id"))]
