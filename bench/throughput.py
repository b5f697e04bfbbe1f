"""Pages a second under load: wrk against Mayak served by gunicorn, next to a bare Flask app served the same way.

    python bench/throughput.py --db postgresql+psycopg://postgres@127.0.0.1:5432/mayak_bench_1000000 \\
        --label "PostgreSQL 1M" [--workers 4] [--threads 1] [--connections 8 32] [--seconds 30] \\
        [--worker-class gthread|sync] [--server gunicorn|"mayak serve"]

Scenarios: the contact list, a card, the deal board, my day (signed in as the benchmark admin) and creating a
contact through the API (a bearer token; every request a new person). wrk (``apt-get install wrk``) runs with
2 threads and each number of connections; a Lua script counts every answer that is not 2xx, and any such answer
fails the run, since a fast error page is not a fast page (connections the server dropped or that timed out
are counted and shown as socket errors). Each result carries the machine's load average before
the run, the floor (the bare app) measured with the same settings, and where the CPU went: milliseconds a request
spent by the app's processes, PostgreSQL's, wrk and everything else, and the share of the machine left idle
(from ``/proc``); results are appended to ``bench/throughput.jsonl``.

``--worker-class`` compares gunicorn's worker models (the bare app is served the same way); ``--server "mayak
serve"`` measures the command ``make run`` starts instead of the production gunicorn file (the floor stays the bare
app under gunicorn).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import Client, served

LUA = r"""
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  made = 0
end

