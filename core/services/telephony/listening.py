"""``mayak telephony listen <provider>``: the process that keeps a PBX's own event connection (Asterisk's AMI).

Start it on one host or several: one holds the lease ``telephony.listen.<provider>`` and listens, the others wait
and take over within ``LEASE_SECONDS`` if it dies. The provider's :meth:`listen` connects, hands batches of
:class:`CallEvent` to :func:`deliver` (folded and committed at once) and returns when the connection drops; the
runner then connects again after a pause that grows 1, 2, 4... up to 60 seconds and falls back to 1 second after a
connection that lasted. Every step is logged, so an administrator sees why calls stopped arriving."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from core.db import db
from core.plugins import provider_facades
from core.plugins.providers import CallEvent
from core.services.platform import leases
from core.services.telephony import calls

log = logging.getLogger("mayak.telephony.listen")

LEASE_SECONDS = 30.0
FIRST_PAUSE = 1.0
LONGEST_PAUSE = 60.0
STEADY_SECONDS = 60.0  # a connection that lasted this long resets the pause


def lease_name(provider: str) -> str:
    return f"telephony.listen.{provider}"


def deliver(provider: str, events: list[CallEvent]) -> None:
    """Fold one batch of events and commit; a failure rolls the batch back and is logged, the listener goes on."""
    try:
        calls.record_events(provider, events)
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("could not record %d call events from %s", len(events), provider)


def run(provider: str, stopping: threading.Event, *, holder: str | None = None,
        sleep: Callable[[float], bool] | None = None) -> None:
    """Listen for ``provider``'s events until ``stopping`` is set (see the module's docstring)."""
    holder = holder or f"{socket.gethostname()}:{os.getpid()}"
    name = lease_name(provider)
    wait = sleep or stopping.wait
    pause = FIRST_PAUSE
    renewer: _Renewer | None = None
    try:
        while not stopping.is_set():
            if not leases.take(name, holder, LEASE_SECONDS):
                log.info("another process listens to %s (%s); waiting", provider, leases.holder_of(name))
                db.session.remove()
                wait(LEASE_SECONDS / 3)
                continue
            if renewer is None:
                log.info("listening to %s as %s", provider, holder)
                renewer = _Renewer(name, holder, stopping)
            began = time.monotonic()
            try:
                provider_facades.telephony(key=provider).listen(lambda batch: deliver(provider, batch),
                                                                renewer.halt)
                reason = "the connection closed"
            except Exception as exc:  # a refused login, a network error: try again after a pause
                reason = f"{type(exc).__name__}: {exc}"
            db.session.remove()
            if stopping.is_set():
                break
            if time.monotonic() - began >= STEADY_SECONDS:
                pause = FIRST_PAUSE
            log.warning("%s listener: %s; connecting again in %.0f s", provider, reason, pause)
            wait(pause)
            pause = min(pause * 2, LONGEST_PAUSE)
            if renewer is not None and renewer.lost.is_set():
                log.warning("the lease on %s was lost; waiting to take it again", provider)
                renewer.stop()
                renewer = None
    finally:
        if renewer is not None:
            renewer.stop()
            leases.release(name, holder)
            db.session.remove()


class _Renewer:
    """Renews the lease every third of its life in a thread of its own (a listener blocked on a socket cannot).
    ``halt`` is what the provider's ``listen`` watches: set when the process is stopping, or when another process
    took the lease (``lost``) — two listeners never record the same PBX at once for longer than one renewal."""

    def __init__(self, name: str, holder: str, stopping: threading.Event) -> None:
        from flask import current_app

        self.name, self.holder, self.stopping = name, holder, stopping
        self.lost = threading.Event()
        self.halt = threading.Event()
        self._done = threading.Event()
        self._app = current_app._get_current_object()  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._loop, name=f"lease {name}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        renew_at = time.monotonic() + LEASE_SECONDS / 3
        with self._app.app_context():
            while not self._done.wait(0.2):
                if self.stopping.is_set():
                    self.halt.set()
                if time.monotonic() < renew_at:
                    continue
                renew_at = time.monotonic() + LEASE_SECONDS / 3
                try:
                    if not leases.take(self.name, self.holder, LEASE_SECONDS):
                        self.lost.set()
                        self.halt.set()
                        return
                except Exception:
                    log.exception("could not renew the lease %s", self.name)
                finally:
                    db.session.remove()

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)
