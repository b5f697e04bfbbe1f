"""Helpers for job tests: apps with the sample plugin, and real ``mayak`` worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from core.config import PROJECT_ROOT
from core.db import db, unit_of_work
from core.models import AuditEntry, JobRecord
from tests.cluster import TcpProxy
from tests.plugins import sample

SAMPLE = [("sample", sample)]


def plugins_file_with_sample(tmp_path: Path) -> Path:
    path = tmp_path / "plugins-with-sample.toml"
    extra = '\n[plugins.sample]\nmodule = "tests.plugins.sample"\n'
    path.write_text((PROJECT_ROOT / "plugins.toml").read_text() + extra)
    return path


def marks(app: Flask, key: str) -> int:
    with app.app_context(), unit_of_work():
        return db.session.scalar(select(func.count(AuditEntry.id)).where(
            AuditEntry.action == "sample.mark", AuditEntry.target_id == key)) or 0


def job(app: Flask, record_id: int) -> JobRecord:
    with app.app_context(), unit_of_work():
        record = db.session.get(JobRecord, record_id)
        assert record is not None
        db.session.expunge(record)
        return record


def wait_until(predicate, timeout: float = 20.0, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError("condition not reached in time")


def worker_env(app: Flask, tmp_path: Path, redis_url: str, queue: str) -> dict[str, str]:
    return {
        "MAYAK_RQ_QUEUE": queue,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(PROJECT_ROOT),
        "MAYAK_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "MAYAK_INSTANCE_PATH": str(tmp_path / "worker-instance"),
        "MAYAK_SECRET_KEY": app.config["SECRET_KEY"],
        "MAYAK_PLUGINS_FILE": str(plugins_file_with_sample(tmp_path)),
        "REDIS_URL": redis_url,
        "MAYAK_JOB_HEARTBEAT_SECONDS": "0.2",
        "MAYAK_JOB_STALE_SECONDS": "2",
        "PYTHONFAULTHANDLER": "1",
    }


def start_worker(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """A real ``mayak worker`` process in its own process group (so a test can kill it and its work horse)."""
    return subprocess.Popen([sys.executable, "-m", "core.cli", "worker", *args], env=env, cwd=PROJECT_ROOT,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def run_burst_worker(env: dict[str, str], timeout: float = 60, *args: str) -> str:
    proc = start_worker(env, "--burst", *args)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:  # say what the worker was doing, not only that it took too long
        os.kill(proc.pid, signal.SIGABRT)  # PYTHONFAULTHANDLER: every thread's stack
        time.sleep(1)
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise AssertionError(f"the burst worker did not finish in {timeout} s; it said:\n"
                             + out.decode(errors="replace")) from None
    assert proc.returncode == 0, out.decode(errors="replace")
    return out.decode(errors="replace")


def rq_app(make_app, redis_url: str, queue: str) -> Flask:
    """An app whose jobs go to RQ on ``queue`` (unique per test, so parallel tests never share a queue)."""
    os.environ["MAYAK_RQ_QUEUE"] = queue
    try:
        return make_app(extra_plugins=SAMPLE, REDIS_URL=redis_url)
    finally:
        del os.environ["MAYAK_RQ_QUEUE"]


@contextmanager
def proxied_app(make_app, database_url: str, **kwargs: object) -> Iterator[tuple[Flask, TcpProxy]]:
    """An app reaching the test's PostgreSQL database through a proxy the test can cut (``proxy.cut()``) and
    restore; skips on SQLite, which has no connection to cut."""
    import pytest

    if not database_url.startswith("postgresql"):
        pytest.skip("the proxy stands in front of PostgreSQL")
    url = make_url(database_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    try:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        yield make_app(MAYAK_DATABASE_URL=proxied, **kwargs), proxy
    finally:
        proxy.close()
