"""WSGI entry point for gunicorn: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``."""

import sys

from core import create_app
from core.errors import StartupError

try:
    app = create_app()
except StartupError as exc:
    print(f"mayak: {exc}", file=sys.stderr)
    raise SystemExit(1) from None

if not app.config.get("REDIS_URL"):
    # Embedded mode under a WSGI server: the scheduler runs in this process too (use one worker process).
    from core.jobs.scheduler import start_thread

    start_thread(app)
