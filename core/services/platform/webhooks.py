"""Webhooks in: the common work for every provider endpoint, after the web layer has checked size, method and
content type — the signature, the source allow-list, de-duplication by the provider's delivery id, the stored
delivery and its outcome, the handler as a job (or inline, with a deadline) — plus replay, health and purge for
*Administration → Webhooks*.

No Flask request here: the view hands over a :class:`~core.plugins.webhooks.WebhookRequest`. Nothing here
commits except where a step must outlive the caller's unit of work (a refusal is kept, an inline handler's
outcome is written by its own thread); the view commits the rest.
"""

from __future__ import annotations

import logging
import os
import re
import time
import traceback
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import load_only

from core import jobs
from core.db import db
from core.models import WebhookDelivery, utcnow
from core.models.webhooks import DELIVERY_STATUSES as DELIVERY_STATUSES  # re-exported for the admin filter
from core.plugins import facades
from core.plugins import webhooks as declared
from core.plugins.webhooks import (
    SECRET_NAME,
    InboundDelivery,
    MalformedBody,
    WebhookAnswer,
    WebhookEndpoint,
    WebhookRequest,
)
from core.services.platform import audit, paging
from core.services.platform.context import Actor
from core.services.platform.errors import ValidationError

log = logging.getLogger(__name__)

JOB_NAME = "core.webhook"
REFUSED_BODY_KEPT = 4096  # a refused delivery is evidence, not work: its body is kept only this far
REFUSED_KEPT_PER_MINUTE = 60  # per plugin; refusals beyond it are answered and logged, not stored
MAX_HEADER_VALUE = 2000
_inline_pool = ThreadPoolExecutor(max_workers=int(os.environ.get("MAYAK_WEBHOOK_INLINE_THREADS", "8")),
                                  thread_name_prefix="webhook-inline")


# --- the declared endpoints --------------------------------------------------------------------------------


def endpoints() -> dict[tuple[str, str], WebhookEndpoint]:
    """Every endpoint the enabled plugins declare, by ``(plugin, path)`` (collected once per app)."""
    return facades.webhook_endpoints()


def find(plugin: str, path: str) -> WebhookEndpoint | None:
    return endpoints().get((plugin, path))


def allowed_networks(endpoint: WebhookEndpoint) -> list[Any]:
    """The endpoint's allow-list; the administrator's (``MAYAK_WEBHOOK_ALLOW_<PLUGIN>``, CIDRs separated by
    commas, or the app's ``WEBHOOK_ALLOW`` mapping) replaces the plugin's when set."""
    override = (current_app.config.get("WEBHOOK_ALLOW") or {}).get(endpoint.plugin)
    if override is None:
        override = os.environ.get(f"MAYAK_WEBHOOK_ALLOW_{endpoint.plugin.upper()}")
    cidrs = endpoint.allow_from if override is None else tuple(str(override).split(","))
    return declared.networks(cidrs)


# --- receiving ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What the view answers: ``status`` with ``answer`` (inline endpoints) or a short text."""

    status: int
    message: str
    delivery_id: int | None = None
    duplicate: bool = False
    answer: WebhookAnswer | None = None


def stored_headers(endpoint: WebhookEndpoint, headers: Mapping[str, str]) -> dict[str, str]:
    """The headers worth keeping: no credentials, no cookies, none the endpoint names secret."""
    secret = endpoint.secret_names()
    return {name: value[:MAX_HEADER_VALUE] for name, value in headers.items()
            if name not in secret and not SECRET_NAME.search(name)}


def stored_query(endpoint: WebhookEndpoint, query: Mapping[str, list[str]]) -> dict[str, list[str]]:
    secret = endpoint.secret_names()
    return {name: values for name, values in query.items()
            if name.lower() not in secret and not SECRET_NAME.search(name)}


