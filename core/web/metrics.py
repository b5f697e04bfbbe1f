"""``/metrics`` in Prometheus's text format, through the ``prometheus_client`` library.

Two kinds of figures:

- what this web process saw: requests by endpoint, method and status, and their latency (``mayak_http_*``). Under
  gunicorn every worker process writes them to files in ``PROMETHEUS_MULTIPROC_DIR`` (set by ``mayak serve`` and
  ``deploy/gunicorn.conf.py``), so one scrape adds up the whole server;
- what the installation holds, read at scrape time from the database and Redis (the same on every host): jobs by
  state, the oldest waiting job, queue depth, events not yet delivered, provider webhooks received, outgoing
  webhook deliveries waiting or failed, processes alive and lost per role.

Readable by monitoring only (see :func:`core.web.health.monitoring_allowed`). The library is imported when the
first figure is recorded, not at import time: it picks its storage (one process or many) from the environment
when it is first imported, and ``mayak serve`` sets that environment after the app is built, before the fork.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta
from functools import cache
from typing import Any

from flask import Blueprint, Flask, Response, abort, g, request
from sqlalchemy import func, select

from core.db import db
from core.web.health import monitoring_allowed
from core.web.marks import public

bp = Blueprint("metrics", __name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@cache
def _request_metrics() -> tuple[Any, Any]:
    from prometheus_client import Counter, Histogram

    requests = Counter("mayak_http_requests", "HTTP requests answered, by endpoint, method and status",
                       ["endpoint", "method", "status"])
    latency = Histogram("mayak_http_request_duration_seconds", "Time to answer a request, by endpoint",
                        ["endpoint"], buckets=LATENCY_BUCKETS)
    return requests, latency


def init_app(app: Flask) -> None:
    @app.before_request
    def _started() -> None:
        g.mayak_started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        started = g.get("mayak_started")
        if started is not None:
            # the rule's endpoint name, never the path: a path holds ids and anything a client sends
            endpoint = request.url_rule.endpoint if request.url_rule is not None else "unmatched"
            requests, latency = _request_metrics()
            requests.labels(endpoint, request.method if request.method in _METHODS else "other",
                            str(response.status_code)).inc()
            latency.labels(endpoint).observe(time.perf_counter() - started)
        return response


_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


class InstallationCollector:
    """Figures read from the database and Redis at each scrape."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        from core import jobs
        from core.services.platform import health

        report = health.report()
        up = GaugeMetricFamily("mayak_up", "1 when the part answers, by part", labels=["part"])
        for part in ("database", "redis", "jobs", "web", "workers", "schedulers"):
            up.add_metric([part], 1.0 if report.get(part, {}).get("ok") else 0.0)
        yield up
        if not report["database"]["ok"]:
            return
        job_part = report["jobs"]
        gauge = GaugeMetricFamily("mayak_jobs", "Jobs by state (waiting, running, failed)", labels=["state"])
        gauge.add_metric(["waiting"], job_part["waiting"])
        gauge.add_metric(["running"], job_part["running"])
        gauge.add_metric(["failed"], _count_failed())
        yield gauge
        yield GaugeMetricFamily("mayak_job_oldest_waiting_seconds", "Age of the oldest waiting job",
                                value=job_part["oldest_waiting_seconds"] or 0.0)
        backend = jobs.backend()
        if backend.name == "rq":
            try:
                depth = float(backend.queue.count)  # type: ignore[attr-defined]
            except Exception:
                depth = float("nan")
            yield GaugeMetricFamily("mayak_queue_depth", "Messages waiting in the Redis queue", value=depth)
        yield from _deliveries()
        processes = GaugeMetricFamily("mayak_processes", "Processes by role and state (alive, lost)",
                                      labels=["role", "state"])
        for key, role in (("web", "web"), ("workers", "worker"), ("schedulers", "scheduler"),
                          ("listeners", "listener")):
            if key in report:
                processes.add_metric([role, "alive"], len(report[key]["alive"]))
                processes.add_metric([role, "lost"], sum(not p["replaced"] for p in report[key]["lost"]))
        yield processes


def _count_failed() -> int:
    from core.models import JobRecord

    return db.session.scalar(select(func.count(JobRecord.id)).where(JobRecord.status == "failed")) or 0


def _deliveries() -> Iterator[Any]:
    from prometheus_client.core import GaugeMetricFamily

    from core.models import JobRecord, OutboxEvent, WebhookDelivery, utcnow

    events = db.session.scalar(select(func.count(OutboxEvent.id)).where(OutboxEvent.dispatched_at.is_(None))) or 0
    yield GaugeMetricFamily("mayak_events_undelivered", "Events not yet delivered to every handler", value=events)
    since = utcnow() - timedelta(hours=1)
    incoming = GaugeMetricFamily("mayak_webhooks_received_last_hour",
                                 "Provider webhooks received in the last hour, by plugin and outcome",
                                 labels=["plugin", "status"])
    for plugin, status, count in db.session.execute(
            select(WebhookDelivery.plugin, WebhookDelivery.status, func.count(WebhookDelivery.id))
            .where(WebhookDelivery.received_at > since)
            .group_by(WebhookDelivery.plugin, WebhookDelivery.status)):
        incoming.add_metric([plugin, status], count)
    yield incoming
    outgoing = GaugeMetricFamily("mayak_webhook_deliveries", "Outgoing webhook deliveries by state",
                                 labels=["state"])
    for status, count in db.session.execute(
            select(JobRecord.status, func.count(JobRecord.id))
            .where(JobRecord.name == "webhooks.deliver", JobRecord.status.in_(("queued", "running", "failed")))
            .group_by(JobRecord.status)):
        outgoing.add_metric([{"queued": "waiting"}.get(status, status)], count)
    yield outgoing
    db.session.commit()


@bp.get("/metrics")
@public
def metrics():  # type: ignore[no-untyped-def]
    if not monitoring_allowed():
        abort(404)
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)  # every gunicorn worker's files, added up
    else:
        from prometheus_client import REGISTRY as processes

        _request_metrics()  # present (at zero) before the first request is counted
    installation = CollectorRegistry()
    installation.register(InstallationCollector())
    return Response(generate_latest(processes) + generate_latest(installation), content_type=CONTENT_TYPE_LATEST)
