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
from rq.job import Job, JobStatus

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

RQ_QUEUE = "mayak"


def _database_wait() -> float:
    from flask import current_app

    return float(current_app.config.get("JOB_DATABASE_WAIT_SECONDS", 120.0))


class Backend(Protocol):
    name: str

    def submit(self, record_id: int, timeout: int, message_id: str) -> None: ...

    def missing(self, message_ids: list[str]) -> set[str]:
        """Those of ``message_ids`` the backend no longer holds waiting or running (lost in a restart, or their
        run ended without the job being claimed); raises when the backend cannot be asked."""
        ...

    def kick_dispatch(self) -> None: ...

    def health(self) -> tuple[bool, str]: ...


class RQBackend:
    """Jobs as RQ jobs on one queue; ``mayak worker`` processes execute them."""

    name = "rq"

    def __init__(self, redis_url: str, queue_name: str = RQ_QUEUE) -> None:
        self.redis = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
        self.queue = Queue(queue_name, connection=self.redis)

    def submit(self, record_id: int, timeout: int, message_id: str) -> None:
        self.queue.enqueue(
            "core.jobs.runner.rq_run_job",
            record_id,
            job_id=message_id,
            # the run may wait for an unreachable database before the job's own time starts
            job_timeout=timeout + 30 + int(_database_wait()),
            result_ttl=600,
            failure_ttl=86400,
            description=f"mayak job {record_id}",
        )

    def missing(self, message_ids: list[str]) -> set[str]:
        if not message_ids:
            return set()
        with self.redis.pipeline(transaction=False) as pipe:
            for message_id in message_ids:
                pipe.hget(f"{Job.redis_job_namespace_prefix}{message_id}", "status")
            statuses = pipe.execute()
        held = {JobStatus.QUEUED.value, JobStatus.STARTED.value, JobStatus.DEFERRED.value,
                JobStatus.SCHEDULED.value}
        return {message_id for message_id, status in zip(message_ids, statuses, strict=True)
                if status is None or status.decode() not in held}

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
        self.queue: queue.Queue[tuple[str, int | None, str]] = queue.Queue()
        self._held: set[str] = set()  # message ids waiting or running in this process
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="mayak-jobs", daemon=True)
                self._thread.start()

    def submit(self, record_id: int, timeout: int, message_id: str) -> None:
        self._ensure_thread()
        with self._lock:
            self._held.add(message_id)
        self.queue.put(("job", record_id, message_id))

    def missing(self, message_ids: list[str]) -> set[str]:
        with self._lock:
            return {message_id for message_id in message_ids if message_id not in self._held}

    def kick_dispatch(self) -> None:
        self._ensure_thread()
        self.queue.put(("dispatch", None, ""))

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
            kind, arg, message_id = self.queue.get()
            try:
                with self.app.app_context():
                    if kind == "job" and arg is not None:
                        runner.run_waiting_for_database(arg)
                    else:
                        runner.dispatch_events()
            except Exception:
                log.exception("in-process job %s %s crashed", kind, arg)
            finally:
                with self._lock:
                    self._held.discard(message_id)
                self.queue.task_done()
