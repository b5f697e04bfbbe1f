"""Outgoing webhooks: every domain event (a deal won, a task overdue, a lead assigned...) is POSTed as signed JSON
to the URL in ``[plugins.webhooks]``, from a background job with retries.

The body is ``{"id": event id, "event": name, "created_at": ISO time, "data": payload}``. The header
``X-Mayak-Signature: t=<unix time>,v1=<hex>`` carries HMAC-SHA256 of ``"<t>.<body>"`` with the shared secret; the
receiver recomputes it, compares in constant time and refuses old timestamps. ``X-Mayak-Delivery`` is the event id:
deliveries may repeat after a timeout, so receivers deduplicate on it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from core.jobs import enqueue
from core.plugins import Event, FetchFailed, FetchRefused, HealthStatus, JobSpec, check_url, fetch, hookimpl
from core.plugins.facades import plugins
from core.plugins.hookspecs import EVENT_HOOKS
from core.plugins.manager import secret_field

from plugins.webhooks.settings_form import WebhooksForm, plugin_settings  # noqa: E402

TIMEOUT_SECONDS = 10
MAX_ANSWER_BYTES = 64 * 1024  # the receiver's answer is not used; a big one is a misconfigured URL


@dataclass(frozen=True)
class Settings:
    """``[plugins.webhooks]``: ``url`` (empty: nothing is sent), ``secret = { env = "..." }``, ``events`` (empty:
    all events)."""

    url: str = ""
    secret: str = secret_field(default="")
    events: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.url:
            try:  # the same guard every delivery goes through: an internal address needs MAYAK_FETCH_ALLOW
                check_url(self.url)
            except FetchRefused as exc:
                raise ValueError(f"url {self.url!r}: {exc}") from exc
            except FetchFailed:
                pass  # a name that does not resolve now may later; each delivery checks it again
        if self.url and not self.secret:
            raise ValueError('a url needs a secret: secret = { env = "MAYAK_WEBHOOK_SECRET" }')
        unknown = sorted(set(self.events) - set(EVENT_HOOKS))
        if unknown:
            raise ValueError(f"unknown events {', '.join(unknown)}; choose from {', '.join(EVENT_HOOKS)}")


def settings() -> Settings:
    """The settings saved in Administration → Plugins → webhooks over ``[plugins.webhooks]``."""
    return plugin_settings("webhooks")  # type: ignore[no-any-return]


@hookimpl
def plugin_settings_form() -> type[WebhooksForm]:
    return WebhooksForm


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def deliver_job(ctx: object, *, event_id: int, event: str, created_at: str, data: dict[str, Any]) -> int:
    """POST one event through the outbound guard (every address and redirect checked, the connection pinned to
    the checked address); a refusal, a network error or a non-2xx answer raises so the job is retried later."""
    conf = settings()
    if not conf.url:
        return 0
    body = json.dumps({"id": event_id, "event": event, "created_at": created_at, "data": data},
                      ensure_ascii=False, separators=(",", ":")).encode()
    response = fetch(conf.url, method="POST", body=body, timeout=TIMEOUT_SECONDS, max_bytes=MAX_ANSWER_BYTES,
                     headers={"Content-Type": "application/json", "User-Agent": "Mayak-Webhooks/1",
                              "X-Mayak-Event": event, "X-Mayak-Delivery": str(event_id),
                              "X-Mayak-Signature": sign(conf.secret, int(time.time()), body)})
    if not 200 <= response.status < 300:
        raise RuntimeError(f"{response.url} answered {response.status}")
    return response.status


@hookimpl
def register_jobs() -> list[JobSpec]:
    return [JobSpec("webhooks.deliver", deliver_job, timeout=60, max_attempts=8, label=_l("Send a webhook"))]


@hookimpl
def plugin_health() -> HealthStatus | None:
    conf = settings()
    if not conf.url:
        return HealthStatus(True, gettext("no url set: nothing is sent"))
    try:
        check_url(conf.url)
    except FetchRefused as exc:  # the name resolves to an internal address now: say so on the plugins page
        return HealthStatus(False, str(exc.message))
    except FetchFailed:
        pass
    return HealthStatus(True, gettext("sending to %(url)s", url=conf.url))


def _forward(event: Event) -> None:
    conf = settings()
    if not conf.url or (conf.events and event.name not in conf.events):
        return
    enqueue("webhooks.deliver", unique_key=f"webhook:{event.id}", event_id=event.id, event=event.name,
            created_at=event.created_at.isoformat(), data=dict(event.payload))


def _handler(name: str) -> Any:
    def handle(event: Event) -> None:
        _forward(event)

    handle.__name__ = name
    handle.__doc__ = f"Forward ``{name}`` to the webhook URL."
    return hookimpl(specname=name)(handle)


for _name in EVENT_HOOKS:
    globals()[f"on_{_name}"] = _handler(_name)