def _values(endpoint: WebhookEndpoint, request: WebhookRequest, status: str, external_id: str | None,
            *, keep_body: int | None = None) -> dict[str, Any]:
    body = request.body if keep_body is None else request.body[:keep_body]
    return {"plugin": endpoint.plugin, "endpoint": endpoint.path, "external_id": external_id,
            "method": request.method, "query": stored_query(endpoint, request.query),
            "headers": stored_headers(endpoint, request.headers), "content_type": request.content_type[:200],
            "body": body, "body_size": len(request.body), "remote_addr": request.remote_addr[:64],
            "status": status, "attempts": 0, "received_at": utcnow()}


def _insert_once(values: dict[str, Any]) -> int | None:
    """Insert the delivery unless its ``(plugin, dedup_key)`` is taken: one statement, ``None`` for a repeat.

    ``ON CONFLICT DO NOTHING`` instead of insert-and-catch: a twin posted at the same moment waits for the first
    one's commit and then inserts nothing, and nothing of the caller's transaction is undone (no savepoint and
    no failed statement to roll back). PostgreSQL and SQLite (3.35+) both have it."""
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (insert(WebhookDelivery).values(**values)
            .on_conflict_do_nothing(index_elements=["plugin", "dedup_key"]).returning(WebhookDelivery.id))
    return db.session.execute(stmt).scalar()


def _refuse(endpoint: WebhookEndpoint, request: WebhookRequest, reason: str, external_id: str | None) -> Outcome:
    """Keep the refused delivery (committed on its own: the caller's answer is an error) and log it — up to
    :data:`REFUSED_KEPT_PER_MINUTE` a minute per plugin, so that a flood of forgeries cannot fill the database."""
    log.warning("webhook %s/%s from %s refused: %s", endpoint.plugin, endpoint.path, request.remote_addr, reason)
    db.session.rollback()
    if _refusals_flooding(endpoint.plugin):
        return Outcome(403, "forbidden")
    row = WebhookDelivery(**_values(endpoint, request, "refused", external_id, keep_body=REFUSED_BODY_KEPT))
    row.error, row.finished_at = reason, utcnow()
    db.session.add(row)
    db.session.commit()
    return Outcome(403, "forbidden", row.id)


def _refusals_flooding(plugin: str) -> bool:
    """Whether the plugin's last :data:`REFUSED_KEPT_PER_MINUTE` refused deliveries all came within a minute (one
    look down the (status, id) index)."""
    oldest_kept = db.session.scalar(
        select(WebhookDelivery.received_at)
        .where(WebhookDelivery.status == "refused", WebhookDelivery.plugin == plugin)
        .order_by(WebhookDelivery.id.desc()).offset(REFUSED_KEPT_PER_MINUTE - 1).limit(1))
    db.session.rollback()
    return oldest_kept is not None and oldest_kept > utcnow() - timedelta(minutes=1)


def _external_id(endpoint: WebhookEndpoint, request: WebhookRequest) -> str | None:
    value = endpoint.delivery_id(request)
    if value is None or value == "":
        return None
    text = str(value)
    if len(text) > 200 or any(ord(c) < 32 for c in text):
        raise MalformedBody("the delivery id is too long or holds control characters")
    return text


def receive(endpoint: WebhookEndpoint, request: WebhookRequest) -> Outcome:
    """Run the common pipeline for one delivery that passed size, method and content type.

    Raises :class:`MalformedBody` (a 400) when the plugin cannot read it. A signature or address refusal is
    kept and committed; otherwise the new delivery and its job are added to the session for the caller to
    commit (inline endpoints commit here: their handler runs in another thread and must see the row)."""
    if not endpoint.verify(request):
        return _refuse(endpoint, request, _SIGNATURE_REFUSED, _safe_external_id(endpoint, request))
    if not declared.address_allowed(request.remote_addr, allowed_networks(endpoint)):
        return _refuse(endpoint, request, f"address {request.remote_addr} is not allowed",
                       _safe_external_id(endpoint, request))
    if _json_type(request.content_type):
        request.json()  # a body that says it is JSON and is not: a 400 now, not a failed handler later
    external_id = _external_id(endpoint, request)
    values = _values(endpoint, request, "running" if endpoint.inline else "queued", external_id)
    values["dedup_key"] = external_id
    if endpoint.inline:
        values["attempts"] = 1
    delivery_id = _insert_once(values)
    if delivery_id is None:  # seen before (or a twin committed first): answer as the first time, change nothing
        return _repeat(_seen(endpoint.plugin, external_id) if endpoint.inline else None, endpoint)
    if endpoint.inline:
        db.session.commit()
        return _run_inline(endpoint, delivery_id)
    jobs.enqueue(JOB_NAME, delivery_id=delivery_id)
    return Outcome(202, "accepted", delivery_id)


