"""Run the list, card, deal and task scenarios against a seeded database and print median/p95 latency next to the floor.

    python bench/run.py --db sqlite:////tmp/bench.db --label "SQLite 100k" [--requests 200]

Mayak and a bare Flask app are each served by one gunicorn worker (one thread) on loopback; requests are sent
one at a time on a keep-alive connection, signed in as the benchmark admin. Results are appended to
``bench/results.jsonl``; ``bench/report.py`` turns them into ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.seed import PASSWORD


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(app_path: str, env: dict[str, str], workers: int = 1, threads: int = 1,  # type: ignore[no-untyped-def]
           worker_class: str = "gthread", server: str = "gunicorn"):
    """Serve ``app_path`` on a free loopback port until the block ends.

    ``server="gunicorn"``: gunicorn with ``deploy/gunicorn.conf.py``, as in production (its memory settling
    included), with ``worker_class`` (``gthread``, ``sync``, …). ``server="mayak serve"``: the command ``make run``
    starts (embedded mode: jobs and the scheduler in the web process when ``REDIS_URL`` is unset); only for
    Mayak itself, not for the bare app."""
    port = free_port()
    if server == "mayak serve":
        command = [str(ROOT / ".venv/bin/mayak"), "serve", "--host", "127.0.0.1", "--port", str(port),
                   "--workers", str(workers), "--threads", str(threads)]
    else:
        command = [str(ROOT / ".venv/bin/gunicorn"), "-c", str(ROOT / "deploy/gunicorn.conf.py"), "-k", worker_class,
                   "-w", str(workers), "--threads", str(threads), "-b", f"127.0.0.1:{port}",
                   "--access-logfile", "/dev/null", "--log-level", "warning", "--max-requests", "0", app_path]
    proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def csrf_token_of(page: str) -> str:
    """The CSRF token of the sign-in form on ``page``."""
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    token = token or re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no CSRF token on the sign-in page"
    return token.group(1)


class Client:
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""

    def request(self, method: str, path: str, body: str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
        sent = {"Cookie": self.cookie, **(headers or {})} if self.cookie else dict(headers or {})
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=sent)
        response = self.conn.getresponse()
        data = response.read().decode("utf-8", errors="replace")
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, data, dict(response.getheaders())

    def login(self, email: str) -> None:
        _s, page, _h = self.request("GET", "/login")
        body = urllib.parse.urlencode({"csrf_token": csrf_token_of(page), "email": email, "password": PASSWORD})
        status, _d, _h = self.request("POST", "/login", body)
        assert status == 302, f"sign-in failed: {status}"


def timed(client: Client, path: str, n: int, headers: dict[str, str] | None = None) -> dict[str, float]:
    for _ in range(max(5, n // 10)):
        status, _body, _h = client.request("GET", path, headers=headers)
        if status != 200:
            raise SystemExit(f"{path} answered {status}")
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        status, _body, _h = client.request("GET", path, headers=headers)
        samples.append((time.perf_counter() - start) * 1000)
        if not 200 <= status < 300:  # a fast error page is not a fast page
            raise SystemExit(f"{path} answered {status} during the measurement")
    return latency(samples)


def latency(samples: list[float]) -> dict[str, float]:
    """Median, p95 and p99 of request times in milliseconds."""
    samples = sorted(samples)

    def rank(q: float) -> float:
        return round(samples[min(len(samples) - 1, max(0, int(len(samples) * q + 0.5) - 1))], 2)

    return {"median_ms": round(statistics.median(samples), 2), "p95_ms": rank(0.95), "p99_ms": rank(0.99)}


def page_50_path(client: Client) -> str:
    path = "/contacts/"
    for _ in range(49):
        _s, body, _h = client.request("GET", path, headers={"HX-Request": "true"})
        match = re.search(r'hx-get="(/contacts/\?[^"]*after=[^"]+)"', body)
        assert match, "ran out of pages before page 50"
        path = match.group(1).replace("&amp;", "&")
    return path


def other_format_phone(url: str) -> str:
    """A seeded number typed differently from how it was stored (8 (9xx) ... vs +7...)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        e164 = conn.execute(text("SELECT e164 FROM phone WHERE e164 LIKE '+79%' ORDER BY id DESC LIMIT 1")).scalar()
    engine.dispose()
    digits = e164[2:]
    return f"8 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}"


def run(url: str, label: str, n: int) -> list[dict[str, object]]:
    env = {"MAYAK_DATABASE_URL": url, "MAYAK_SECRET_KEY": "bench-" * 4, "MAYAK_INSTANCE_PATH": "/tmp/mayak-bench-run",
           "MAYAK_PLUGINS_FILE": str(ROOT / "plugins.toml")}
    results = []
    with served("bench.bare:app", env) as port:
        floor = timed(Client(port), "/", n)
    phone = urllib.parse.quote(other_format_phone(url))
    fragment = {"HX-Request": "true", "HX-Target": "list-body"}
    with served("wsgi:app", env) as port:
        client = Client(port)
        client.login("bench@example.com")
        scenarios = [
            ("list, first page", "/contacts/", None),
            ("list, 50th page", page_50_path(client), None),
            ("filtered list (city)", "/contacts/?city=%D0%A2%D0%B2%D0%B5%D1%80%D1%8C", None),
            ("search, name prefix", "/contacts/?q=%D0%BF%D0%B5%D1%82%D1%80%D0%BE%D0%B2", fragment),
            ("search, phone in another format", f"/contacts/?q={phone}", fragment),
            ("card, 200 timeline entries", "/contacts/1", None),
            ("deal board (6 stages x 50 cards)", "/deals/board/1", None),
            ("deal list, newest first", "/deals/list?sort=created&dir=desc", None),
            ("deal list, won, by amount", "/deals/list?status=won&sort=amount&dir=desc", None),
            ("deal search by client phone", f"/deals/list?q={phone}", fragment),
            ("my day (open tasks)", "/tasks/", None),
            ("team tasks (all open tasks counted)", "/tasks/team", None),
        ]
        for name, path, headers in scenarios:
            figures = timed(client, path, n, headers)
            results.append({"label": label, "scenario": name, **figures, "floor_median_ms": floor["median_ms"],
                            "floor_p95_ms": floor["p95_ms"]})
            print(f"{label:18} {name:34} median {figures['median_ms']:7.2f} ms  p95 {figures['p95_ms']:7.2f}"
                  f"  p99 {figures['p99_ms']:7.2f} ms   (floor {floor['median_ms']:.2f}/{floor['p95_ms']:.2f})", flush=True)
    with open(ROOT / "bench" / "results.jsonl", "a", encoding="utf-8") as fh:
        for row in results:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    run(args.db, args.label, args.requests)
