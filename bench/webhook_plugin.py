"""The provider plugin of the webhook benchmark (``bench/webhooks.py``): one HMAC-signed JSON endpoint whose handler
writes one row, as a small provider plugin would. Enabled by module path in the benchmark's plugins file."""

from __future__ import annotations

from mayak import (
    SYSTEM,
    InboundDelivery,
    WebhookEndpoint,
    WebhookRequest,
    hmac_hex,
    hookimpl,
    record_audit,
    signature_matches,
)

SECRET = "bench-webhook-secret"


def sign(body: bytes) -> str:
    return "sha256=" + hmac_hex(SECRET, body)


def verify(request: WebhookRequest) -> bool:
    return signature_matches(sign(request.body), request.header("X-Signature"))


def delivery_id(request: WebhookRequest) -> str | None:
    return request.header("X-Delivery-Id")


def handle(delivery: InboundDelivery) -> None:
    record_audit(SYSTEM, "bench.webhook", "bench", delivery.external_id, {"event": delivery.request.json()["event"]})


@hookimpl
def register_webhooks() -> list[WebhookEndpoint]:
    return [WebhookEndpoint(path="events", verify=verify, delivery_id=delivery_id, handle=handle)]
