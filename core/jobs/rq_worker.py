"""The RQ worker ``mayak worker`` runs."""

from __future__ import annotations

from rq import Worker


class MayakWorker(Worker):
    """RQ's worker, listening on its command channel (stop a job, shut down) in 1 s waits instead of 60 s.

    RQ's listener thread waits up to ``sleep_time`` for a message, and stopping it joins the thread: a burst worker
    whose job took milliseconds stopped the listener while it waited for its subscription, and then sat for a minute
    before exiting (seen under load as ``mayak worker --burst`` timing out after "done, quitting")."""

    def subscribe(self) -> None:
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(sleep_time=1, daemon=True,
                                                       exception_handler=self._pubsub_exception_handler)
