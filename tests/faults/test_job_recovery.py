"""Jobs through outages: an unreachable database is waited out (never a spent attempt), a run that lost its claim
rolls its work back, a lost queue message is sent again within seconds, a killed work horse's job is queued again at
once, and `mayak worker` outlives Redis (starts while it is down, waits, resumes)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import create_engine, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from core import jobs
from core.db import database_unreachable, db, unit_of_work
from core.jobs import runner, scheduler
from core.models import JobRecord, utcnow
from core.testing import services
from tests.cluster import RedisServer, descendants
from tests.jobs_support import (
    SAMPLE,
    job,
    marks,
    proxied_app,
    rq_app,
    run_burst_worker,
    start_worker,
    wait_until,
    worker_env,
)


def _row(app, name: str, **kwargs) -> int:
    """A queued job record and nothing else: no backend runs it but the test."""
    with app.app_context(), unit_of_work():
        record = JobRecord(name=name, kwargs=kwargs, status="queued")
        db.session.add(record)
        db.session.commit()
        return record.id


def _enqueue(app, name: str, **kwargs) -> int:
    with app.app_context(), unit_of_work():
        record = jobs.enqueue(name, **kwargs)
        db.session.commit()
        return record.id


# --- what counts as an unreachable database ----------------------------------------------------------------------


@pytest.mark.postgres
def test_unreachable_means_refused_or_cut_never_a_wrong_statement(tmp_path):
    closed = create_engine("postgresql+psycopg://postgres@127.0.0.1:9/postgres", connect_args={"connect_timeout": 2})
    with pytest.raises(OperationalError) as refused:
        closed.connect()
    assert database_unreachable(refused.value)
    assert database_unreachable(RuntimeError("a job wrapped it")) is False
    wrapped = RuntimeError("a job wrapped it")
    wrapped.__cause__ = refused.value
    assert database_unreachable(wrapped)

    engine = create_engine(services.postgres_admin_url())
    with engine.connect() as conn:
        for statement in ("SELEC 1", "SELECT 1/0", "SELECT * FROM no_such_table"):
            with pytest.raises(DBAPIError) as wrong:
                conn.execute(text(statement))
            conn.rollback()
            assert not database_unreachable(wrong.value), statement
        conn.execute(text("CREATE TEMP TABLE t (id int primary key)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(IntegrityError) as twice:
            conn.execute(text("INSERT INTO t VALUES (1)"))
        assert not database_unreachable(twice.value)
    engine.dispose()
    closed.dispose()

    lite = create_engine(f"sqlite:///{tmp_path / 'locked.db'}", connect_args={"timeout": 0.1})
    holder = sqlite3.connect(tmp_path / "locked.db")
    holder.execute("CREATE TABLE t (id int)")
    holder.execute("BEGIN EXCLUSIVE")
    with pytest.raises(OperationalError) as locked, lite.connect() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    assert not database_unreachable(locked.value)  # busy is not gone: the job fails and retries as usual
    holder.rollback()
    holder.close()
    assert isinstance(refused.value.orig, psycopg.OperationalError)


# --- a run waits for the database, and one that lost its claim rolls back -----------------------------------------


@pytest.mark.postgres
def test_a_job_waits_for_the_database_and_runs_once_without_spending_an_attempt(app, make_app, database_url):
    with proxied_app(make_app, database_url, extra_plugins=SAMPLE) as (worker_app, proxy):
        record_id = _row(worker_app, "sample.slow_mark", key="outage", seconds=1.0)
        outcome: list[str] = []

        def run() -> None:
            with worker_app.app_context():
                outcome.append(runner.run_waiting_for_database(record_id))

        proxy.cut()
        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(2.5)  # the run is waiting: not failed, not counted
        assert thread.is_alive() and not outcome
        proxy.restore()
        thread.join(timeout=60)
        assert outcome == ["finished"]
    done = job(app, record_id)
    assert done.status == "finished" and done.attempts == 1 and marks(app, "outage") == 1


def test_a_run_that_lost_its_claim_rolls_its_work_back(app, make_app):
    """The sweep gave a silent run's job to another run; the first one finishes later: its work is undone, the
    job's effect happens once (the finished mark and the work commit together)."""
    web = make_app(extra_plugins=SAMPLE)
    record_id = _row(web, "sample.slow_mark", key="fenced", seconds=1.0)
    first: list[str] = []

    def slow_run() -> None:
        with web.app_context():
            first.append(runner.run_job(record_id, "first-run"))
            db.session.remove()

    thread = threading.Thread(target=slow_run)
    thread.start()
    wait_until(lambda: job(web, record_id).status == "running", timeout=10)
    with web.app_context(), unit_of_work():  # what the sweep does to a job whose heartbeat went stale
        db.session.execute(update(JobRecord).where(JobRecord.id == record_id).values(status="queued"))
        db.session.commit()
    with web.app_context():
        assert runner.run_job(record_id, "second-run") == "finished"
        db.session.remove()
    thread.join(timeout=30)
    assert first == ["superseded"]
    done = job(web, record_id)
    assert done.status == "finished" and done.claim_token == "second-run" and done.attempts == 2
    assert marks(web, "fenced") == 1


