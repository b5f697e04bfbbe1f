"""Where Mayak's own log lines go: standard error, as text (the default) or as one JSON object a line.

``MAYAK_LOG_FORMAT=json`` suits log collectors (Loki, Elasticsearch, journald's JSON export): each line carries
the time (UTC, ISO 8601), level, logger, message, host, process id, the process's role when it has one, and the
exception's traceback when there is one. ``MAYAK_LOG_LEVEL`` (default ``INFO``) sets the threshold. Configured once
per process, on the root logger, only when nothing else configured it (a test runner, an embedding program).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
from datetime import UTC, datetime

from core.errors import StartupError

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_MARK = "_mayak_handler"
QUIET_AT_INFO = ("alembic",)


class JsonFormatter(logging.Formatter):
    """One JSON object per record; fields a collector can index without parsing the message."""

    def __init__(self, role: str = "") -> None:
        super().__init__()
        self.host = socket.gethostname()
        self.role = role

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "host": self.host,
            "pid": record.process,
        }
        if self.role:
            entry["role"] = self.role
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(environ: dict[str, str] | None = None, role: str = "") -> None:
    """Set up the root logger from ``MAYAK_LOG_FORMAT`` and ``MAYAK_LOG_LEVEL`` (once per process)."""
    env = os.environ if environ is None else environ
    fmt = env.get("MAYAK_LOG_FORMAT", "text").strip().lower() or "text"
    if fmt not in FORMATS:
        raise StartupError(f"MAYAK_LOG_FORMAT must be text or json, not {fmt!r}")
    level_name = env.get("MAYAK_LOG_LEVEL", "INFO").strip().upper() or "INFO"
    level = logging.getLevelName(level_name)
    if not isinstance(level, int):
        raise StartupError(f"MAYAK_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {level_name!r}")
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, _MARK, False)]
    if root.handlers and not ours:
        return  # someone else (pytest, an embedding program) owns the logging of this process
    handler = ours[0] if ours else logging.StreamHandler(sys.stderr)
    setattr(handler, _MARK, True)
    handler.setFormatter(JsonFormatter(role) if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    if not ours:
        root.addHandler(handler)
    root.setLevel(level)
    for chatty in QUIET_AT_INFO:  # their INFO lines narrate routine steps (each migration's context)
        logging.getLogger(chatty).setLevel(max(level, logging.WARNING) if level >= logging.INFO else level)
