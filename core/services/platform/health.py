"""The health of the whole installation, as ``/healthz`` and ``mayak status`` report it.

One report: the database and Redis answer; jobs are waiting no longer than they should; every role that must run
has a live process (web processes, workers per queue, schedulers), from the beats they write
(:mod:`core.jobs.beats`); no process was lost without being replaced; every plugin is healthy. Each part says
``ok`` and why; the installation is healthy when every part is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select, text

from core import jobs
from core.db import db
from core.jobs.beats import ROLES, SILENT_BEATS, beat_seconds
from core.models import JobRecord, ProcessBeat, utcnow
from core.plugins import facades

LOST_SHOWN_FOR = timedelta(minutes=10)  # a process that stopped beating is listed as lost this long
JOB_WAIT_ALERT_DEFAULT = 120.0  # seconds the oldest waiting job may wait before the installation is degraded


@dataclass
class ProcessState:
    """One process as health reports it."""

    id: str
    role: str
    host: str
    pid: int
    queues: list[str]
    state: str
    seen_seconds_ago: float
    started_at: str
    replaced: bool = False


def report(now: datetime | None = None) -> dict[str, Any]:
    """The whole report (JSON-ready); ``report()["status"]`` is ``ok`` or ``degraded``."""
    now = now or utcnow()
    body: dict[str, Any] = {"database": _database()}
    backend = jobs.backend()
    embedded = backend.name != "rq"
    redis_ok, redis_detail = backend.health()
    body["redis"] = ({"ok": True, "detail": "not used: jobs run in-process"} if embedded
                     else {"ok": redis_ok, "detail": redis_detail})
    if body["database"]["ok"]:
        try:
            body["jobs"] = _jobs(now, backend.name, redis_detail if redis_ok else "")
            body.update(_processes(now, embedded, [] if embedded else [backend.queue.name]))  # type: ignore[attr-defined]
        except Exception as exc:  # the database went away between the two checks
            db.session.rollback()
            body["database"] = {"ok": False, "detail": f"{type(exc).__name__} while reading the job tables"}
    if not body["database"]["ok"]:
        unknown = {"ok": False, "detail": "unknown: the database is unreachable"}
        body["jobs"] = dict(unknown)
        for role in ("web", "workers", "schedulers"):
            body[role] = {**unknown, "alive": [], "lost": []}
    body["plugins"] = {name: {"ok": s.ok, "detail": s.detail} for name, s in facades.plugin_health().items()}
    parts = [body[key] for key in ("database", "redis", "jobs", "web", "workers", "schedulers")]
    if "listeners" in body:
        parts.append(body["listeners"])
    healthy = all(part["ok"] for part in parts) and all(p["ok"] for p in body["plugins"].values())
    return {"status": "ok" if healthy else "degraded", **body}


def ready() -> tuple[bool, str]:
    """Whether this web process can serve pages: its database answers (Redis may be down: pages still work)."""
    database = _database()
    return bool(database["ok"]), str(database["detail"])


def _database() -> dict[str, Any]:
    try:
        db.session.execute(text("SELECT 1"))
        db.session.commit()
        return {"ok": True, "detail": db.engine.dialect.name}
    except Exception as exc:
        db.session.rollback()
        return {"ok": False, "detail": f"unreachable: {type(exc).__name__}"}


def _jobs(now: datetime, backend_name: str, queue_detail: str) -> dict[str, Any]:
    waiting, oldest = db.session.execute(
        select(func.count(JobRecord.id), func.min(JobRecord.created_at)).where(JobRecord.status == "queued")
    ).one()
    running = db.session.scalar(select(func.count(JobRecord.id)).where(JobRecord.status == "running")) or 0
    db.session.commit()
    oldest_age = round((now - oldest).total_seconds(), 1) if oldest is not None else None
    limit = float(current_app.config.get("JOB_WAIT_ALERT_SECONDS") or JOB_WAIT_ALERT_DEFAULT)
    ok = oldest_age is None or oldest_age <= limit
    detail = (f"{backend_name}: {waiting} waiting, {running} running"
              + (f"; the oldest has waited {oldest_age:.0f} s (more than {limit:.0f})" if not ok else "")
              + (f"; queue: {queue_detail}" if queue_detail else ""))
    return {"ok": ok, "detail": detail, "waiting": waiting, "running": running,
            "oldest_waiting_seconds": oldest_age}


def _processes(now: datetime, embedded: bool, queues: list[str]) -> dict[str, dict[str, Any]]:
    every = beat_seconds(current_app)
    alive_after = now - timedelta(seconds=every * SILENT_BEATS)
    rows = list(db.session.scalars(select(ProcessBeat).where(
        ProcessBeat.stopped_at.is_(None), ProcessBeat.seen_at > now - LOST_SHOWN_FOR)))
    db.session.commit()
    by_role: dict[str, tuple[list[ProcessState], list[ProcessState]]] = {role: ([], []) for role in ROLES}
    for row in rows:
        state = ProcessState(id=row.id, role=row.role, host=row.host, pid=row.pid,
                             queues=[q for q in row.queues.split(",") if q], state=row.state,
                             seen_seconds_ago=round(max(0.0, (now - row.seen_at).total_seconds()), 1),
                             started_at=row.started_at.isoformat())
        alive, lost = by_role.setdefault(row.role, ([], []))
        if row.seen_at > alive_after:
            alive.append(state)
        else:
            # replaced: a process of the same role on the same host started after this one went quiet (what a
            # process manager does after a kill); the fault is over, it is listed for the record
            state.replaced = any(other.role == row.role and other.host == row.host and other.seen_at > alive_after
                                 and other.started_at >= row.seen_at for other in rows)
            lost.append(state)
    out: dict[str, dict[str, Any]] = {}
    for role, key in (("web", "web"), ("worker", "workers"), ("scheduler", "schedulers"),
                      ("listener", "listeners")):
        alive, lost = by_role[role]
        unreplaced = [p for p in lost if not p.replaced]
        part: dict[str, Any] = {"alive": [asdict(p) for p in alive], "lost": [asdict(p) for p in lost]}
        if embedded and role in ("worker", "scheduler"):
            part.update(ok=True, detail="runs inside the web process (no Redis)")
        elif role == "listener" and not alive and not lost:
            continue  # no PBX listener in this installation
        elif role == "web" and not alive and not lost:
            part.update(ok=True, detail="no web process has reported yet (development server or tests)")
        else:
            missing = "" if alive else f"no {role} is running"
            if role == "worker":
                part["per_queue"] = {q: sum(q in p.queues for p in alive) for q in queues}
                idle_queues = [q for q, n in part["per_queue"].items() if not n]
                if alive and idle_queues:
                    missing = "no worker listens on " + ", ".join(idle_queues)
            lost_text = f"{len(unreplaced)} lost: " + ", ".join(p.id for p in unreplaced) if unreplaced else ""
            part.update(ok=not missing and not unreplaced,
                        detail="; ".join(t for t in (missing, lost_text) if t) or f"{len(alive)} alive")
        out[key] = part
    return out
