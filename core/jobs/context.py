"""What a running job receives: kept out of ``core/jobs/__init__.py`` so the runner needs nothing from it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update

from core.db import db
from core.models import JobRecord, utcnow


@dataclass
class JobContext:
    """What a running job receives first: its record id, attempt number and a progress reporter."""

    record_id: int
    name: str
    attempt: int

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """Store progress on the job row at once (outside the job's own transaction) for progress bars."""
        with db.engine.begin() as conn:
            conn.execute(
                update(JobRecord)
                .where(JobRecord.id == self.record_id)
                .values(progress_done=done, progress_total=total, progress_message=message[:300],
                        heartbeat_at=utcnow())
            )