def _json_type(content_type: str) -> bool:
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime == "application/json" or mime.endswith("+json")


def _safe_external_id(endpoint: WebhookEndpoint, request: WebhookRequest) -> str | None:
    """The id a refused delivery claims, for the admin list only (never a de-duplication key)."""
    try:
        return (_external_id(endpoint, request) or None)
    except Exception:
        return None


def _seen(plugin: str, external_id: str | None) -> WebhookDelivery | None:
    return db.session.scalar(select(WebhookDelivery).where(WebhookDelivery.plugin == plugin,
                                                           WebhookDelivery.dedup_key == external_id))


def _repeat(seen: WebhookDelivery | None, endpoint: WebhookEndpoint) -> Outcome:
    """A repeat's answer: an inline endpoint's stored answer (``seen``) — or its fallback when the first delivery
    stored none (its handler failed: the provider still gets what it understands, never our JSON) — else a plain
    200."""
    answer = None
    if seen is not None and seen.answer:
        answer = WebhookAnswer(int(seen.answer.get("status", 200)), str(seen.answer.get("body", "")),
                               str(seen.answer.get("content_type", "text/plain; charset=utf-8")))
    elif endpoint.inline:
        answer = endpoint.fallback
    return Outcome(200, "duplicate", seen.id if seen is not None else None, duplicate=True, answer=answer)


# --- running handlers ---------------------------------------------------------------------------------------


def _request_of(row: WebhookDelivery) -> WebhookRequest:
    return WebhookRequest(method=row.method, path=f"/webhooks/{row.plugin}/{row.endpoint}",
                          headers=dict(row.headers or {}), query=dict(row.query or {}), body=bytes(row.body or b""),
                          remote_addr=row.remote_addr, content_type=row.content_type)


def _delivery_of(row: WebhookDelivery, replay: bool) -> InboundDelivery:
    return InboundDelivery(id=row.id, plugin=row.plugin, endpoint=row.endpoint, external_id=row.external_id,
                           request=_request_of(row), received_at=row.received_at, attempt=row.attempts,
                           replay=replay)


def _reason(exc: BaseException) -> str:
    """``ClassName: message`` (the class without its module: an administrator reads it, not a debugger)."""
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    qualified = f"{type(exc).__module__}.{type(exc).__qualname__}"
    if text.startswith(qualified):
        text = type(exc).__qualname__ + text[len(qualified):]
    return text[:2000]


# the reasons the core itself stores (in English, as logs are); shown in the reader's language
_SIGNATURE_REFUSED = "signature check failed"
_ADDRESS_REFUSED = re.compile(r"address (?P<address>\S+) is not allowed")
_ENDPOINT_GONE = re.compile(r"the plugin '(?P<plugin>[^']*)' no longer declares this endpoint")
_LATE_ANSWER = "answered after the deadline: the provider got the fallback answer"


def describe_error(error: str | None) -> str:
    """A delivery's stored error for the admin pages: the core's own reasons translated, a handler's exception
    (the provider's or plugin's words) as it is."""
    if not error:
        return ""
    if error == _SIGNATURE_REFUSED:
        return str(_l("The signature check failed: the delivery was refused and its handler did not run."))
    if error == _LATE_ANSWER:
        return str(_l("The handler answered after the deadline: the provider got the fallback answer."))
    if match := _ADDRESS_REFUSED.fullmatch(error):
        return str(_l("Deliveries from %(address)s are not allowed.", address=match["address"]))
    if match := _ENDPOINT_GONE.fullmatch(error):
        return str(_l("The plugin %(plugin)s no longer declares this webhook.", plugin=match["plugin"]))
    return error


