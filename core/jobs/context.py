"""What a running job receives: kept out of ``core/jobs/__init__.py`` so the runner needs nothing from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update

from core.db import db
from core.models import JobRecord, utcnow


@dataclass
class JobContext:
    """What a running job receives first: its record id, attempt number, a progress reporter, and ``memo``.

    ``memo`` is a dict kept across the runs of one execution: when the database goes away after the job did
    something outside it (sent a webhook, an SMS) and before its commit, the job runs again once the database is
    back, with the same ``memo`` — a job that writes down what it already did there does it once."""

    record_id: int
    name: str
    attempt: int
    memo: dict[str, Any] = field(default_factory=dict)

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """Store progress on the job row at once (outside the job's own transaction) for progress bars."""
        with db.engine.begin() as conn:
            conn.execute(
                update(JobRecord)
                .where(JobRecord.id == self.record_id)
                .values(progress_done=done, progress_total=total, progress_message=message[:300],
                        heartbeat_at=utcnow())
            )
