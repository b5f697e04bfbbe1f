"""Health of the whole installation: /livez, /readyz, /healthz, `mayak status`, /metrics and the process beats they
read; who may see the details."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from core.db import db, unit_of_work
from core.jobs.beats import SILENT_BEATS, Beat, beat_seconds
from core.models import JobRecord, ProcessBeat, utcnow
from core.services.platform import health
from core.testing import services
from tests.jobs_support import proxied_app, rq_app

PUBLIC_ADDRESS = {"REMOTE_ADDR": "77.88.8.8"}  # a real public address (203.0.113.0/24 counts as private)


def _beat(app, role: str, queues: tuple[str, ...] = (), *, host: str | None = None, ago: float = 0.0,
          started_ago: float | None = None) -> Beat:
    """A process's beat written as if it were seen ``ago`` seconds ago (and started ``started_ago`` ago)."""
    beat = Beat(app, role, queues)
    if host:
        beat.host = host
        beat.id = f"{role}:{host}:{beat.pid}:{uuid.uuid4().hex[:8]}"
    beat.set_state("idle")
    beat.beat()
    now = utcnow()
    with app.app_context(), unit_of_work():
        db.session.execute(update(ProcessBeat).where(ProcessBeat.id == beat.id).values(
            seen_at=now - timedelta(seconds=ago),
            started_at=now - timedelta(seconds=ago if started_ago is None else started_ago)))
        db.session.commit()
    return beat


def _silent(app) -> float:
    return beat_seconds(app) * SILENT_BEATS + 1


def test_embedded_installation_is_healthy_and_says_where_its_jobs_run(app, client):
    assert client.get("/livez").get_json() == {"status": "alive"}
    assert client.get("/readyz").status_code == 200
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 200 and body["status"] == "ok"
    assert body["workers"]["detail"] == body["schedulers"]["detail"] == "runs inside the web process (no Redis)"
    assert body["jobs"] == {**body["jobs"], "ok": True, "waiting": 0, "running": 0, "oldest_waiting_seconds": None}


def test_processes_alive_lost_and_replaced(app):
    web = _beat(app, "web", host="web-a")
    lost = _beat(app, "web", host="web-b", ago=_silent(app))
    with app.app_context():
        body = health.report()
    assert [p["id"] for p in body["web"]["alive"]] == [web.id]
    assert [(p["id"], p["replaced"]) for p in body["web"]["lost"]] == [(lost.id, False)]
    assert body["web"]["ok"] is False and lost.id in body["web"]["detail"] and body["status"] == "degraded"

    # the process manager starts another one on that host: the fault is over, the lost one stays on the record
    _beat(app, "web", host="web-b")
    with app.app_context():
        body = health.report()
    assert [(p["id"], p["replaced"]) for p in body["web"]["lost"]] == [(lost.id, True)]
    assert body["web"]["ok"] is True and body["status"] == "ok"

    # a clean stop is not a loss
    web.stop()
    with app.app_context():
        assert web.id not in json.dumps(health.report()["web"])


@pytest.mark.redis
def test_workers_and_schedulers_are_required_with_redis(app, make_app):
    queue = f"mayak-health-{uuid.uuid4().hex[:8]}"
    rq = rq_app(make_app, services.redis_url(), queue)
    client = rq.test_client()
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 503 and body["status"] == "degraded"
    assert body["workers"]["detail"] == "no worker is running"
    assert body["schedulers"]["detail"] == "no scheduler is running"
    assert body["redis"]["ok"] is True

    _beat(rq, "worker", ("another-queue",))
    _beat(rq, "scheduler")
    body = client.get("/healthz").get_json()
    assert body["workers"]["detail"] == f"no worker listens on {queue}"
    assert body["workers"]["per_queue"] == {queue: 0} and body["schedulers"]["ok"] is True

    worker = _beat(rq, "worker", (queue,))
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["workers"]["per_queue"] == {queue: 1}
    alive = next(p for p in body["workers"]["alive"] if p["id"] == worker.id)
    assert alive["queues"] == [queue] and alive["state"] == "idle" and alive["seen_seconds_ago"] < 5