def process(delivery_id: int, *, replay: bool = False) -> str:
    """Run the handler of one stored delivery (the job, and replay). The handler's writes are kept only when it
    returns; when it raises they are undone (a savepoint) and the delivery is marked failed with the reason,
    so the caller's unit of work — the job's record — is kept. Returns the delivery's new status."""
    row = db.session.get(WebhookDelivery, delivery_id)
    if row is None:
        return "missing"  # purged meanwhile
    if row.status in ("processed", "refused") and not replay:
        return row.status  # a job run twice (a worker died after the commit) changes nothing
    endpoint = find(row.plugin, row.endpoint)
    row.attempts += 1
    if endpoint is None:
        row.status, row.error = "failed", f"the plugin {row.plugin!r} no longer declares this endpoint"
        row.finished_at = utcnow()
        return row.status
    row.status = "running"
    delivery = _delivery_of(row, replay)
    try:
        with db.session.begin_nested():
            result = endpoint.handle(delivery)
    except Exception as exc:
        log.warning("webhook handler %s/%s failed on delivery %s", row.plugin, row.endpoint, row.id, exc_info=True)
        row.status, row.error = "failed", _reason(exc)
    else:
        row.status, row.error = "processed", None
        if endpoint.inline:
            row.answer = _answer_json(WebhookAnswer.of(result))
    row.finished_at = utcnow()
    return row.status


def _answer_json(answer: WebhookAnswer) -> dict[str, Any]:
    return {"status": answer.status, "content_type": answer.content_type,
            "body": answer.data.decode("utf-8", "replace")}


def _inline_worker(app: Flask, endpoint: WebhookEndpoint, delivery_id: int, deadline: float) -> WebhookAnswer:
    """The inline handler in its own thread, app context and unit of work; it records its outcome itself, also
    when the provider was already answered with the fallback."""
    with app.app_context():
        try:
            row = db.session.get(WebhookDelivery, delivery_id)
            assert row is not None
            delivery = _delivery_of(row, False)
            try:
                with db.session.begin_nested():
                    answer = WebhookAnswer.of(endpoint.handle(delivery))
            except Exception as exc:
                log.warning("inline webhook %s/%s failed on delivery %s", endpoint.plugin, endpoint.path,
                            delivery_id, exc_info=True)
                row.status, row.error = "failed", _reason(exc)
                row.finished_at = utcnow()
                db.session.commit()
                raise
            row.status, row.answer, row.finished_at = "processed", _answer_json(answer), utcnow()
            if time.monotonic() > deadline:
                row.error = _LATE_ANSWER
                row.answer = _answer_json(endpoint.fallback)
            db.session.commit()
            return answer
        finally:
            db.session.remove()


def _run_inline(endpoint: WebhookEndpoint, delivery_id: int) -> Outcome:
    deadline = time.monotonic() + endpoint.deadline_ms / 1000
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    future: Future[WebhookAnswer] = _inline_pool.submit(_inline_worker, app, endpoint, delivery_id, deadline)
    try:
        answer = future.result(timeout=max(deadline - time.monotonic(), 0))
    except FutureTimeout:
        log.warning("inline webhook %s/%s missed its %s ms deadline; answered with the fallback",
                    endpoint.plugin, endpoint.path, endpoint.deadline_ms)
        return Outcome(endpoint.fallback.status, "fallback", delivery_id, answer=endpoint.fallback)
    except Exception:
        return Outcome(endpoint.fallback.status, "fallback", delivery_id, answer=endpoint.fallback)
    return Outcome(answer.status, "answered", delivery_id, answer=answer)


def run_job(delivery_id: int, replay: bool = False) -> dict[str, Any]:
    """The ``core.webhook`` job (the runner commits)."""
    return {"delivery": delivery_id, "status": process(delivery_id, replay=replay)}


