"""The RQ worker ``mayak worker`` runs."""

from __future__ import annotations

from rq import SimpleWorker, Worker


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
