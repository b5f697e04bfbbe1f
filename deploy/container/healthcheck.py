"""Health check of a Mayak container: ``python /app/deploy/container/healthcheck.py [web|heartbeat|auto]``.

- ``web``: ``GET /livez`` on the port of ``MAYAK_BIND`` answers 200 within 4 seconds.
- ``heartbeat``: the file named by ``MAYAK_HEARTBEAT_FILE`` was touched in the last 60 seconds. Every long-running
  Mayak process touches it at each beat (every 2 s) while alive, also while it waits for Redis or PostgreSQL
  (core/jobs/beats.py); it is how a worker or a scheduler, which have no HTTP port, show they are not stuck.
- ``auto`` (the image's HEALTHCHECK): ``web`` when gunicorn runs in the container, ``heartbeat`` when
  ``mayak worker`` or ``mayak scheduler`` does; anything else (a one-off command) is healthy while it runs.

Exit status 0 is healthy, 1 unhealthy; one line on standard output says why. Standard library only: it must not
pay for importing the app every 30 seconds.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.request
from pathlib import Path

HEARTBEAT_MAX_AGE = 60  # seconds; the Kubernetes liveness probes of workers and schedulers use the same limit


def running_commands() -> list[list[str]]:
    commands = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:  # the process ended while we looked
            continue
        commands.append([arg.decode(errors="replace") for arg in argv if arg])
    return commands


def role_of(commands: list[list[str]]) -> str:
    for argv in commands:
        names = [Path(arg).name for arg in argv[:3]]
        if "gunicorn" in names or any(arg.startswith("gunicorn:") for arg in argv[:1]):
            return "web"
    for argv in commands:
        names = [Path(arg).name for arg in argv]
        if "mayak" in names and names[names.index("mayak") + 1:][:1] in (["worker"], ["scheduler"]):
            return "heartbeat"
    return "other"


def check_web() -> tuple[bool, str]:
    bind = os.environ.get("MAYAK_BIND", "127.0.0.1:8000")
    host, _, port = bind.rpartition(":")
    if host in ("", "0.0.0.0", "[::]", "::"):  # noqa: S104 - where gunicorn listens, not where we bind
        host = "127.0.0.1"
    url = f"http://{host}:{port}/livez"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return response.status == 200, f"{url}: {response.status}"
    except OSError as exc:
        return False, f"{url}: {exc}"


def check_heartbeat() -> tuple[bool, str]:
    name = os.environ.get("MAYAK_HEARTBEAT_FILE", "/tmp/mayak-heartbeat")  # noqa: S108 - the image's default
    try:
        age = time.time() - Path(name).stat().st_mtime
    except OSError:
        return False, f"{name}: no heartbeat yet"
    return age <= HEARTBEAT_MAX_AGE, f"{name}: touched {age:.0f} s ago"


def main(argv: list[str]) -> int:
    role = argv[1] if len(argv) > 1 else "auto"
    if role == "auto":
        role = role_of(running_commands())
    if role == "web":
        healthy, why = check_web()
    elif role == "heartbeat":
        healthy, why = check_heartbeat()
    elif role == "other":
        healthy, why = True, "no web server, worker or scheduler in this container: healthy while it runs"
    else:
        print(f"usage: {argv[0]} [web|heartbeat|auto]")
        return 2
    print(why)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