def replay(actor: Actor, delivery_id: int) -> WebhookDelivery:
    """Queue the handler again for a delivery that failed (or ran: handlers are idempotent); audited. The caller
    commits, the job runs after the commit and records the new outcome."""
    row = db.session.get(WebhookDelivery, delivery_id)
    if row is None or row.status not in ("failed", "processed"):
        raise ValidationError("delivery", _l("Only a delivery that failed or was processed can be replayed."))
    row.status, row.error, row.finished_at = "queued", None, None
    row.job_id = jobs.enqueue(JOB_NAME, delivery_id=row.id, replay=True,
                              created_by_id=actor.user.id if actor.user else None).id
    audit.record(actor, "webhook.replayed", "webhook_delivery", row.id,
                 {"plugin": row.plugin, "endpoint": row.endpoint})
    return row


# --- administration -----------------------------------------------------------------------------------------


LIST_COLUMNS = ("id", "plugin", "endpoint", "external_id", "status", "error", "received_at")


def recent(limit: int = 50, before_id: int | None = None, plugin: str | None = None,
           status: str | None = None) -> list[WebhookDelivery]:
    """Deliveries newest first, a page at a time (keyset by id), optionally of one plugin and status. Only the
    list's columns are read: fifty bodies of up to 8 MiB each are for the delivery's own page."""
    stmt = select(WebhookDelivery).options(load_only(*(getattr(WebhookDelivery, c) for c in LIST_COLUMNS)))
    if plugin:
        stmt = stmt.where(WebhookDelivery.plugin == plugin)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    return paging.newest_first(stmt, WebhookDelivery.id, limit, before_id)


@dataclass(frozen=True)
class ProviderHealth:
    plugin: str
    endpoints: list[str]
    last_event: datetime | None
    failures_last_hour: int
    received_last_hour: int


def health() -> list[ProviderHealth]:
    """Per plugin with endpoints (or deliveries in the last hour): its last delivery, and how many deliveries and
    failed or refused ones it had in the last hour. Two statements whatever the number of plugins."""
    by_plugin: dict[str, list[str]] = {}
    for plugin, path in sorted(endpoints()):
        by_plugin.setdefault(plugin, []).append(path)
    since = utcnow() - timedelta(hours=1)
    failed = case((WebhookDelivery.status.in_(("failed", "refused")), 1), else_=0)
    hour = {plugin: (total, int(failures or 0)) for plugin, total, failures in db.session.execute(
        select(WebhookDelivery.plugin, func.count(), func.sum(failed))
        .where(WebhookDelivery.received_at >= since).group_by(WebhookDelivery.plugin))}
    names = sorted(set(by_plugin) | set(hour))
    last: dict[str, datetime | None] = {}
    if names:  # the newest row of each plugin through the (plugin, id) index, in one statement
        row = db.session.execute(select(*(
            select(WebhookDelivery.received_at).where(WebhookDelivery.plugin == name)
            .order_by(WebhookDelivery.id.desc()).limit(1).scalar_subquery().label(f"p{number}")
            for number, name in enumerate(names)))).one()
        last = dict(zip(names, row, strict=True))
    return [ProviderHealth(name, by_plugin.get(name, []), last.get(name), hour.get(name, (0, 0))[1],
                           hour.get(name, (0, 0))[0]) for name in names]


def purge(days: int) -> int:
    """Delete deliveries received more than ``days`` days ago (their ids stop de-duplicating: providers retry
    for hours, not weeks)."""
    return db.session.execute(
        delete(WebhookDelivery).where(WebhookDelivery.received_at < utcnow() - timedelta(days=days))
    ).rowcount or 0


def keep_days() -> int:
    return int(current_app.config.get("WEBHOOK_KEEP_DAYS") or os.environ.get("MAYAK_WEBHOOK_KEEP_DAYS") or 30)


def purge_job(_ctx: object) -> dict[str, int]:
    return {"deliveries": purge(keep_days())}


__all__ = ["DELIVERY_STATUSES", "Outcome", "ProviderHealth", "endpoints", "find", "health", "process", "purge",
           "receive", "recent", "replay"]
