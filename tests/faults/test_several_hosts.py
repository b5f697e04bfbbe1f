"""Issue 14, item 6: several hosts on loopback — 2 web processes, 2 workers (one forking, one ``--no-fork``) and
2 schedulers on PostgreSQL behind a proxy the test cuts, and a private Redis the test stops — through a worker
SIGKILLed mid-job, Redis down 60 s, PostgreSQL cut 20 s, a web process and a scheduler SIGKILLed.

Nothing acknowledged is lost or written twice, every event reaches its handler and the receiver exactly once,
every process is back without help (workers and schedulers ride out the outages; the killed ones are restarted by
the supervisor and work again), ``/healthz`` shows each fault while it lasts, and every delivery arrives within
60 s of the fault's end. The harness is ``tests/cluster.py``; ``bench/faults.py`` runs the same scenario for the
figures. Job timings are the code's production defaults (nothing lowered for the test).
"""

from __future__ import annotations

import os
import shutil
import signal
import threading

import pytest

from core.testing import services
from tests.cluster import run_scenario, running_cluster

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.several_hosts,
              pytest.mark.xdist_group("several_hosts")]

BUDGET_SECONDS = 480  # ~4 minutes when recovery takes seconds; each fault's wait is bounded by the 60 s limit


def _watchdog(seconds: float) -> threading.Timer:
    """No pytest-timeout here: a timer that dumps every thread (faulthandler) and interrupts the test."""
    import faulthandler

    def fire() -> None:
        faulthandler.dump_traceback(all_threads=True)
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return timer


def test_several_hosts_ride_out_faults(tmp_path):
    if shutil.which("redis-server") is None:
        if services.services_required():
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    if not services.postgres_available():
        services.unavailable("PostgreSQL", services.postgres_admin_url())
    timer = _watchdog(BUDGET_SECONDS)
    try:
        with running_cluster(tmp_path) as cluster:
            report = run_scenario(cluster, log=lambda line: print(line, flush=True))
            print(report.table())
            if report.problems:
                pytest.fail("\n".join(["the installation did not ride out the faults:",
                                       *(f"- {p}" for p in report.problems), "", report.table(), "",
                                       cluster.tails()]), pytrace=False)
    finally:
        timer.cancel()
