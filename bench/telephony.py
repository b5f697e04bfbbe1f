"""The telephony benchmark (issue 13): what the caller's toast costs every open page, and how soon it shows.

    .venv/bin/python bench/telephony.py --db postgresql+psycopg://postgres@127.0.0.1:5432/mayak_bench_100000 \\
        --label "PostgreSQL 100k" [--workers 4] [--threads 4] [--connections 8 32] [--seconds 30] [--calls 40]

Served by gunicorn (``deploy/gunicorn.conf.py``) over a database seeded by ``bench/seed.py``, with the benchmark's
PBX plugin (``bench/telephony_plugin.py``: signed JSON webhooks handed to the core like any telephony plugin's).
The benchmark admin gets extension 101. Scenarios:

* **poll, nothing new** — every open page of a manager with an extension asks ``/calls/live`` every 1.5 s; while
  nothing changed the answer is ``204``. wrk, as ``bench/throughput.py`` runs it (any non-2xx fails the run), beside
  the bare Flask app (the floor) in the same run, with the CPU each request cost the app and PostgreSQL: how many
  open pages a server carries;
* **poll, a card to draw** — the same request when the page's version is stale: the caller's card is drawn (the
  contact, company, open deals, last activities);
* **ingest** — whole calls (ringing, answered, ended: three signed webhooks each) posted one at a time to one
  web process with RQ (verified, stored, queued), beside the bare Flask app answering the same posts (the floor);
  then one ``mayak worker --burst`` folds them into calls (matching the client, the inbox, the timeline, the
  events): events a second per worker, with a fork per job (the default) and with ``--no-fork``;
* **ringing to card** — a signed "ringing" webhook for a known caller, then ``/calls/live`` asked every 50 ms until
  the caller's card is there: the time the server needs (webhook, job, folding, matching), once with jobs in the
  web process (the embedded default) and once with RQ and a ``mayak worker``. A page polls every 1.5 s, so what a
  manager waits is this plus at most 1.5 s; the promise is 2 s.

Results are appended to ``bench/telephony.jsonl``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import Client, served
from bench.telephony_plugin import sign
from bench.throughput import LUA, wrk

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


def _plugins_file() -> Path:
    path = Path("/tmp/mayak-bench-telephony/plugins.toml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[plugins.l10n_ru]\n\n[plugins.bench_pbx]\nmodule = "bench.telephony_plugin"\n')
    return path


def _prepare(url: str) -> str:
    """Extension 101 for the benchmark admin, no call left from an earlier run; the number of contact 1."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE user_account SET extension = '101' WHERE email = 'bench@example.com'"))
        conn.execute(text("DELETE FROM call WHERE provider = 'benchpbx'"))
        number = conn.execute(text("SELECT e164 FROM phone WHERE contact_id = 1 ORDER BY position LIMIT 1")).scalar()
    engine.dispose()
    return str(number)


def _ring(port: int, call: str, caller: str, event: str = "start") -> None:
    body = json.dumps({"event": event, "call": call, "time": int(time.time()), "caller": caller,
                       "line": "+74951112233", "extension": "101"}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/webhooks/bench_pbx/calls", body=body,
                 headers={"Content-Type": "application/json", "X-Signature": sign(body),
                          "X-Delivery-Id": f"{call}-{event}"})
    answer = conn.getresponse()
    answer.read()
    conn.close()
    if answer.status not in (200, 202):
        raise SystemExit(f"the webhook answered {answer.status}")


def _version(client: Client) -> str:
    status, body, _h = client.request("GET", "/calls/live?v=", headers={"HX-Request": "true"})
    assert status == 200, status
    return body.split('name="v" value="', 1)[1].split('"', 1)[0]


def ringing_to_card(port: int, client: Client, caller: str, calls: int, label: str) -> dict[str, float]:
    """Milliseconds from a ringing webhook sent to the caller's card in ``/calls/live`` (asked every 50 ms)."""
    samples = []
    for n in range(calls):
        call = f"bench-{label}-{int(time.time())}-{n}"
        version = _version(client)
        sent = time.perf_counter()
        _ring(port, call, caller)
        deadline = sent + 10
        while True:
            status, body, _h = client.request("GET", f"/calls/live?v={version}", headers={"HX-Request": "true"})
            if status == 200 and "call-toast" in body and f'value="{version}"' not in body:
                break
            if time.perf_counter() > deadline:
                raise SystemExit(f"no card 10 s after the webhook ({label})")
            time.sleep(0.05)
        samples.append((time.perf_counter() - sent) * 1000)
        _ring(port, call, caller, "end")  # unanswered: the card goes away by itself
        time.sleep(0.2)
    samples.sort()
    return {"median_ms": round(statistics.median(samples), 1),
            "p95_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.95))], 1),
            "max_ms": round(samples[-1], 1), "calls": calls}


