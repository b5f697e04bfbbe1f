"""Jobs on a real Redis with real ``mayak worker`` processes (RQ)."""

from __future__ import annotations

import uuid

import pytest

from core import jobs
from core.db import db, unit_of_work
from core.testing import services
from tests.jobs_support import job, marks, rq_app, run_burst_worker, worker_env

pytestmark = pytest.mark.redis


@pytest.fixture
def queue() -> str:
    return f"mayak-test-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("mode", ["--fork", "--no-fork"])
def test_job_runs_on_an_rq_worker(app, make_app, tmp_path, queue, mode):
    """In a fork per job (isolated), or in the worker itself (its caches and connections kept: a tenth of the cost
    of a small job), every job runs once with its result."""
    url = services.redis_url()
    rq = rq_app(make_app, url, queue)
    with rq.app_context(), unit_of_work():
        records = [jobs.enqueue("sample.mark", key=f"rq{n}") for n in range(3)]
        db.session.commit()
        record_ids = [record.id for record in records]
        assert jobs.backend().queue.count == 3
    assert job(rq, record_ids[0]).submitted_at is not None
    run_burst_worker(worker_env(rq, tmp_path, url, queue), 60, mode)
    for n, record_id in enumerate(record_ids):
        done = job(rq, record_id)
        assert done.status == "finished" and done.result == {"key": f"rq{n}"}
        assert marks(rq, f"rq{n}") == 1


def test_failed_attempt_goes_back_through_the_sweep(app, make_app, tmp_path, queue):
    from core.jobs import scheduler

    url = services.redis_url()
    rq = rq_app(make_app, url, queue)
    with rq.app_context(), unit_of_work():
        record = jobs.enqueue("sample.flaky", key="rqf")
        db.session.commit()
        record_id = record.id
    env = worker_env(rq, tmp_path, url, queue)
    run_burst_worker(env)
    assert job(rq, record_id).status == "queued"
    with rq.app_context(), unit_of_work():
        assert scheduler.sweep()["resubmitted"] == 1
    run_burst_worker(env)
    assert job(rq, record_id).status == "finished" and marks(rq, "rqf") == 1


def test_healthz_reports_redis(app, make_app, queue):
    rq = rq_app(make_app, services.redis_url(), queue)
    body = rq.test_client().get("/healthz").get_json()
    assert body["redis"]["ok"] is True and body["jobs"]["detail"].startswith("rq:")
