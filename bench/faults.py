"""The multi-host fault benchmark (issue 14, item 6): the scenario of ``tests/faults/test_several_hosts.py`` — 2 web
processes, 2 workers (fork and ``--no-fork``), 2 schedulers on PostgreSQL behind a proxy that is cut and a private
Redis that is stopped, a worker SIGKILLed mid-job, Redis down 60 s, PostgreSQL cut 20 s, a web process and a
scheduler SIGKILLed — and job throughput per worker process (N no-op jobs through one ``mayak worker``, forking and
``--no-fork``).

    .venv/bin/python bench/faults.py                       # the working tree's code
    .venv/bin/python bench/faults.py --rev HEAD --label before   # a snapshot of a commit (git archive), e.g. "before"
    .venv/bin/python bench/faults.py --skip-scenario --jobs 2000 # only the throughput
    .venv/bin/python bench/faults.py --drain 420           # wait up to 7 min for late deliveries (their true delay)

Per fault it prints: recovery to the first acknowledged write and to the first delivered event after the fault's
end, the deliveries delayed (over 5 s from the event's creation) and the worst delay, events delivered twice, failed
writes and unplanned process exits; then the problems the test would fail on. One JSON line per run is appended to
``bench/faults.jsonl``. Job timings are the code's defaults unless ``--job-env NAME=VALUE`` says otherwise.

This file is also a tiny plugin (``module = "bench.faults"``) registering the no-op job the throughput runs.
"""

from __future__ import annotations

from mayak import JobSpec, hookimpl


def noop(ctx: object) -> None:
    return None


@hookimpl
def register_jobs() -> list[JobSpec]:
    return [JobSpec("bench.noop", noop)]


NOOP_PLUGIN = '\n[plugins.bench_faults]\nmodule = "bench.faults"\n'


def _snapshot(rev: str, into: str) -> str:
    """``git archive`` of ``rev`` (read-only for the repository), with this file added as the no-op plugin."""
    import shutil
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    target = Path(into)
    target.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(root), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    shutil.copy(Path(__file__), target / "bench" / "faults.py")
    return str(target)


def throughput(workdir, code_root, jobs: int, job_env: dict[str, str]) -> dict[str, dict[str, float]]:  # type: ignore[no-untyped-def]
    """N no-op jobs through one burst worker per mode, the jobs enqueued beforehand (the worker starts on a full
    queue); jobs/s from the first job's start to the last one's end (the worker's start-up left out), and the
    whole burst's wall time."""
    import subprocess
    import sys
    import time

    from tests.cluster import Cluster

    results: dict[str, dict[str, float]] = {}
    cluster = Cluster(workdir, code_root=code_root, job_env=job_env, extra_plugins=NOOP_PLUGIN)
    try:
        cluster.start(webs=0, workers=(), schedulers=0)
        for mode in ("fork", "no-fork"):
            ids: list[int] = []
            for start in range(0, jobs, 1000):
                ids += cluster.enqueue([{"name": "bench.noop", "kwargs": {}}] * min(1000, jobs - start))
            argv = [sys.executable, "-m", "core.cli", "worker", "--burst"] + (["--no-fork"] if mode == "no-fork" else [])
            began = time.perf_counter()
            with open(cluster.logs / f"burst-{mode}.log", "wb") as out:
                subprocess.run(argv, env=cluster.env(f"burst-{mode}"), cwd=cluster.root, stdout=out,
                               stderr=subprocess.STDOUT, timeout=1800, check=True)
            wall = time.perf_counter() - began
            row = cluster.query("SELECT count(*) AS n, min(started_at) AS a, max(finished_at) AS b FROM job_record "
                                "WHERE id = ANY(:ids) AND status = 'finished'", ids=ids)[0]
            span = (row.b - row.a).total_seconds() if row.n else 0.0
            results[mode] = {"jobs": jobs, "finished": row.n, "per_s": round(row.n / span, 1) if span else 0.0,
                             "wall_s": round(wall, 1)}
            print(f"throughput {mode:8} {row.n}/{jobs} jobs, {results[mode]['per_s']:7.1f} jobs/s "
                  f"(burst worker wall {wall:.1f} s, start-up included)", flush=True)
    finally:
        cluster.close()
    return results


def main() -> None:
    import argparse
    import json
    import os
    import platform
    import sys
    import tempfile
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    from tests.cluster import PROJECT_ROOT, run_scenario, running_cluster

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--label", default="working tree")
    parser.add_argument("--rev", help="run a snapshot of this git revision instead of the working tree")
    parser.add_argument("--code", help="run the code in this directory instead of the working tree")
    parser.add_argument("--jobs", type=int, default=1000, help="no-op jobs per throughput run")
    parser.add_argument("--drain", type=float, default=60.0, help="seconds to wait for late deliveries at the end")
    parser.add_argument("--job-env", action="append", default=[], help="NAME=VALUE, e.g. MAYAK_JOB_STALE_SECONDS=30")
    parser.add_argument("--skip-scenario", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the logs (printed at the end)")
    args = parser.parse_args()
    job_env = dict(item.split("=", 1) for item in args.job_env)
    workdir = Path(tempfile.mkdtemp(prefix="mayak-faults-"))
    code_root = Path(args.code) if args.code else PROJECT_ROOT
    if args.rev:
        code_root = Path(_snapshot(args.rev, str(workdir / "code")))
    line: dict[str, object] = {"at": time.strftime("%Y-%m-%d %H:%M"), "label": args.label, "rev": args.rev,
                               "code": str(code_root), "job_env": job_env or "code defaults",
                               "cpus": os.cpu_count(), "python": platform.python_version()}
    if not args.skip_scenario:
        with running_cluster(workdir / "scenario", code_root=code_root, job_env=job_env) as cluster:
            report = run_scenario(cluster, final_drain=args.drain, stop_when_overdue=False,
                                  log=lambda s: print(s, flush=True))
            print()
            print(report.table())
            print("\nproblems (what the test fails on):" if report.problems else "\nno problems")
            for problem in report.problems:
                print(f"- {problem}")
            print(json.dumps({k: v for k, v in report.figures.items() if k != "segments"}, indent=1))
            line["scenario_seconds"] = round(report.finished - report.started)
            line["faults"] = report.figures["segments"]
            line["totals"] = {k: v for k, v in report.figures.items() if k != "segments"}
            line["problems"] = report.problems
            if args.keep:
                print(f"logs in {cluster.logs}")
    if not args.skip_throughput:
        line["throughput"] = throughput(workdir / "throughput", code_root, args.jobs, job_env)
    with open(root / "bench" / "faults.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")


if __name__ == "__main__":
    main()