def test_a_stale_heartbeat_is_not_judged_right_after_an_outage(app, make_app):
    web = make_app(extra_plugins=SAMPLE)
    with web.app_context(), unit_of_work():
        record = JobRecord(name="sample.mark", kwargs={"key": "k"}, status="running", attempts=1,
                           heartbeat_at=utcnow() - timedelta(minutes=5))
        db.session.add(record)
        db.session.commit()
        assert scheduler.sweep(judge_heartbeats=False)["requeued"] == 0
        assert db.session.get(JobRecord, record.id).status == "running"
        assert scheduler.sweep()["requeued"] == 1


# --- lost queue messages and killed work horses (Redis, real workers) ---------------------------------------------


@pytest.fixture
def queue() -> str:
    return f"mayak-recovery-{uuid.uuid4().hex[:8]}"


@pytest.mark.redis
def test_a_lost_message_is_sent_again_after_job_lost_seconds(app, make_app, tmp_path, queue):
    rq = rq_app(make_app, services.redis_url(), queue)
    record_id = _enqueue(rq, "sample.mark", key="lost")
    first = job(rq, record_id).message_id
    backend = rq.extensions["mayak.jobs"]
    assert first and backend.missing([first]) == set()
    backend.redis.delete(f"rq:job:{first}", backend.queue.key)  # what a Redis restart does to it
    assert backend.missing([first]) == {first}
    with rq.app_context(), unit_of_work():
        rq.config["JOB_LOST_SECONDS"] = 60.0
        assert scheduler.sweep()["resubmitted"] == 0  # not yet: it may still be on its way
        rq.config["JOB_LOST_SECONDS"] = 0.0
        assert scheduler.sweep()["resubmitted"] == 1
        assert scheduler.sweep()["resubmitted"] == 0  # the new message is held: no second copy
    second = job(rq, record_id).message_id
    assert second != first and backend.queue.count == 1
    run_burst_worker(worker_env(rq, tmp_path, services.redis_url(), queue))
    assert job(rq, record_id).status == "finished" and marks(rq, "lost") == 1


@pytest.mark.redis
def test_a_killed_work_horse_gives_its_job_back_at_once(app, make_app, tmp_path, queue):
    rq = rq_app(make_app, services.redis_url(), queue)
    env = {**worker_env(rq, tmp_path, services.redis_url(), queue), "MAYAK_JOB_STALE_SECONDS": "600"}
    record_id = _enqueue(rq, "sample.slow_mark", key="horse", seconds=30.0)
    worker = start_worker(env)
    try:
        wait_until(lambda: job(rq, record_id).status == "running", timeout=30)
        horses = descendants(worker.pid)
        assert horses, "the forking worker runs its job in a work horse"
        for pid in horses:
            os.kill(pid, signal.SIGKILL)
        # back in the queue without waiting for the stale heartbeat (600 s here), and run again
        wait_until(lambda: job(rq, record_id).attempts == 2 and job(rq, record_id).status == "running", timeout=20)
    finally:
        for pid in descendants(worker.pid):  # RQ puts each work horse in a process group of its own
            os.kill(pid, signal.SIGKILL)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    assert "the process running this job stopped" in (job(rq, record_id).error or "")


@pytest.mark.redis
def test_the_worker_starts_without_redis_waits_and_outlives_a_restart(app, make_app, tmp_path, queue, database_url):
    # both ways of running jobs, one on each database (ten seconds of outages each)
    mode = "--no-fork" if database_url.startswith("sqlite") else "--fork"
    redis = RedisServer(tmp_path, tmp_path / "redis.log")
    rq = rq_app(make_app, redis.url, queue)
    worker = start_worker(worker_env(rq, tmp_path, redis.url, queue), mode)
    output: list[bytes] = []
    reader = threading.Thread(target=lambda: output.extend(iter(worker.stdout.readline, b"")), daemon=True)
    reader.start()
    try:
        wait_until(lambda: b"Redis is unreachable" in b"".join(output), timeout=30)
        assert worker.poll() is None  # waiting, not dead
        redis.start()
        first = _enqueue(rq, "sample.mark", key="after-start")
        wait_until(lambda: job(rq, first).status == "finished", timeout=30)

        redis.stop()  # every queue is lost with it
        time.sleep(3)
        assert worker.poll() is None, b"".join(output).decode(errors="replace")
        redis.start()
        second = _enqueue(rq, "sample.mark", key="after-restart")
        wait_until(lambda: job(rq, second).status == "finished", timeout=30)
        assert worker.poll() is None
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
        redis.stop()
    log = b"".join(output).decode(errors="replace")
    assert worker.returncode == 0, log
    assert marks(rq, "after-start") == marks(rq, "after-restart") == 1
    assert "Redis is reachable again" in log
