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
