"""QUALITY 13: a worker killed mid-job; the job is run again and its effect happens exactly once."""

from __future__ import annotations

import os
import signal
import uuid

import pytest

from core import jobs
from core.db import db, unit_of_work
from core.jobs import scheduler
from core.testing import services
from tests.jobs_support import job, marks, rq_app, run_burst_worker, start_worker, wait_until, worker_env

pytestmark = pytest.mark.redis


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return [int(child) for child in fh.read().split()]


def test_killed_worker_job_is_retried_once(app, make_app, tmp_path):
    url = services.redis_url()
    queue = f"mayak-kill-{uuid.uuid4().hex[:8]}"
    rq = rq_app(make_app, url, queue)
    env = worker_env(rq, tmp_path, url, queue)
    with rq.app_context(), unit_of_work():
        record = jobs.enqueue("sample.slow_mark", key="killed", seconds=3.0)
        db.session.commit()
        record_id = record.id

    worker = start_worker(env)
    try:
        wait_until(lambda: job(rq, record_id).progress_done >= 3, timeout=30)
    finally:
        # the worker and its work horse (RQ puts the horse in a session of its own), mid-job
        for pid in [*_children(worker.pid), worker.pid]:
            os.kill(pid, signal.SIGKILL)
        worker.wait(timeout=10)
    assert job(rq, record_id).status == "running"
    assert marks(rq, "killed") == 0

    # the heartbeat stops; after JOB_STALE_SECONDS the sweep requeues the job and submits it again
    def swept() -> bool:
        with rq.app_context(), unit_of_work():
            return scheduler.sweep() == {"requeued": 1, "resubmitted": 1, "events_pending": 0}

    wait_until(swept, timeout=15, every=0.5)
    assert job(rq, record_id).status == "queued"
    run_burst_worker(env)
    done = job(rq, record_id)
    assert done.status == "finished" and done.attempts == 2
    assert marks(rq, "killed") == 1
