"""``mayak serve``: the app under gunicorn, the same production WSGI server that deploy/ uses.

The embedded default (no ``REDIS_URL``) runs one worker process with threads; the in-process job thread and the
scheduler start inside that worker after the fork (threads do not survive a fork, and a database connection
opened in the master must not be shared with the child). With Redis, jobs go to RQ workers and more web worker
processes may be asked for.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


def server_options(app: Flask, host: str, port: int, workers: int | None, threads: int | None) -> dict[str, Any]:
    """gunicorn settings for ``mayak serve``; ``deploy/gunicorn.conf.py`` is the production equivalent."""
    embedded = not app.config.get("REDIS_URL")
    wanted = workers or int(os.environ.get("MAYAK_WEB_WORKERS", "1"))
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        # jobs and the scheduler live in the web process without Redis: exactly one worker process then
        "workers": 1 if embedded else max(1, wanted),
        "threads": threads or int(os.environ.get("MAYAK_WEB_THREADS", "8")),
        "worker_class": "gthread",
        "timeout": 60,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": os.environ.get("MAYAK_ACCESS_LOG", "-"),
        "errorlog": "-",
        "loglevel": "info",
        "forwarded_allow_ips": os.environ.get("MAYAK_FORWARDED_ALLOW_IPS", "127.0.0.1"),
        "proc_name": "mayak",
        # gunicorn >= 25.1 opens a control socket in $HOME by default; two instances would fight over it
        "control_socket_disable": True,
        "child_exit": _worker_exited,
        "worker_exit": stop_web_beat,
    }


def _worker_exited(server: Any, worker: Any) -> None:
    """A worker process ended: its live gauges leave /metrics (its counters stay in the totals)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


# A young collection every 5,000 new containers: a page's garbage (ORM objects in reference cycles) is freed a few
# pages at a time, about 2 ms each. At 50,000 it piled up for some 70 pages and one request paid 20-50 ms to free
# it (the card's p99 was 2.4 times its median); at Python's default of 700 the collections are cheap but so many
# that the median rose.
GC_THRESHOLDS = (5_000, 20, 100)
WARM_UP_REQUESTS = 200


def settle_memory() -> None:
    """Move every object alive now out of the garbage collector's sight (``gc.freeze``) and make young collections
    rarer. The app's own objects (models, compiled templates, locale data, plugins) live as long as the process;
    a full collection walked all of them, about 170 ms each time, and that was the p99 of every page."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class SettleAfterWarmUp:
    """A WSGI wrapper that settles memory once more after the worker's first requests: templates are compiled,
    translations and locale data loaded and caches filled lazily, by the first requests, not at start-up."""

    def __init__(self, app: Callable[..., Iterable[bytes]], after: int = WARM_UP_REQUESTS) -> None:
        self.app = app
        self.remaining = after
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.remaining > 0:
            with self.lock:
                self.remaining -= 1
                if self.remaining == 0:
                    settle_memory()
        return self.app(environ, start_response)


class MayakServer(BaseApplication):  # type: ignore[misc]
    """gunicorn serving an app that is already built (``mayak serve`` builds it to check settings first)."""

    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings newer than the installed gunicorn are skipped
                self.cfg.set(key, value)

    def load(self) -> Flask:
        # Runs in each worker after the fork.
        from core.db import db

        app = self.application
        with app.app_context():
            db.engine.dispose(close=False)  # connections of the master stay the master's
        if not app.config.get("REDIS_URL"):
            from core.jobs import scheduler

            scheduler.start_thread(app)
        start_web_beat(app)
        settle_memory()
        return SettleAfterWarmUp(app)


def start_web_beat(app: Any) -> None:
    """This web process's beat (health sees web processes per host); called in each gunicorn worker with the
    loaded WSGI application (a Mayak app: anything else served by the same settings has no beat)."""
    if not isinstance(app, Flask) or "mayak.settings" not in app.extensions:
        return
    from core.jobs.beats import Beat

    global _web_beat
    _web_beat = Beat(app, "web").start()
    _web_beat.set_state("serving")


def stop_web_beat(server: Any = None, worker: Any = None) -> None:
    """gunicorn's ``worker_exit``: a worker replaced after its requests (``max_requests``) or stopped says so,
    and is not reported as lost."""
    if _web_beat is not None:
        _web_beat.stop()


_web_beat: Any = None  # this process's beat, once it serves


def metrics_directory(base: str) -> str:
    """A fresh folder where every gunicorn worker writes its request figures for ``/metrics`` to add up
    (``PROMETHEUS_MULTIPROC_DIR``); figures of an earlier run of the server are removed."""
    import shutil

    folder = os.path.join(base, "metrics")  # one server per instance folder: the last run's figures go
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, exist_ok=True)
    return folder


def serve(app: Flask, host: str, port: int, workers: int | None = None, threads: int | None = None) -> None:
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics_directory(app.instance_path))
    settle_memory()  # before the fork: the workers share these pages instead of copying them
    MayakServer(app, server_options(app, host, port, workers, threads)).run()