def test_a_job_waiting_too_long_degrades_the_installation(app, client):
    with app.app_context(), unit_of_work():
        db.session.add(JobRecord(name="sample.mark", kwargs={}, status="queued",
                                 created_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
    response = client.get("/healthz")
    jobs = response.get_json()["jobs"]
    assert response.status_code == 503
    assert jobs["ok"] is False and jobs["waiting"] == 1 and 299 < jobs["oldest_waiting_seconds"] < 400
    assert "the oldest has waited" in jobs["detail"]


def test_details_only_for_monitoring(app, client, monkeypatch):
    """Hosts, process ids and queues go to monitoring: loopback and private networks, or the token's holder."""
    public = client.get("/healthz", environ_base=PUBLIC_ADDRESS)
    assert public.status_code == 200 and public.get_json() == {"status": "ok"}
    assert client.get("/metrics", environ_base=PUBLIC_ADDRESS).status_code == 404
    assert "workers" in client.get("/healthz", environ_base={"REMOTE_ADDR": "10.1.2.3"}).get_json()

    monkeypatch.setenv("MAYAK_MONITORING_TOKEN", "s3cret-token")
    assert client.get("/healthz").get_json() == {"status": "ok"}  # with a token set, no address is enough
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    authorised = {"Authorization": "Bearer s3cret-token"}
    assert "workers" in client.get("/healthz", headers=authorised, environ_base=PUBLIC_ADDRESS).get_json()
    assert client.get("/metrics", headers=authorised, environ_base=PUBLIC_ADDRESS).status_code == 200
    # the probes an orchestrator needs never ask for a token
    assert client.get("/livez", environ_base=PUBLIC_ADDRESS).status_code == 200
    assert client.get("/readyz", environ_base=PUBLIC_ADDRESS).status_code == 200


def test_metrics_count_requests_and_read_the_installation(app, client):
    client.get("/livez")
    client.get("/no-such-page-here")
    _beat(app, "web")
    with app.app_context(), unit_of_work():
        db.session.add(JobRecord(name="webhooks.deliver", kwargs={}, status="failed"))
        db.session.commit()
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert 'mayak_http_requests_total{endpoint="health.livez",method="GET",status="200"}' in text
    assert 'endpoint="unmatched",method="GET",status="404"' in text  # never the path a client made up
    assert "no-such-page" not in text
    assert 'mayak_http_request_duration_seconds_bucket{endpoint="health.livez"' in text
    for line in ('mayak_up{part="database"} 1.0', 'mayak_jobs{state="failed"} 1.0',
                 'mayak_webhook_deliveries{state="failed"} 1.0', 'mayak_processes{role="web",state="alive"} 1.0',
                 "mayak_job_oldest_waiting_seconds 0.0", "mayak_events_undelivered "):
        assert line in text, line


@pytest.mark.postgres
def test_readiness_follows_the_database_and_liveness_does_not(app, make_app, database_url):
    with proxied_app(make_app, database_url) as (web, proxy):
        client = web.test_client()
        assert client.get("/readyz").status_code == 200
        proxy.cut()
        assert client.get("/livez").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["status"] == "not ready"
        body = client.get("/healthz").get_json()
        assert body["status"] == "degraded" and body["database"]["ok"] is False
        assert body["workers"]["detail"] == "unknown: the database is unreachable"
        proxy.restore()
        assert client.get("/readyz").status_code == 200


@pytest.mark.redis
def test_mayak_status_prints_the_report_and_fails_when_degraded(app, make_app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["status"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Mayak: ok") and "database" in result.output
    assert json.loads(runner.invoke(args=["status", "--json"]).output)["status"] == "ok"

    rq = rq_app(make_app, services.redis_url(), f"mayak-status-{uuid.uuid4().hex[:8]}")
    _beat(rq, "scheduler", ago=_silent(rq))
    result = rq.test_cli_runner().invoke(args=["status"])
    assert result.exit_code == 1
    assert "FAIL workers     no worker is running" in result.output
    assert "lost   scheduler:" in result.output and "(NOT replaced)" in result.output
