"""A test provider plugin with webhook endpoints: an HMAC-signed JSON endpoint whose effect is an audit line, a
plain-text one, an inline one with a deadline (a PBX asking whom to ring) and one behind an allow-list."""

from __future__ import annotations

import time

from mayak import (
    SYSTEM,
    InboundDelivery,
    MalformedBody,
    WebhookAnswer,
    WebhookEndpoint,
    WebhookRequest,
    hmac_hex,
    hookimpl,
    record_audit,
    signature_matches,
)

SECRET = "hooktest-secret"
FAILING: set[str] = set()  # delivery ids whose handler raises (a test empties it, then replays)


def sign(body: bytes) -> str:
    return "sha256=" + hmac_hex(SECRET, body)


def verify(request: WebhookRequest) -> bool:
    return signature_matches(sign(request.body), request.header("X-Signature"))


def verify_url(request: WebhookRequest) -> bool:
    """As Twilio signs: over the whole address it called, then the body."""
    return signature_matches(sign(request.url.encode() + request.body), request.header("X-Signature"))


def delivery_id(request: WebhookRequest) -> str | None:
    return request.header("X-Delivery-Id")


def handle(delivery: InboundDelivery) -> None:
    data = delivery.request.json()
    if not isinstance(data, dict) or "event" not in data:
        raise MalformedBody("no event")
    record_audit(SYSTEM, "hooktest.effect", "hooktest", delivery.external_id or "-", {"event": data["event"]})
    if delivery.external_id in FAILING:
        raise RuntimeError(f"provider exploded on {delivery.external_id}")


def plain_id(request: WebhookRequest) -> str | None:
    key, sep, value = request.text.partition("=")
    if not sep or key != "id" or not value:
        raise MalformedBody("expected id=<delivery id>")
    return value


def handle_plain(delivery: InboundDelivery) -> None:
    record_audit(SYSTEM, "hooktest.effect", "hooktest", delivery.external_id or "-", {"event": "plain"})


def route(delivery: InboundDelivery) -> dict[str, str]:
    data = delivery.request.json()
    if delivery.external_id in FAILING:
        raise RuntimeError(f"routing exploded on {delivery.external_id}")
    time.sleep(float(data.get("think", 0)))
    record_audit(SYSTEM, "hooktest.effect", "hooktest", delivery.external_id or "-", {"event": "route"})
    return {"ring": "ext-101", "caller": str(data.get("caller", ""))}


def handle_form(delivery: InboundDelivery) -> None:
    """A form-encoded delivery (most PBXs post so): its effect names the event the form carried."""
    form = delivery.request.form()
    record_audit(SYSTEM, "hooktest.effect", "hooktest", delivery.external_id or "-",
                 {"event": (form.get("event") or [""])[0]})


@hookimpl
def register_webhooks() -> list[WebhookEndpoint]:
    return [
        WebhookEndpoint(path="events", verify=verify, delivery_id=delivery_id, handle=handle, max_bytes=2048,
                        secret_headers=("X-Provider-Key",)),
        WebhookEndpoint(path="plain", verify=verify, delivery_id=plain_id, handle=handle_plain,
                        content_types=("text/plain",)),
        WebhookEndpoint(path="calls/route", verify=verify, delivery_id=delivery_id, handle=route, inline=True,
                        deadline_ms=400, fallback=WebhookAnswer(200, '{"ring": "operator"}', "application/json")),
        WebhookEndpoint(path="office", verify=verify, delivery_id=delivery_id, handle=handle,
                        allow_from=("10.0.0.0/8",)),
        WebhookEndpoint(path="signed-url", verify=verify_url, delivery_id=delivery_id, handle=handle),
        WebhookEndpoint(path="form", verify=verify, delivery_id=delivery_id, handle=handle_form,
                        content_types=("application/x-www-form-urlencoded", "multipart/form-data")),
    ]
