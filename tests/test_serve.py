"""`mayak serve` (what `make run` starts) serves with gunicorn, runs jobs in its worker and stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from core.testing.fixtures import app_environ


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _mayak(*args: str, env: dict[str, str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "core.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kwargs)


def test_serve_is_gunicorn_with_jobs_in_the_worker(tmp_path: Path):
    env = {**os.environ, **app_environ(f"sqlite:///{tmp_path / 'mayak.db'}", tmp_path / "instance")}
    env.pop("REDIS_URL", None)
    upgrade = _mayak("db", "upgrade", env=env)
    assert upgrade.wait(120) == 0, upgrade.stdout.read() if upgrade.stdout else ""
    port = _free_port()
    server = _mayak("serve", "--port", str(port), env=env)
    try:
        health = None
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    health = json.load(response)
                break
            except OSError:
                time.sleep(0.1)
        assert health is not None, "mayak serve did not answer /healthz within 10 s"
        assert health["status"] == "ok"
        assert health["jobs"]["ok"] and "in-process" in health["jobs"]["detail"]
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert "gunicorn" in output and "Using worker: gthread" in output
    # the development server's warning never reaches a company's first installation
    assert "development server" not in output.lower() and "werkzeug" not in output.lower()



SETTLING = """
import gc, json, sys
from types import SimpleNamespace
from core.serving import GC_THRESHOLDS, SettleAfterWarmUp, settle_memory
settle_memory()
after_start = gc.get_freeze_count()
calls = []
app = SettleAfterWarmUp(lambda environ, start_response: calls.append(1) or [b"ok"], after=3)
kept = [[n] for n in range(1000)]  # what the first requests leave behind (compiled templates, caches)
frozen = []
for _ in range(4):
    app({}, lambda *a: None)
    frozen.append(gc.get_freeze_count())
config = {}
exec(compile(open("deploy/gunicorn.conf.py").read(), "gunicorn.conf.py", "exec"), config)
gc.unfreeze()
worker = SimpleNamespace(wsgi=lambda environ, start_response: [b""])
config["post_worker_init"](worker)
print(json.dumps({"after_start": after_start, "frozen": frozen, "calls": len(calls),
                  "thresholds": list(gc.get_threshold()), "wanted": list(GC_THRESHOLDS),
                  "worker_frozen": gc.get_freeze_count(), "worker_wrapped": isinstance(worker.wsgi, SettleAfterWarmUp),
                  "max_requests": config["max_requests"]}))
"""


def test_served_processes_keep_their_long_lived_objects_out_of_full_collections():
    """The p99 of every page was a full garbage collection walking the app's own objects (about 170 ms each):
    served processes (``mayak serve`` and deploy/gunicorn.conf.py's workers) freeze what lives at start-up, and
    again after the first requests have filled the caches."""
    result = subprocess.run([sys.executable, "-c", SETTLING], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["after_start"] > 10_000 and seen["thresholds"] == seen["wanted"] and seen["calls"] == 4
    first, second, third, fourth = seen["frozen"]
    assert first == second < third == fourth  # settled once more on the third request, never again
    assert third - second >= 1000
    assert seen["worker_frozen"] > 10_000 and seen["worker_wrapped"]
    assert seen["max_requests"] >= 50_000  # a replaced worker loads and warms the app up again


def test_a_served_process_keeps_a_connection_for_every_thread_that_works_at_once(app):
    """mayak serve's threads, the job thread and the scheduler each hold a connection from the pool: none is
    opened and closed per request (SQLAlchemy's default of 5 made 3 of 8 threads connect for every page)."""
    from core.db import db
    from core.serving import server_options

    with app.app_context():
        threads = server_options(app, "127.0.0.1", 5000, None, None)["threads"]
        for engine in db.engines.values():
            assert engine.pool.size() >= threads + 2, engine.url
