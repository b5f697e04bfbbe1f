"""Imports: each run of a file is a batch, and every data row of the file leaves one row of outcome.

A batch keeps the uploaded file (under ``instance/imports/``), how it is read (sheet, header row, column mapping)
and the options chosen (what to do with duplicates, the phone region, whether bad values are kept or the row is
refused). ``position`` is the last row number of the file that is fully done: the job commits a chunk of rows
together with their outcomes and the new position, so a restarted job goes on from there and no record exists
without the batch that made it. Outcomes keep what undo needs: the record created, or the values an update
replaced.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, UTCDateTime, utcnow

BATCH_STATUSES = ("draft", "queued", "running", "previewed", "finished", "failed", "undone")
ROW_ACTIONS = ("create", "update", "merge", "skip", "error")
DUPLICATE_POLICIES = ("skip", "update", "overwrite")
NULLABLE_JSON = JSON(none_as_null=True)  # None stored as SQL NULL (not JSON null), so "IS NULL" finds it


class ImportBatch(Base):
    __tablename__ = "import_batch"
    __table_args__ = (Index("ix_import_batch_created", "created_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity: Mapped[str] = mapped_column(String(20), default="contact")
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(80))
    size: Mapped[int] = mapped_column(Integer, default=0)
    format: Mapped[str] = mapped_column(String(40))
    sheet: Mapped[str | None] = mapped_column(String(120))
    header_row: Mapped[int] = mapped_column(Integer, default=1)
    columns: Mapped[list[str]] = mapped_column(JSON, default=list)  # the header's titles
    mapping: Mapped[list[str | None]] = mapped_column(JSON, default=list)  # a field per column, or None
    on_duplicate: Mapped[str] = mapped_column(String(12), default="skip")
    region: Mapped[str] = mapped_column(String(2), default="RU")
    keep_invalid: Mapped[bool] = mapped_column(Boolean, default=True)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), default="draft")
    position: Mapped[int] = mapped_column(Integer, default=0)
    estimated_rows: Mapped[int | None] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    merged: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    flagged: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job_record.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                      index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def counts(self) -> dict[str, int]:
        return {"rows": self.rows, "created": self.created, "updated": self.updated, "merged": self.merged,
                "skipped_duplicates": self.skipped, "failed": self.failed, "flagged": self.flagged}


class ImportRow(Base):
    """What happened to one data row of the file (``number`` is its row number in the file).

    A real run stores the rows that undo or the report need: updated, skipped, refused, or imported with a flagged
    value; contacts and companies it created carry the batch's id themselves, and rows merged into them are
    counted on the batch. A dry run stores every row, for the preview."""

    __tablename__ = "import_row"
    __table_args__ = (
        UniqueConstraint("batch_id", "number"),
        Index("ix_import_row_batch_record", "batch_id", "record_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batch.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(8))
    record_id: Mapped[int | None] = mapped_column(Integer)  # the contact created, updated or merged into
    before: Mapped[dict[str, Any] | None] = mapped_column(NULLABLE_JSON)  # an updated record's values, for undo
    problems: Mapped[list[dict[str, Any]] | None] = mapped_column(NULLABLE_JSON)  # [{field, code, value, severity}]
    cells: Mapped[list[Any] | None] = mapped_column(NULLABLE_JSON)  # the original cells of rows with problems
    summary: Mapped[dict[str, Any] | None] = mapped_column(NULLABLE_JSON)  # what a dry run read


class ImportProfile(Base):
    """A saved column mapping, reused for the next file with the same column titles."""

    __tablename__ = "import_profile"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    entity: Mapped[str] = mapped_column(String(20), default="contact")
    fields: Mapped[dict[str, str | None]] = mapped_column(JSON, default=dict)  # column title key -> field
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