if os.getenv("MAYAK_BENCH_CREATE") == "1" then
  request = function()
    made = made + 1
    local n = id * 10000000 + made
    local body = string.format(
      '{"first_name": "Нагрузка", "last_name": "Тест%d", "phones": [{"raw": "+7 900 %03d-%02d-%02d"}], ' ..
      '"emails": [{"address": "load%d@example.com"}]}',
      n, math.floor(n / 10000) % 1000, math.floor(n / 100) % 100, n % 100, n)
    return wrk.format("POST", nil, nil, body)
  end
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local bad_total = 0
  for _, thread in ipairs(threads) do
    bad_total = bad_total + thread:get("bad")
  end
  io.write(string.format(
    'WRKJSON {"requests": %d, "seconds": %.3f, "non_2xx": %d, "socket_errors": %d, ' ..
    '"p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f}\n',
    summary.requests, summary.duration / 1e6, bad_total,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
"""


APP_COMMANDS = ("gunicorn", "mayak")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far: by the served app's processes, by PostgreSQL's, by every other process, by this
    process's finished children (wrk), and by the whole machine (busy and idle, all cores)."""
    groups = {"app": 0.0, "postgres": 0.0, "other": 0.0}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue  # ended meanwhile
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        used = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
        group = "app" if comm in APP_COMMANDS else "postgres" if comm == "postgres" else "other"
        groups[group] += used
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    groups["wrk"] = children.ru_utime + children.ru_stime
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(x) for x in first]
    groups["machine_idle"] = (ticks[3] + ticks[4]) / TICK  # idle, iowait
    groups["machine_total"] = sum(ticks[:8]) / TICK
    return groups


def cpu_per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
    """Milliseconds of CPU each request cost each group during a run, and the share of the machine left idle."""
    spent = {name: after[name] - before[name] for name in before}
    shares = {f"cpu_ms_{name}": round(spent[name] * 1000 / max(requests, 1), 2)
              for name in ("app", "postgres", "wrk", "other")}
    shares["idle_share"] = round(spent["machine_idle"] / max(spent["machine_total"], 1e-9), 3)
    return shares


def wrk(url: str, connections: int, seconds: int, headers: dict[str, str], script: Path,
        env: dict[str, str] | None = None) -> dict[str, float]:
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s", "-s", str(script)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    before = cpu_seconds()
    ran = subprocess.run([*command, url], capture_output=True, text=True, check=True,
                         env={**os.environ, **(env or {})})
    after = cpu_seconds()
    output = ran.stdout + ran.stderr
    line = next((x for x in output.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no summary:\n{output}")
    figures = json.loads(line.removeprefix("WRKJSON "))
    if figures["non_2xx"]:
        raise SystemExit(f"{url}: {figures['non_2xx']} answers were not 2xx: the figures would not be of the page")
    figures["per_second"] = round(figures["requests"] / figures["seconds"], 1)
    figures.update(cpu_per_request(before, after, int(figures["requests"])))
    return figures


def api_token(env: dict[str, str]) -> str:
    result = subprocess.run([str(ROOT / ".venv/bin/mayak"), "users", "token", "create", "bench@example.com",
                             "--name", "throughput benchmark", "--scope", "contacts:write", "--scope",
                             "contacts:read", "--expires-days", "1"],
                            capture_output=True, text=True, check=True, cwd=ROOT, env={**os.environ, **env})
    return result.stdout.strip().splitlines()[-1].strip()


def run(url: str, label: str, workers: int, threads: int, connections: list[int], seconds: int,
        scenarios: list[str], worker_class: str = "gthread", server: str = "gunicorn") -> list[dict[str, object]]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    env = {"MAYAK_DATABASE_URL": url, "MAYAK_SECRET_KEY": "bench-" * 4, "MAYAK_INSTANCE_PATH": "/tmp/mayak-bench-run",
           "MAYAK_PLUGINS_FILE": str(ROOT / "plugins.toml"), "MAYAK_WEB_THREADS": str(threads)}
    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "count.lua"
        script.write_text(LUA)
        floors = {}
        bare_class = worker_class if server == "gunicorn" else "gthread"
        with served("bench.bare:app", env, workers=workers, threads=threads, worker_class=bare_class) as port:
            wrk(f"http://127.0.0.1:{port}/", connections[0], 3, {}, script)  # warm up
            for c in connections:
                floors[c] = wrk(f"http://127.0.0.1:{port}/", c, seconds, {}, script)
        token = api_token(env)
        with served("wsgi:app", env, workers=workers, threads=threads, worker_class=worker_class,
                    server=server) as port:
            client = Client(port)
            client.login("bench@example.com")
            cookie = {"Cookie": client.cookie}
            pages = {
                "contact list": ("/contacts/", cookie, None),
                "card": ("/contacts/1", cookie, None),
                "deal board": ("/deals/board/1", cookie, None),
                "my day": ("/tasks/", cookie, None),
                "API create contact": ("/api/v1/contacts", {"Authorization": f"Bearer {token}",
                                                            "Content-Type": "application/json"},
                                       {"MAYAK_BENCH_CREATE": "1"}),
            }
            for name in scenarios:
                path, headers, extra_env = pages[name]
                wrk(f"http://127.0.0.1:{port}{path}", connections[0], 3, headers, script, extra_env)  # warm up
                for c in connections:
                    load = os.getloadavg()[0]
                    figures = wrk(f"http://127.0.0.1:{port}{path}", c, seconds, headers, script, extra_env)
                    floor = floors[c]
                    row = {"label": label, "scenario": name, "server": server, "worker_class": worker_class,
                           "workers": workers, "threads": threads,
                           "connections": c, "seconds": seconds, **figures,
                           "floor_per_second": floor["per_second"], "floor_p99_ms": floor["p99_ms"],
                           "load_before": round(load, 2), "cpus": os.cpu_count(), "at": time.strftime("%Y-%m-%d %H:%M")}
                    results.append(row)
                    print(f"{label:16} {name:20} {server} {worker_class} w{workers}×t{threads} c{c:<3} {figures['per_second']:8.1f}/s  "
                          f"p50 {figures['p50_ms']:7.1f}  p95 {figures['p95_ms']:7.1f}  p99 {figures['p99_ms']:7.1f} ms"
                          f"  socket errors {figures['socket_errors']}   (floor {floor['per_second']:.0f}/s, load {load:.2f})"
                          f"\n{'':38}CPU ms a request: app {figures['cpu_ms_app']}, PostgreSQL "
                          f"{figures['cpu_ms_postgres']}, wrk {figures['cpu_ms_wrk']}, other {figures['cpu_ms_other']};"
                          f" machine idle {figures['idle_share']:.0%}", flush=True)
    with open(ROOT / "bench" / "throughput.jsonl", "a", encoding="utf-8") as fh:
        for row in results:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--connections", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class: gthread, sync, …")
    parser.add_argument("--server", default="gunicorn", choices=["gunicorn", "mayak serve"])
    parser.add_argument("--scenario", action="append", dest="scenarios",
                        help="one of: contact list, card, deal board, my day, API create contact (default: all)")
    args = parser.parse_args()
    run(args.db, args.label, args.workers, args.threads, args.connections, args.seconds,
        args.scenarios or ["contact list", "card", "deal board", "my day", "API create contact"],
        worker_class=args.worker_class, server=args.server)
