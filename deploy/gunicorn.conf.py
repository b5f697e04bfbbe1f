"""gunicorn settings for Mayak: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``.

Web processes are stateless (signed-cookie sessions; jobs on RQ), so add workers or hosts freely. With the
embedded defaults (no REDIS_URL) run a single worker: jobs and the scheduler then live in that process.
"""

import multiprocessing
import os

bind = os.environ.get("MAYAK_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("MAYAK_WEB_WORKERS", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("MAYAK_WEB_THREADS", 4))
worker_class = "gthread"
timeout = 60
graceful_timeout = 30
keepalive = 5
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("MAYAK_FORWARDED_ALLOW_IPS", "127.0.0.1")
