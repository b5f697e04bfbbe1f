"""Every long-running Mayak process says it is alive: a row in ``process_beat`` renewed every few seconds.

Health (``/healthz``, ``mayak status``) reads these rows to tell, per role and host, which web processes, workers,
schedulers and listeners are alive, what each is doing ("waiting for Redis"), and which stopped beating without
saying goodbye (killed, crashed, host gone). The beat runs in a daemon thread, so a process busy with a long job
still beats; with ``MAYAK_HEARTBEAT_FILE`` set it also touches that file every beat, for a container's liveness
probe that cannot reach the database (the file is touched even while the database is unreachable: the process is
alive and waiting, and must not be restarted for an outage elsewhere).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import delete, update

from core.db import db
from core.models import ProcessBeat, utcnow

log = logging.getLogger(__name__)

ROLES = ("web", "worker", "scheduler", "listener")
BEAT_SECONDS_DEFAULT = 2.0
SILENT_BEATS = 5  # a process silent for this many beats is not alive any more (killed, hung, host gone)
FORGET_AFTER = timedelta(days=1)  # rows of processes gone this long are deleted


def beat_seconds(app: Flask) -> float:
    return float(app.config.get("PROCESS_BEAT_SECONDS") or os.environ.get("MAYAK_PROCESS_BEAT_SECONDS")
                 or BEAT_SECONDS_DEFAULT)


class Beat:
    """The beat of this process in role ``role``; :meth:`start` it once, :meth:`set_state` as work changes,
    :meth:`stop` on a clean shutdown."""

    def __init__(self, app: Flask, role: str, queues: tuple[str, ...] = ()) -> None:
        assert role in ROLES, role
        self.app = app
        self.role = role
        self.host = socket.gethostname()[:120]
        self.pid = os.getpid()
        self.id = f"{role}:{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"[:120]
        self.queues = ",".join(queues)[:200]
        self.state = "starting"
        self.every = beat_seconds(app)
        self.file = Path(os.environ["MAYAK_HEARTBEAT_FILE"]) if os.environ.get("MAYAK_HEARTBEAT_FILE") else None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        # asked at every beat for the state to write, when the process knows better than its last set_state
        self.probe: Callable[[], str] | None = None

    def start(self) -> Beat:
        self._thread = threading.Thread(target=self._loop, name=f"mayak-beat-{self.role}", daemon=True)
        self._thread.start()
        return self

    def set_state(self, state: str) -> None:
        """Say what the process is doing now; written at once (by the beat thread)."""
        if state != self.state:
            self.state = state[:120]
            self._wake.set()

    def stop(self) -> None:
        """A clean shutdown: the row says stopped, so health does not report the process as lost."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            with self.app.app_context(), db.engine.begin() as conn:
                conn.execute(update(ProcessBeat).where(ProcessBeat.id == self.id)
                             .values(stopped_at=utcnow(), state="stopped"))
        except Exception as exc:
            log.warning("could not record the stop of %s (%s)", self.id, type(exc).__name__)

    def beat(self) -> None:
        """Write the row once (the thread calls this every ``every`` seconds)."""
        self._touch_file()
        with self.app.app_context():
            if self.probe is not None:
                self.state = self.probe()[:120]
            self._write()

    def _write(self) -> None:
        now = utcnow()
        with db.engine.begin() as conn:
            done = conn.execute(update(ProcessBeat).where(ProcessBeat.id == self.id)
                                .values(seen_at=now, state=self.state)).rowcount
            if not done:
                conn.execute(delete(ProcessBeat).where(ProcessBeat.seen_at < now - FORGET_AFTER))
                conn.execute(ProcessBeat.__table__.insert().values(
                    id=self.id, role=self.role, host=self.host, pid=self.pid, queues=self.queues,
                    state=self.state, started_at=now, seen_at=now))

    def _touch_file(self) -> None:
        if self.file is None:
            return
        try:
            self.file.touch()
        except OSError as exc:
            log.warning("cannot touch MAYAK_HEARTBEAT_FILE %s (%s)", self.file, exc.strerror)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.beat()
                if self._failing:
                    log.info("%s: beating again", self.id)
                self._failing = False
            except Exception as exc:
                if not self._failing:  # once per outage, not every few seconds
                    log.warning("%s: cannot record its beat (%s); retrying", self.id, type(exc).__name__)
                self._failing = True
            self._wake.wait(self.every)
            self._wake.clear()
