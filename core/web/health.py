"""Health for load balancers, orchestrators and monitoring.

``/livez``: the process answers (no database touched: a liveness probe must not restart web processes for an
outage elsewhere). ``/readyz``: this process can serve pages (its database answers). ``/healthz``: the whole
installation (database, Redis, jobs, every web process, worker and scheduler, plugins) as JSON, 503 when degraded.

The whole report names hosts, process ids and queues: it goes to monitoring (requests from loopback or private
networks, or with ``Authorization: Bearer $MAYAK_MONITORING_TOKEN``); anyone else gets the status alone.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from flask import Blueprint, jsonify, request

from core.services.platform import health
from core.web.context import client_ip
from core.web.marks import public

bp = Blueprint("health", __name__)


def monitoring_allowed() -> bool:
    """Whether this request may read the details of the installation (health report, metrics)."""
    token = os.environ.get("MAYAK_MONITORING_TOKEN", "")
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    try:
        address = ipaddress.ip_address(client_ip())
    except ValueError:
        return False
    return address.is_loopback or address.is_private


@bp.get("/livez")
@public
def livez():  # type: ignore[no-untyped-def]
    return jsonify({"status": "alive"})


@bp.get("/readyz")
@public
def readyz():  # type: ignore[no-untyped-def]
    ok, detail = health.ready()
    return jsonify({"status": "ready" if ok else "not ready", "database": detail}), 200 if ok else 503


@bp.get("/healthz")
@public
def healthz():  # type: ignore[no-untyped-def]
    body = health.report()
    code = 200 if body["status"] == "ok" else 503
    if not monitoring_allowed():
        body = {"status": body["status"]}
    return jsonify(body), code
