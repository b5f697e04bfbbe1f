"""QUALITY 14: Redis goes down while people work: no 5xx, nothing lost, the backlog drains after recovery."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import select

from core.db import db, unit_of_work
from core.jobs import scheduler
from core.models import JobRecord, Notification, OutboxEvent
from core.testing.fixtures import create_user, post_form, sign_in
from tests.cluster import RedisServer
from tests.jobs_support import rq_app, run_burst_worker, worker_env

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_server(tmp_path):
    if not os.path.exists("/usr/bin/redis-server"):
        pytest.skip("redis-server is not installed")
    server = RedisServer(tmp_path, tmp_path / "redis.log")
    server.start()
    yield server
    server.stop()


def test_redis_outage_loses_nothing(app, make_app, tmp_path, redis_server):
    queue = f"mayak-down-{uuid.uuid4().hex[:8]}"
    web = rq_app(make_app, redis_server.url, queue)
    create_user(web, "second-admin@example.com", is_admin=True)
    admin = create_user(web, "admin@example.com", is_admin=True)
    with web.app_context(), unit_of_work():
        failed = JobRecord(name="sample.mark", kwargs={"key": "retried"}, status="failed", attempts=3)
        db.session.add(failed)
        db.session.commit()
        failed_id = failed.id
    client = web.test_client()
    sign_in(client, admin.email)

    redis_server.stop()
    # people keep working: pages, a new colleague (an event), a retried job (a job) — no 5xx
    for url in ("/", "/admin/users", "/admin/jobs/", "/notifications"):
        assert client.get(url).status_code == 200, url
    response = post_form(client, "/admin/users/new", {"email": "newcomer@example.com",
                                                       "password": "a long password 1"})
    assert response.status_code == 302
    assert post_form(client, f"/admin/jobs/{failed_id}/retry").status_code == 302
    health = client.get("/healthz")
    assert health.status_code == 503 and health.get_json()["redis"]["ok"] is False
    with web.app_context(), unit_of_work():
        record = db.session.get(JobRecord, failed_id)
        assert record.status == "queued" and record.submitted_at is None
        assert db.session.scalar(select(OutboxEvent).where(OutboxEvent.dispatched_at.is_(None))) is not None
        assert scheduler.sweep()["resubmitted"] == 0  # still down: nothing lost, nothing raised

    redis_server.start()
    with web.app_context(), unit_of_work():
        assert scheduler.sweep()["resubmitted"] == 1
    run_burst_worker(worker_env(web, tmp_path, redis_server.url, queue))
    with web.app_context(), unit_of_work():
        assert db.session.get(JobRecord, failed_id).status == "finished"
        assert db.session.scalar(select(OutboxEvent).where(OutboxEvent.dispatched_at.is_(None))) is None
        told = db.session.scalars(select(Notification).where(Notification.source == "ops")).all()
        assert [n.params["email"] for n in told] == ["newcomer@example.com"]
    # Redis is back; what health still misses are the long-running worker and scheduler this test does not run
    body = client.get("/healthz").get_json()
    assert body["redis"]["ok"] and body["database"]["ok"] and body["jobs"]["ok"]
    assert body["workers"]["detail"] == "no worker is running"
    assert body["schedulers"]["detail"] == "no scheduler is running"
