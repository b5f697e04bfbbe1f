"""gunicorn settings for Mayak: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``.

Web processes are stateless (signed-cookie sessions; jobs on RQ), so add workers or hosts freely. With the
embedded defaults (no REDIS_URL) run a single worker: jobs and the scheduler then live in that process.
"""

import multiprocessing
import os
import tempfile

# every worker writes its request figures here and /metrics adds them up (a folder of this server's own)
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="mayak-metrics-"))

bind = os.environ.get("MAYAK_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("MAYAK_WEB_WORKERS", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("MAYAK_WEB_THREADS", 4))
worker_class = "gthread"
timeout = 60
graceful_timeout = 30
keepalive = 5
# a worker is replaced after this many requests (a net against slow leaks); each replacement loads the app and
# warms it up again (a second or two of CPU), so at hundreds of pages a second it must be rare
max_requests = int(os.environ.get("MAYAK_WEB_MAX_REQUESTS", 100_000))
max_requests_jitter = max_requests // 10
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("MAYAK_FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    """The app is loaded: keep its long-lived objects out of the garbage collector's full collections (they cost
    the p99 of every page), and once more after the first requests have compiled templates and filled caches."""
    from core.serving import SettleAfterWarmUp, settle_memory, start_web_beat

    start_web_beat(worker.wsgi)  # health sees this process
    settle_memory()
    worker.wsgi = SettleAfterWarmUp(worker.wsgi)


def worker_exit(server, worker):  # type: ignore[no-untyped-def]
    """The worker stops (replaced after max_requests, or shut down): health must not report it as lost."""
    from core.serving import stop_web_beat

    stop_web_beat(server, worker)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """A worker process ended: its live gauges leave /metrics (its counters stay in the totals)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
