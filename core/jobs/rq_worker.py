"""The RQ worker ``mayak worker`` runs, and the loop that keeps one running through Redis outages."""

from __future__ import annotations

import logging
import signal
import threading

from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker, Worker
from rq.job import Job

from core.jobs.beats import Beat

log = logging.getLogger("mayak.worker")


class _QuickListener:
    """RQ's command listener in 1 s waits instead of 60 s (see :class:`MayakWorker`)."""

    def subscribe(self) -> None:  # type: ignore[misc]
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)  # type: ignore[attr-defined]
        self.pubsub = self.connection.pubsub()  # type: ignore[attr-defined]
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})  # type: ignore[attr-defined]
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[attr-defined]
            sleep_time=1, daemon=True, exception_handler=self._pubsub_exception_handler)  # type: ignore[attr-defined]


class MayakInProcessWorker(_QuickListener, SimpleWorker):
    """Runs each job in the worker process itself instead of a fork: the process keeps its warm caches (compiled
    statements, the reference data) and its database connections from job to job — a small job (a webhook's call
    event) costs about a tenth; a job that crashes the interpreter takes the worker down, and the process manager
    starts it again."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        from core.jobs import runner

        runner.IN_WORKER_PROCESS = True


class MayakWorker(_QuickListener, Worker):
    """RQ's worker, listening on its command channel (stop a job, shut down) in 1 s waits instead of 60 s.

    RQ's listener thread waits up to ``sleep_time`` for a message, and stopping it joins the thread: a burst worker
    whose job took milliseconds stopped the listener while it waited for its subscription, and then sat for a minute
    before exiting (seen under load as ``mayak worker --burst`` timing out after "done, quitting")."""


REDIS_WAIT_MAX = 5.0  # the longest pause between two tries to reach Redis: back within seconds of its return
RQ_RECONNECT_MAX = 5.0  # RQ's own back-off while it listens (its default lets a worker sleep 60 s after an outage)


def _horse_killed(job: Job, retpid: int, ret_val: int, rusage: object) -> None:
    """The work horse running ``job`` died (killed, out of memory): its job is queued again at once rather than
    after its heartbeat goes stale."""
    from core.jobs import runner, submit

    if job.func_name != "core.jobs.runner.rq_run_job" or not job.args:
        return
    try:
        again = runner.give_back(int(job.args[0]), job.id,
                                 f"the process running this job stopped (exit status {ret_val})")
        if again is not None:
            submit([again])
    except Exception as exc:  # the database is unreachable: the sweep finds the stale heartbeat later
        log.warning("could not queue job %s again at once (%s); the sweep will", job.args[0], type(exc).__name__)


def run(app: Flask, redis: Redis, queue: Queue, *, fork: bool, burst: bool) -> None:
    """``mayak worker``: run RQ workers on ``queue`` for as long as the process lives.

    RQ's worker quits when Redis goes away in the middle of its work ("found an unhandled exception, quitting") and
    cannot start while Redis is down. This loop outlives both: it waits for Redis with a back-off (saying so in the
    log and in the process's beat), starts a fresh RQ worker (a new name: the old one may still be registered), and
    starts again when that worker loses Redis. Only a stop signal (or the end of a ``--burst``) ends it."""
    worker_class = MayakWorker if fork else MayakInProcessWorker
    beat = Beat(app, "worker", (queue.name,))
    current: list[Worker] = []

    def state() -> str:
        if not current:
            return beat.state
        return f"{current[-1].get_state()} on {queue.name}"

    beat.probe = state
    beat.start()
    stopping = threading.Event()

    def request_stop(*_args: object) -> None:
        stopping.set()

    pause = 1.0
    try:
        while not stopping.is_set():
            signal.signal(signal.SIGTERM, request_stop)
            signal.signal(signal.SIGINT, request_stop)
            try:
                redis.ping()
            except RedisError as exc:
                current.clear()
                beat.set_state("waiting for Redis")
                log.warning("Redis is unreachable (%s: %s); trying again in %.0f s", type(exc).__name__, exc, pause)
                stopping.wait(pause)
                pause = min(pause * 2, REDIS_WAIT_MAX)
                continue
            if pause > 1.0:
                log.warning("Redis is reachable again; the worker starts")
            pause = 1.0
            worker = worker_class([queue], connection=redis, work_horse_killed_handler=_horse_killed)
            worker.max_connection_wait_time = RQ_RECONNECT_MAX
            current.append(worker)
            try:
                worker.work(burst=burst, with_scheduler=False)
            except RedisError as exc:  # RQ's own teardown could not unregister the worker
                log.warning("the worker lost Redis (%s); waiting for it", type(exc).__name__)
            current.clear()
            if burst or getattr(worker, "_shutdown_requested_date", None) is not None:
                break
            log.warning("the RQ worker stopped (Redis lost mid-work?); starting another once Redis answers")
            stopping.wait(pause)
    finally:
        beat.stop()
