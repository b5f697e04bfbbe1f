"""Outgoing webhooks: domain events (a deal won, a task overdue, a lead assigned...) are POSTed as signed JSON to
the URL in ``[plugins.webhooks]``, from a background job with retries.

The body is ``{"id": event id, "event": name, "version": schema version, "created_at": ISO time, "subject":
{"type", "id"}, "origin": {"kind", "user_id", "detail"}, "data": the event's fields}``. The header
``X-Mayak-Signature: t=<unix time>,v1=<hex>`` carries HMAC-SHA256 of ``"<t>.<body>"`` with the shared secret; the
receiver recomputes it, compares in constant time and refuses old timestamps. ``X-Mayak-Delivery`` is the event id:
deliveries may repeat after a timeout, so receivers deduplicate on it.

One event handler (``webhooks.forward``) subscribes to the events named in ``events`` (all when empty) and skips
the origins in ``skip_origins`` (``["demo"]`` by default: ``mayak demo-data`` never reaches your automation).
``mayak webhooks ping`` sends a ``webhook_ping`` event to check the receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

import click
from flask.cli import with_appcontext
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from mayak import (
    ORIGIN_KINDS,
    Event,
    EventHandler,
    FetchFailed,
    FetchRefused,
    HealthStatus,
    JobSpec,
    Origin,
    check_url,
    db,
    emit,
    enqueue,
    event_catalogue,
    fetch,
    hookimpl,
    secret_field,
)
from plugins.webhooks.settings_form import WebhooksForm, plugin_settings

TIMEOUT_SECONDS = 10
MAX_ANSWER_BYTES = 64 * 1024  # the receiver's answer is not used; a big one is a misconfigured URL


@dataclass(frozen=True)
class Settings:
    """``[plugins.webhooks]``: ``url`` (empty: nothing is sent), ``secret = { env = "..." }``, ``events`` (empty:
    all events; names are checked against the event catalogue at start-up), ``skip_origins`` (events from these
    origins are not sent; default ``["demo"]``, add ``"import"`` to leave imports out too)."""

    url: str = ""
    secret: str = secret_field(default="")
    events: list[str] = field(default_factory=list)
    skip_origins: list[str] = field(default_factory=lambda: ["demo"])

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
        if isinstance(self.events, str) or isinstance(self.skip_origins, str):
            raise ValueError('events and skip_origins are lists: events = ["deal_won"], skip_origins = ["demo"]')
        unknown = sorted(set(self.skip_origins) - set(ORIGIN_KINDS))
        if unknown:
            raise ValueError(f"unknown origins {', '.join(unknown)} in skip_origins; choose from "
                             f"{', '.join(ORIGIN_KINDS)}")


def settings() -> Settings:
    """The settings saved in Administration → Plugins → webhooks over ``[plugins.webhooks]``."""
    return plugin_settings("webhooks")  # type: ignore[no-any-return]


@hookimpl
def plugin_settings_form() -> type[WebhooksForm]:
    return WebhooksForm


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def deliver_job(ctx: object, *, event_id: int, event: str, created_at: str, data: dict[str, Any],
                version: int = 1, subject: dict[str, Any] | None = None, origin: dict[str, Any] | None = None) -> int:
    """POST one event through the outbound guard (every address and redirect checked, the connection pinned to
    the checked address); a refusal, a network error or a non-2xx answer raises so the job is retried later.

    A delivery the receiver accepted is written in the run's memo: when the database was lost before the job's
    commit, the run that follows once it is back does not POST the event a second time."""
    memo: dict[str, Any] = getattr(ctx, "memo", {})
    if "accepted" in memo:
        return int(memo["accepted"])
    conf = settings()
    if not conf.url:
        return 0
    body = json.dumps({"id": event_id, "event": event, "version": version, "created_at": created_at,
                       "subject": subject or {}, "origin": origin or {}, "data": data},
                      ensure_ascii=False, separators=(",", ":")).encode()
    response = fetch(conf.url, method="POST", body=body, timeout=TIMEOUT_SECONDS, max_bytes=MAX_ANSWER_BYTES,
                     headers={"Content-Type": "application/json", "User-Agent": "Mayak-Webhooks/1",
                              "X-Mayak-Event": event, "X-Mayak-Delivery": str(event_id),
                              "X-Mayak-Signature": sign(conf.secret, int(time.time()), body)})
    if not 200 <= response.status < 300:
        raise RuntimeError(f"{response.url} answered {response.status}")
    memo["accepted"] = response.status
    return response.status


@hookimpl
def register_jobs() -> list[JobSpec]:
    return [JobSpec("webhooks.deliver", deliver_job, timeout=60, max_attempts=8, label=_l("Send a webhook"))]


@hookimpl
def plugin_health() -> HealthStatus | None:
    conf = settings()
    if not conf.url:
        return HealthStatus(True, gettext("no URL set: nothing is sent"))
    try:
        check_url(conf.url)
    except FetchRefused as exc:  # the name resolves to an internal address now: say so on the plugins page
        return HealthStatus(False, str(exc.message))
    except FetchFailed:
        pass
    return HealthStatus(True, gettext("sending to %(url)s", url=conf.url))


@dataclass(frozen=True, kw_only=True)
class WebhookPing(Event):
    """Sent by ``mayak webhooks ping`` to check that the receiver gets and verifies deliveries."""

    name = "webhook_ping"
    subject_type = "webhook"
    description = _l("A test delivery asked for with mayak webhooks ping.")
    message: str = ""


@hookimpl
def register_events() -> list[type[Event]]:
    return [WebhookPing]


def forward(event: Event) -> None:
    """Queue the delivery of ``event`` (one job per event: a repeat of the handler queues nothing new)."""
    conf = settings()
    if not conf.url or event.origin.kind in conf.skip_origins or not _subscribed(conf, event.name):
        return
    enqueue("webhooks.deliver", unique_key=f"webhook:{event.id}", event_id=event.id, event=event.name,
            version=event.version, created_at=event.occurred_at.isoformat(),
            subject={"type": event.subject_type, "id": event.subject_id}, origin=event.origin.to_payload(),
            data=event.data())


def _subscribed(conf: Settings, name: str) -> bool:
    return not conf.events or name in conf.events or name == WebhookPing.name


@hookimpl
def register_event_handlers() -> list[EventHandler]:
    """One handler for every event: which events and origins are sent is read from the settings at each event, so
    a change saved in *Administration → Plugins → webhooks* applies at once, without a restart."""
    unknown = sorted(set(settings().events) - set(event_catalogue()))
    if unknown:  # a misspelt name in plugins.toml stops start-up instead of silently sending nothing
        raise ValueError(f"unknown events {', '.join(unknown)} in [plugins.webhooks] events; choose from "
                         f"{', '.join(sorted(event_catalogue()))}")
    return [EventHandler("webhooks.forward", ("*",), forward)]


@click.group("webhooks")
def webhooks_group() -> None:
    """Outgoing webhooks."""


@webhooks_group.command("ping")
@click.option("--message", default="ping", help="Text sent in the event's data.")
@with_appcontext
def ping_command(message: str) -> None:
    """Send a webhook_ping event to the configured URL (through the outbox, like any event)."""
    if not settings().url:
        raise click.ClickException("no url in [plugins.webhooks]: nothing would be sent")
    row = emit(WebhookPing(subject_id=None, origin=Origin("system", detail="cli"), message=message))
    db.session.commit()
    click.echo(f"webhook_ping {row.id} queued")


@hookimpl
def register_commands() -> list[click.Command]:
    return [webhooks_group]
