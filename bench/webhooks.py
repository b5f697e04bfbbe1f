"""The webhook benchmark (issue 11): a provider's delivery through the whole pipeline — size, method and type,
HMAC signature, de-duplication by delivery id, the stored delivery, the job queued on RQ — beside a bare Flask
POST of the same body in the same run, each served by one gunicorn worker with one thread (one web process).

    .venv/bin/python bench/webhooks.py                       # PostgreSQL, 100k contacts, 2,000 deliveries
    CONTACTS=1000000 REQUESTS=5000 .venv/bin/python bench/webhooks.py

The database is seeded once with ``bench/seed.py`` (kept for re-runs) plus ``PRIOR`` earlier deliveries (200k), so
the de-duplication index is not empty. Requests go one at a time on a keep-alive connection; each scenario reports
deliveries/s (requests over wall time, client included, the same client for the floor) and p50/p95/p99. Jobs go to
Redis on a queue of their own, which no worker drains during the run (the handlers' cost is a worker's, not the web
process's); the queue is deleted afterwards. Writes ``bench/webhooks.jsonl`` and the table in ``RESULTS.md``.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from flask import Flask, jsonify, request

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PG_ADMIN = os.environ.get("PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
CONTACTS = int(os.environ.get("CONTACTS", "100000"))
PRIOR = int(os.environ.get("PRIOR", "200000"))
REQUESTS = int(os.environ.get("REQUESTS", "2000"))
START, END = "<!-- webhooks:start -->", "<!-- webhooks:end -->"

# The floor: a bare Flask POST that reads the same body and answers the same JSON (served as bench.webhooks:bare).
bare = Flask(__name__)


@bare.post("/webhooks/bench_hooks/events")
def bare_post():  # type: ignore[no-untyped-def]
    request.get_data()
    response = jsonify({"status": "accepted", "delivery": 1})
    response.status_code = 202
    return response


def _database() -> str:
    name = f"mayak_bench_webhooks_{CONTACTS}"
    exists = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc",
                             f"SELECT 1 FROM pg_database WHERE datname='{name}'"], capture_output=True, text=True)
    url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    if exists.stdout.strip() != "1":
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
        started = time.perf_counter()
        subprocess.run([sys.executable, str(HERE / "seed.py"), "--db", url, "--contacts", str(CONTACTS)], check=True,
                       cwd=ROOT)
        print(f"seeded {CONTACTS:,} contacts in {time.perf_counter() - started:.0f} s", flush=True)
        _prior_deliveries(url)
    return url


def _prior_deliveries(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO webhook_delivery (plugin, endpoint, dedup_key, external_id, method, query, headers, "
            "content_type, body, body_size, remote_addr, status, attempts, received_at, finished_at) "
            "SELECT 'bench_hooks', 'events', 'prior-' || g, 'prior-' || g, 'POST', '{}', "
            "'{\"content-type\": \"application/json\"}', 'application/json', "
            "convert_to('{\"event\": \"call_ended\", \"n\": ' || g || '}', 'UTF8'), 40, '127.0.0.1', 'processed', 1, "
            "now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval "
            "FROM generate_series(1, :n) AS g"), {"n": PRIOR})
        conn.execute(text("ANALYZE webhook_delivery"))
    engine.dispose()


def _plugins_file() -> Path:
    path = Path("/tmp/mayak-bench-webhooks/plugins.toml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[plugins.l10n_ru]\n\n[plugins.bench_hooks]\nmodule = \"bench.webhook_plugin\"\n")
    return path


def _send(conn: http.client.HTTPConnection, body: bytes, headers: dict[str, str]) -> int:
    conn.request("POST", "/webhooks/bench_hooks/events", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status


def measure(port: int, n: int, make: object, expect: int) -> dict[str, float]:
    """``n`` posts of ``make(i) -> (body, headers)`` after a warm-up; deliveries/s and latency percentiles."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i in range(max(20, n // 20)):
        body, headers = make(-1 - i)  # type: ignore[operator]
        assert _send(conn, body, headers) == expect
    samples = []
    started = time.perf_counter()
    for i in range(n):
        body, headers = make(i)  # type: ignore[operator]
        sent = time.perf_counter()
        status = _send(conn, body, headers)
        samples.append((time.perf_counter() - sent) * 1000)
        assert status == expect, f"answered {status}, expected {expect}"
    wall = time.perf_counter() - started
    conn.close()
    samples.sort()

    def pct(p: float) -> float:
        return round(samples[min(len(samples) - 1, int(len(samples) * p))], 2)

    return {"per_s": round(n / wall, 1), "p50_ms": round(statistics.median(samples), 2), "p95_ms": pct(0.95),
            "p99_ms": pct(0.99)}


