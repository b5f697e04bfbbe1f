"""Where job executions go: RQ on Redis when ``REDIS_URL`` is set, a worker thread in this process without it.

Backends only carry record ids; the rows in ``job_record`` hold the truth, so a lost message costs a delay
(the sweep submits again), never a job.
"""

from __future__ import annotations

import logging
import queue
import threading
import weakref
from typing import TYPE_CHECKING, Protocol

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

RQ_QUEUE = "mayak"


class Backend(Protocol):
    name: str

    def submit(self, record_id: int, timeout: int) -> None: ...

    def kick_dispatch(self) -> None: ...

    def health(self) -> tuple[bool, str]: ...


class RQBackend:
    """Jobs as RQ jobs on one queue; ``mayak worker`` processes execute them."""

    name = "rq"

    def __init__(self, redis_url: str, queue_name: str = RQ_QUEUE) -> None:
        self.redis = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
        self.queue = Queue(queue_name, connection=self.redis)

    def submit(self, record_id: int, timeout: int) -> None:
        self.queue.enqueue(
            "core.jobs.runner.rq_run_job",
            record_id,
            job_timeout=timeout + 30,
            result_ttl=600,
            failure_ttl=86400,
            description=f"mayak job {record_id}",
        )

    def kick_dispatch(self) -> None:
        self.queue.enqueue("core.jobs.runner.rq_dispatch_events", job_timeout=600, result_ttl=60,
                           description="mayak event dispatch")

    def health(self) -> tuple[bool, str]:
        try:
            self.redis.ping()
        except RedisError as exc:
            return False, f"Redis unreachable: {type(exc).__name__}"
        return True, f"{self.queue.count} queued"


class InProcessBackend:
    """A daemon thread in this process runs jobs one at a time (the embedded mode: no Redis, no worker)."""

    name = "in-process"
    _every: weakref.WeakSet[InProcessBackend] = weakref.WeakSet()

    def __init__(self, app: Flask) -> None:
        self.app = app
        InProcessBackend._every.add(self)
        self.queue: queue.Queue[tuple[str, int | None]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="mayak-jobs", daemon=True)
                self._thread.start()

    def submit(self, record_id: int, timeout: int) -> None:
        self._ensure_thread()
        self.queue.put(("job", record_id))

    def kick_dispatch(self) -> None:
        self._ensure_thread()
        self.queue.put(("dispatch", None))

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until everything submitted so far has run (used by tests and the CLI)."""
        done = threading.Event()

        def waiter() -> None:
            self.queue.join()
            done.set()

        threading.Thread(target=waiter, daemon=True).start()
        return done.wait(timeout)

    @classmethod
    def wait_all_idle(cls, timeout: float = 10.0) -> bool:
        """Block until every in-process backend of this process is idle: a test that built apps of its own must not
        empty the tables under their jobs, however it built them."""
        return all(backend.wait_idle(timeout) for backend in list(cls._every))

    def health(self) -> tuple[bool, str]:
        alive = self._thread is not None and self._thread.is_alive()
        return True, f"{self.queue.qsize()} queued, worker thread {'running' if alive else 'idle'}"

    def _loop(self) -> None:
        from core.jobs import runner

        while True:
            kind, arg = self.queue.get()
            try:
                with self.app.app_context():
                    if kind == "job" and arg is not None:
                        runner.run_job(arg)
                    else:
                        runner.dispatch_events()
            except Exception:
                log.exception("in-process job %s %s crashed", kind, arg)
            finally:
                self.queue.task_done()