def _post(conn: http.client.HTTPConnection, path: str, body: bytes, headers: dict[str, str]) -> int:
    conn.request("POST", path, body=body, headers=headers)
    answer = conn.getresponse()
    answer.read()
    return answer.status


def posting(port: int, bodies: list[tuple[bytes, dict[str, str]]], path: str, expect: int) -> dict[str, float]:
    """Post ``bodies`` one at a time on a keep-alive connection: per second, and p50/p99 of each post."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    samples = []
    started = time.perf_counter()
    for body, headers in bodies:
        sent = time.perf_counter()
        status = _post(conn, path, body, headers)
        samples.append((time.perf_counter() - sent) * 1000)
        if status != expect:
            raise SystemExit(f"{path} answered {status}, expected {expect}")
    wall = time.perf_counter() - started
    conn.close()
    samples.sort()
    return {"per_second": round(len(bodies) / wall, 1), "p50_ms": round(statistics.median(samples), 2),
            "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 2), "posts": len(bodies)}


def lifecycles(caller: str, calls: int, stamp: str) -> list[tuple[bytes, dict[str, str]]]:
    """``calls`` whole calls from a known client (ringing, answered, ended): three signed events each."""
    bodies = []
    for n in range(calls):
        for event, extra in (("start", {}), ("answer", {}), ("end", {"duration": 60})):
            body = json.dumps({"event": event, "call": f"ingest-{stamp}-{n}", "time": int(time.time()),
                               "caller": caller, "line": "+74951112233", "extension": "101", **extra}).encode()
            bodies.append((body, {"Content-Type": "application/json", "X-Signature": sign(body),
                                  "X-Delivery-Id": f"ingest-{stamp}-{n}-{event}"}))
    return bodies


def drained_by_one_worker(env: dict[str, str], events: int, mode: str = "--fork") -> dict[str, float]:
    """Events a second one ``mayak worker --burst`` folds into calls: the queue the posts filled, timed until the
    worker exits, less its start-up (the same worker on an empty queue). ``mode``: ``--fork`` (a fork per job, the
    default) or ``--no-fork`` (jobs in the worker process)."""
    def burst() -> float:
        started = time.perf_counter()
        subprocess.run([str(ROOT / ".venv/bin/mayak"), "worker", "--burst", mode], cwd=ROOT, check=True,
                       env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - started

    busy = burst()
    idle = burst()
    work = max(busy - idle, 1e-3)
    return {"events": events, "seconds": round(work, 2), "events_per_second": round(events / work, 1),
            "worker_start_s": round(idle, 2)}


@contextlib.contextmanager
def rq_worker(env: dict[str, str]) -> Iterator[None]:
    # the benchmark's PBX plugin is a module of this folder: the worker must import it as gunicorn does
    worker = subprocess.Popen([str(ROOT / ".venv/bin/mayak"), "worker"], cwd=ROOT,
                              env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)
        yield
    finally:
        worker.terminate()
        worker.wait(timeout=20)


def run(url: str, label: str, workers: int, threads: int, connections: list[int], seconds: int,
        calls: int, ingest_calls: int = 300, only: str = "") -> list[dict[str, object]]:
    caller = _prepare(url)
    env = {"MAYAK_DATABASE_URL": url, "MAYAK_SECRET_KEY": "bench-" * 4,
           "MAYAK_INSTANCE_PATH": "/tmp/mayak-bench-telephony", "MAYAK_PLUGINS_FILE": str(_plugins_file()),
           "MAYAK_WEB_THREADS": str(threads)}
    results: list[dict[str, object]] = []

    def note(row: dict[str, object]) -> None:
        row.update(label=label, workers=workers, threads=threads, load_before=round(os.getloadavg()[0], 2),
                   cpus=os.cpu_count(), at=time.strftime("%Y-%m-%d %H:%M"))
        results.append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)

    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "count.lua"
        script.write_text(LUA)
        floors = {}
        polls = only == ""
        with contextlib.nullcontext() if not polls else served("bench.bare:app", env, workers=workers,
                                                                  threads=threads) as port:
            for c in connections if polls else []:
                wrk(f"http://127.0.0.1:{port}/", c, 3, {}, script)
                floors[c] = wrk(f"http://127.0.0.1:{port}/", c, seconds, {}, script)
        with contextlib.nullcontext() if not polls else served("wsgi:app", env, workers=workers,
                                                                  threads=threads) as port:
            if not polls:
                return _ingest_and_ringing(results, note, env, caller, calls, ingest_calls, workers, threads)
            client = Client(port)
            client.login("bench@example.com")
            cookie = {"Cookie": client.cookie, "HX-Request": "true"}
            quiet = _version(client)
            for name, path in (("poll, nothing new (204)", f"/calls/live?v={quiet}"),):
                wrk(f"http://127.0.0.1:{port}{path}", connections[0], 3, cookie, script)
                for c in connections:
                    figures = wrk(f"http://127.0.0.1:{port}{path}", c, seconds, cookie, script)
                    note({"scenario": name, "connections": c, **figures,
                          "floor_per_second": floors[c]["per_second"], "floor_p99_ms": floors[c]["p99_ms"]})
            client.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)  # idle past the keep-alive
            card_call = f"bench-card-{int(time.time())}"  # delivery ids are never reused: a repeat changes nothing
            _ring(port, card_call, caller)
            time.sleep(1.5)
            assert "call-toast" in client.request("GET", "/calls/live?v=-", headers={"HX-Request": "true"})[1]
            path = "/calls/live?v=stale"
            for c in connections[:1]:
                figures = wrk(f"http://127.0.0.1:{port}{path}", c, seconds, cookie, script)
                note({"scenario": "poll, a card to draw (200)", "connections": c, **figures,
                      "floor_per_second": floors[c]["per_second"], "floor_p99_ms": floors[c]["p99_ms"]})
            _ring(port, card_call, caller, "end")
            client.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            note({"scenario": "ringing to card, jobs in the web process", **ringing_to_card(port, client, caller,
                                                                                          calls, "embedded")})
    return _ingest_and_ringing(results, note, env, caller, calls, ingest_calls, workers, threads)


def _ingest_and_ringing(results: list[dict[str, object]], note, env: dict[str, str], caller: str,  # type: ignore[no-untyped-def]
                        calls: int, ingest_calls: int, workers: int, threads: int) -> list[dict[str, object]]:
    """The ingest scenarios and ringing to card on RQ; appends every result to ``bench/telephony.jsonl``."""
    rq_env = {**env, "REDIS_URL": REDIS_URL, "MAYAK_RQ_QUEUE": f"bench-telephony-{os.getpid()}"}
    stamp = str(int(time.time()))
    bodies = lifecycles(caller, ingest_calls, stamp)
    with served("bench.webhooks:bare", env, workers=1, threads=1) as port:
        floor = posting(port, bodies, "/webhooks/bench_hooks/events", 202)
    note({"scenario": "bare Flask POST of the same bodies (floor)", **floor})
    for mode in ("--fork", "--no-fork"):
        batch = lifecycles(caller, ingest_calls, f"{stamp}{mode}")
        with served("wsgi:app", rq_env, workers=1, threads=1) as port:
            posted = posting(port, batch, "/webhooks/bench_pbx/calls", 202)
        if mode == "--fork":
            note({"scenario": "call event webhook: verified, stored, queued (one web process)", **posted,
                  "share_of_floor": round(posted["per_second"] / floor["per_second"], 2)})
        note({"scenario": f"call events folded into calls by one RQ worker ({mode})",
              **drained_by_one_worker(rq_env, len(batch), mode)})
    with served("wsgi:app", rq_env, workers=workers, threads=threads) as port, rq_worker(rq_env):
        client = Client(port)
        client.login("bench@example.com")
        note({"scenario": "ringing to card, RQ and one mayak worker",
              **ringing_to_card(port, client, caller, calls, "rq")})
    with open(ROOT / "bench" / "telephony.jsonl", "a", encoding="utf-8") as fh:
        for row in results:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--connections", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=40, help="calls timed from ringing to card")
    parser.add_argument("--ingest-calls", type=int, default=300, help="whole calls (3 events each) ingested")
    parser.add_argument("--only", default="", choices=["", "ingest"],
                        help="ingest: only the ingest scenarios and ringing to card on RQ")
    args = parser.parse_args()
    run(args.db, args.label, args.workers, args.threads, args.connections, args.seconds, args.calls,
        args.ingest_calls, args.only)