def run() -> list[dict[str, object]]:
    sys.path.insert(0, str(ROOT))
    from bench.run import served
    from bench.webhook_plugin import sign

    url = _database()
    queue = f"bench-webhooks-{os.getpid()}"
    env = {"MAYAK_DATABASE_URL": url, "MAYAK_SECRET_KEY": "bench-" * 4,
           "MAYAK_INSTANCE_PATH": "/tmp/mayak-bench-webhooks", "MAYAK_PLUGINS_FILE": str(_plugins_file()),
           "REDIS_URL": REDIS_URL, "MAYAK_RQ_QUEUE": queue}
    run_id = f"{int(time.time())}"

    def event(i: int) -> bytes:
        return json.dumps({"event": "call_ended", "call": f"{run_id}-{i}", "duration": 42,
                           "from": "+79001234567", "to": "101"}).encode()

    def new(i: int) -> tuple[bytes, dict[str, str]]:
        body = event(i)
        return body, {"Content-Type": "application/json", "X-Signature": sign(body),
                      "X-Delivery-Id": f"{run_id}-{i}"}

    def repeat(i: int) -> tuple[bytes, dict[str, str]]:
        body = event(i % 50)
        return body, {"Content-Type": "application/json", "X-Signature": sign(body),
                      "X-Delivery-Id": f"{run_id}-{i % 50}"}

    def forged(i: int) -> tuple[bytes, dict[str, str]]:
        body = event(i)
        return body, {"Content-Type": "application/json", "X-Signature": "sha256=" + "0" * 64,
                      "X-Delivery-Id": f"forged-{run_id}-{i}"}

    results: list[dict[str, object]] = []
    with served("bench.webhooks:bare", env) as port:
        floor = measure(port, REQUESTS, new, 202)
    results.append({"scenario": "bare Flask POST (floor)", **floor})
    with served("wsgi:app", env) as port:
        results.append({"scenario": "new delivery: verified, stored, queued", **measure(port, REQUESTS, new, 202)})
        results.append({"scenario": "repeated delivery (de-duplicated)", **measure(port, REQUESTS, repeat, 200)})
        results.append({"scenario": "forged signature (refused, kept)", **measure(port, REQUESTS // 4, forged, 403)})
    from redis import Redis

    redis = Redis.from_url(REDIS_URL)
    for key in redis.scan_iter(f"rq:*{queue}*"):
        redis.delete(key)
    for row in results:
        row.update({"contacts": CONTACTS, "prior_deliveries": PRIOR, "requests": REQUESTS,
                    "share_of_floor": round(float(row["per_s"]) / floor["per_s"], 2)})  # type: ignore[arg-type]
        print(f"{row['scenario']:42} {row['per_s']:8.1f}/s  p50 {row['p50_ms']:6.2f}  p95 {row['p95_ms']:6.2f}  "
              f"p99 {row['p99_ms']:6.2f} ms  ({row['share_of_floor']:.0%} of the floor)", flush=True)
    with open(HERE / "webhooks.jsonl", "a", encoding="utf-8") as fh:
        for row in results:
            fh.write(json.dumps({"at": time.strftime("%Y-%m-%d %H:%M"), **row}, ensure_ascii=False) + "\n")
    _write_table(results)
    return results


def _write_table(results: list[dict[str, object]]) -> None:
    lines = ["| contacts | earlier deliveries | scenario | deliveries/s | share of the floor | p50 ms | p95 ms | p99 ms |",
             "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for row in results:
        lines.append(f"| {int(row['contacts']):,} | {int(row['prior_deliveries']):,} | {row['scenario']} | "  # type: ignore[call-overload]
                     f"{float(row['per_s']):,.0f} | {float(row['share_of_floor']):.0%} | {row['p50_ms']} | "  # type: ignore[arg-type]
                     f"{row['p95_ms']} | {row['p99_ms']} |")
    lines.append("")
    lines.append(f"Machine: {platform.machine()}, CPython {platform.python_version()}, {os.cpu_count()} cores; "
                 f"{time.strftime('%Y-%m-%d')}; one gunicorn worker, one thread; PostgreSQL and Redis on loopback.")
    table = "\n".join(lines)
    target = HERE / "RESULTS.md"
    text = target.read_text(encoding="utf-8")
    if START in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1]
        text = f"{head}{START}\n{table}\n{END}{tail}"
    else:
        text += f"\n## Webhooks in (issue 11)\n\n{START}\n{table}\n{END}\n"
    target.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    run()
