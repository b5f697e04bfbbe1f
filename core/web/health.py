"""``/healthz``: database, job backend and plugins, as JSON for load balancers and monitoring."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from core import jobs
from core.db import db
from core.plugins import facades
from core.web.marks import public

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz():  # type: ignore[no-untyped-def]
    checks: dict[str, dict[str, object]] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = {"ok": True, "detail": db.engine.dialect.name}
    except Exception as exc:
        db.session.rollback()
        checks["database"] = {"ok": False, "detail": type(exc).__name__}
    backend = jobs.backend()
    ok, detail = backend.health()
    if backend.name == "rq":
        checks["redis"] = {"ok": ok, "detail": detail}
    else:
        checks["redis"] = {"ok": True, "detail": "not used: jobs run in-process"}
    checks["jobs"] = {"ok": ok, "detail": f"{backend.name}: {detail}"}
    plugin_status = {name: {"ok": s.ok, "detail": s.detail} for name, s in facades.plugin_health().items()}
    healthy = all(c["ok"] for c in checks.values()) and all(p["ok"] for p in plugin_status.values())
    body = {"status": "ok" if healthy else "degraded", **checks, "plugins": plugin_status}
    return jsonify(body), 200 if healthy else 503
