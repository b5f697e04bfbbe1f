"""Import batches: take a file in, settle how it is read, run it (as a job, or from the command line), report on
it and undo it.

The life of a batch: ``draft`` (uploaded, being set up) → ``queued`` → ``running`` → ``finished`` (or
``previewed`` after a dry run, which writes no contact) → ``undone``. A run that stops midway is ``failed`` with
its ``position``: running it again goes on from the next row; undoing it removes what it had written.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update

from core.db import db
from core.models import Company, Contact, ImportBatch, ImportProfile, ImportRow, JobRecord, utcnow
from core.models.imports import DUPLICATE_POLICIES
from core.plugins.events import ImportFinished, ImportUndone
from core.plugins.facades import default_phone_region, import_formats
from core.plugins.types import ImportFileError, ImportFormat, TableSource
from core.services.clients import custom_fields
from core.services.platform import audit, events, storage
from core.services.platform.access import require
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.services.platform.text import clean
from core.services.transfer import import_mapping, import_reading
from core.services.transfer.bulk import refresh_statistics
from core.services.transfer.import_engine import CHUNK, Engine, Progress, restore
from core.services.transfer.import_files import open_table
from core.services.transfer.import_reading import ReadPlan
from core.services.transfer.import_rows import cell_text, message, title_key

ENTITY = "contact"
PREVIEW_ROWS = 8
JOB = "core.import"
GROWING_TABLES = ("contact", "phone", "email", "company")  # the ones each chunk looks rows up in


@dataclass
class Layout:
    """How a file looks under a sheet and header row: for the set-up step."""

    sheets: list[str]
    sheet: str | None
    header_row: int
    columns: list[str]
    samples: list[list[str]]  # the first data rows, column by column
    top: list[tuple[int, list[str]]]  # the first rows of the sheet, to pick the header row from


def key_of(batch: ImportBatch) -> str:
    """Where the batch's uploaded file is kept in the storage."""
    return storage.validate_key(f"imports/{batch.stored_name}")


def storage_root() -> Path:
    """The folder the local storage keeps uploaded import files in (``imports/`` of the instance folder); only
    meaningful with ``MAYAK_STORAGE=local``: code goes through :func:`key_of` and the storage."""
    root = Path(current_app.instance_path) / "imports"
    root.mkdir(parents=True, exist_ok=True)
    return root


def file_of(batch: ImportBatch) -> Path:
    """The batch's file in the local storage's folder (see :func:`storage_root`)."""
    return storage_root() / batch.stored_name


def _gone() -> ImportFileError:
    return ImportFileError(_l("The uploaded file is no longer kept (files are deleted %(days)s days after "
                              "their import); upload it again.", days=keep_days()))


@contextmanager
def _local_file(batch: ImportBatch) -> Iterator[Path]:
    """The batch's file as a local path for the format plugins and the reader processes: the file itself on local
    disk, a temporary copy of it from S3 (removed when the block ends)."""
    if not batch.stored_name:
        raise _gone()
    with ExitStack() as stack:
        try:
            path = stack.enter_context(storage.current().local_path(key_of(batch)))
        except storage.ObjectMissing as exc:
            raise _gone() from exc
        yield path


def _format(batch: ImportBatch) -> ImportFormat:
    fmt = next((f for f in import_formats() if f.key == batch.format), None)
    if fmt is None:
        raise ImportFileError(_l("The plugin that reads %(format)s files is not enabled any more.",
                                 format=batch.format))
    return fmt


@contextmanager
def _open(batch: ImportBatch) -> Iterator[TableSource]:
    with _local_file(batch) as path, _format(batch).open(path) as source:
        yield source


def keep_days() -> int:
    return int(current_app.config.get("IMPORT_KEEP_DAYS", 30))


def purge_files(now: Any = None) -> int:
    """Delete uploaded files whose import ended (or was abandoned) more than ``IMPORT_KEEP_DAYS`` ago: a client
    base should not stay on disk for ever. Stopped imports keep theirs, to be resumed. Returns how many."""
    cutoff = (now or utcnow()) - timedelta(days=keep_days())
    purged = 0
    for batch in db.session.scalars(select(ImportBatch).where(
            ImportBatch.created_at < cutoff, ImportBatch.stored_name != "",
            ImportBatch.status.in_(("draft", "previewed", "finished", "undone")))):
        storage.current().delete(key_of(batch))
        batch.stored_name = ""
        purged += 1
    db.session.flush()
    return purged


def _layout(source: TableSource, sheet: str | None, header_row: int | None) -> Layout:
    sheets = source.sheets()
    if sheet not in sheets:
        sheet = sheets[0] if sheets else None
    top: list[tuple[int, list[Any]]] = []
    for number, cells in import_reading.checked_rows(source, sheet):
        top.append((number, cells))
        if len(top) >= import_mapping.HEADER_SCAN + PREVIEW_ROWS:
            break
    filled = [(n, c) for n, c in top if any(cell_text(v).strip() for v in c)]
    if header_row is None:
        header_row = import_mapping.header_row(filled) if filled else 1
    header = next((c for n, c in top if n == header_row), [])
    data = [c for n, c in filled if n > header_row][:PREVIEW_ROWS]
    width = max([len(header), *(len(c) for c in data)], default=0)
    columns = [cell_text(header[i]).strip() if i < len(header) else "" for i in range(width)]
    samples = [[cell_text(c[i]) if i < len(c) else "" for i in range(width)] for c in data]
    return Layout(sheets, sheet, header_row, columns, samples,
                  [(n, [cell_text(v) for v in c]) for n, c in top[: import_mapping.HEADER_SCAN]])


def upload(actor: Actor, stream: IO[bytes], filename: str) -> ImportBatch:
    """Keep the uploaded file and start a batch with the sheet, header row and mapping guessed.

    Raises :class:`ImportFileError` (nothing kept) for a file that cannot be read, is empty, or has no rows
    under its header.
    """
    require(actor.user, "import", ENTITY)
    require(actor.user, "create", ENTITY)  # an import makes contacts: it needs both rights
    suffix = Path(filename).suffix.lower()
    stored_name = uuid.uuid4().hex + (suffix if re.fullmatch(r"\.[a-z0-9]{1,9}", suffix) else "")
    # checked on a local file, and stored only when it can be read: a refused file leaves nothing behind
    with storage.current().staging(storage.validate_key(f"imports/{stored_name}")) as target:
        with target.open("wb") as fh:
            shutil.copyfileobj(stream, fh, 1024 * 1024)
        fmt, source = open_table(target, filename)
        with source:
            layout = _layout(source, None, None)
            estimated = source.estimated_rows(layout.sheet)
        if not layout.columns:
            raise ImportFileError(_l("The file has no rows."))
        if not layout.samples:
            raise ImportFileError(_l("The file has column names but no rows under them: there is nothing to "
                                     "import."))
        size = target.stat().st_size
    batch = ImportBatch(entity=ENTITY, filename=clean(Path(filename).name, 255) or "import", stored_name=stored_name,
                        size=size, format=fmt.key, sheet=layout.sheet, header_row=layout.header_row,
                        columns=layout.columns, region=default_phone_region(), created_by_id=actor.user_id,
                        estimated_rows=estimated)
    batch.mapping = [s.field for s in import_mapping.suggest(layout.columns, custom_fields.definitions(ENTITY))]
    db.session.add(batch)
    db.session.flush()
    audit.record(actor, "import.uploaded", "import_batch", batch.id, {"file": batch.filename, "format": fmt.key})
    db.session.flush()
    return batch


def layout(batch: ImportBatch, sheet: str | None = None, header_row: int | None = None) -> Layout:
    with _open(batch) as source:
        return _layout(source, sheet if sheet is not None else batch.sheet,
                       header_row if header_row is not None else batch.header_row)


def get(actor: Actor, batch_id: int) -> ImportBatch:
    """A batch its viewer may see: their own, or any for those who may import every contact."""
    batch = db.session.get(ImportBatch, batch_id)
    if batch is None:
        raise LookupError(batch_id)
    require(actor.user, "import", ENTITY)
    if batch.created_by_id != actor.user_id and not (actor.user and actor.user.is_admin):
        raise LookupError(batch_id)
    return batch


def recent(actor: Actor, limit: int = 30) -> list[ImportBatch]:
    require(actor.user, "import", ENTITY)
    query = select(ImportBatch).order_by(ImportBatch.created_at.desc(), ImportBatch.id.desc()).limit(limit)
    if not (actor.user and actor.user.is_admin):
        query = query.where(ImportBatch.created_by_id == actor.user_id)
    return list(db.session.scalars(query))


def configure(actor: Actor, batch: ImportBatch, values: dict[str, Any]) -> ImportBatch:
    """Settle sheet, header row, mapping and options from typed ``values``; raises :class:`InvalidInput`."""
    if batch.status not in ("draft", "previewed"):
        raise InvalidInput({"status": _l("This import has already run.")})
    errors: dict[str, Any] = {}
    sheet = values.get("sheet") or batch.sheet
    try:
        header_row = max(1, int(values.get("header_row") or batch.header_row))
    except (TypeError, ValueError):
        errors["header_row"] = _l("Give the number of the row that holds the column names.")
        header_row = batch.header_row
    seen = layout(batch, sheet, header_row)
    fields = import_mapping.field_labels(custom_fields.definitions(ENTITY))
    mapping: list[str | None] = []
    given = values.get("mapping")
    for index in range(len(seen.columns)):
        chosen = given[index] if isinstance(given, list) and index < len(given) else None
        if chosen in (None, ""):
            chosen = None
        elif chosen not in fields:
            errors[f"mapping.{index}"] = _l("Choose a field from the list.")
            chosen = None
        mapping.append(chosen)
    if given is None:
        mapping = [s.field for s in import_mapping.suggest(seen.columns, custom_fields.definitions(ENTITY))]
    single = [m for m in mapping if m and m not in import_mapping.MULTI]
    for field in {m for m in single if single.count(m) > 1}:
        errors["mapping"] = _l("%(field)s is chosen for two columns: keep one.", field=fields[field])
    if not any(m in ("full_name", "first_name", "last_name", "phone", "email") for m in mapping):
        errors["mapping"] = _l("Map at least one column to a name, a phone or an email.")
    policy = values.get("on_duplicate") or batch.on_duplicate
    if policy not in DUPLICATE_POLICIES:
        errors["on_duplicate"] = _l("Choose what to do with duplicates.")
    region = str(values.get("region") or batch.region or "").upper()
    if len(region) != 2 or not region.isalpha():
        errors["region"] = _l("Give the country of numbers without a code as two letters, such as RU.")
    if errors:
        raise InvalidInput(errors)
    batch.sheet, batch.header_row, batch.columns, batch.mapping = seen.sheet, header_row, seen.columns, mapping
    batch.on_duplicate, batch.region = policy, region
    if "keep_invalid" in values:
        batch.keep_invalid = bool(values["keep_invalid"])
    db.session.flush()
    return batch


def apply_profile(batch: ImportBatch, profile: ImportProfile) -> list[str | None]:
    """The mapping a saved profile gives this file's columns (columns it does not know stay unmapped)."""
    return [profile.fields.get(title_key(title)) for title in batch.columns]


def profiles() -> list[ImportProfile]:
    return list(db.session.scalars(select(ImportProfile).order_by(ImportProfile.name)))


def profile_named(name: str) -> ImportProfile | None:
    return db.session.scalar(select(ImportProfile).where(ImportProfile.name == name))


def save_profile(actor: Actor, batch: ImportBatch, name: str) -> ImportProfile:
    require(actor.user, "import", ENTITY)
    name = clean(name, 120)
    if not name:
        raise InvalidInput({"profile_name": _l("Name the mapping to save it.")})
    profile = profile_named(name) or ImportProfile(name=name, created_by_id=actor.user_id)
    profile.fields = {title_key(t): f for t, f in zip(batch.columns, batch.mapping, strict=False) if title_key(t)}
    db.session.add(profile)
    audit.record(actor, "import.profile_saved", "import_profile", name)
    db.session.flush()
    return profile


def start(actor: Actor, batch: ImportBatch, *, dry_run: bool) -> JobRecord:
    """Queue the batch's run (or dry run) as a job; a stopped run goes on from where it stopped."""
    from core import jobs

    require(actor.user, "import", ENTITY)
    if batch.status in ("queued", "running", "finished", "undone"):
        raise InvalidInput({"status": _l("This import has already run.")})
    if batch.status in ("draft", "previewed"):
        _reset(batch, dry_run)
    batch.status = "queued"
    record = jobs.enqueue(JOB, batch_id=batch.id, created_by_id=actor.user_id)
    batch.job_id = record.id
    db.session.flush()
    return record


def _reset(batch: ImportBatch, dry_run: bool) -> None:
    db.session.execute(delete(ImportRow).where(ImportRow.batch_id == batch.id))
    batch.dry_run = dry_run
    batch.position = 0
    for name in ("rows", "created", "updated", "merged", "skipped", "failed", "flagged"):
        setattr(batch, name, 0)
    batch.error = None


def run_now(actor: Actor, batch: ImportBatch, *, dry_run: bool, progress: Progress | None = None) -> ImportBatch:
    """Run in this process (the command line): the same engine as the job. Like :func:`run` it owns its
    transactions: the reset of a draft is committed first, so a run that stops resumes from a clean batch."""
    require(actor.user, "import", ENTITY)
    if batch.status in ("draft", "previewed"):
        _reset(batch, dry_run)
    db.session.commit()
    return run(batch.id, progress)


def run(batch_id: int, progress: Progress | None = None) -> ImportBatch:
    """Run (or go on with) a batch: chunks of rows, each committed with its outcomes and the new position.

    The one service that commits, on purpose: it is a job over up to millions of rows and owns its transactions.
    Committing each chunk with ``batch.position`` makes the run resumable (a killed worker's retry starts after
    the last committed chunk, never doubling a row), keeps each transaction and its locks small, and lets the
    progress bar and the undo see what is done. ``status = "running"`` is committed first so that a second start
    is refused; a failure is committed as ``failed`` with its reason after the rollback of the broken chunk."""
    from core.models import User

    batch = db.session.get(ImportBatch, batch_id)
    if batch is None or batch.status in ("finished", "previewed", "undone"):
        raise LookupError(batch_id)
    user = db.session.get(User, batch.created_by_id) if batch.created_by_id else None
    actor = Actor(user, via="import", detail=f"batch:{batch.id}")
    require(actor.user, "import", ENTITY)
    batch.status = "running"
    db.session.commit()
    custom = custom_fields.definitions(ENTITY)
    engine = Engine(batch, actor, custom)
    fmt = _format(batch)
    try:
        # S3: the file is copied to a local one for the run (the reader processes open it by path)
        with _local_file(batch) as path:
            plan = ReadPlan(open=fmt.open, path=path, sheet=batch.sheet,
                            start_after=max(batch.position, batch.header_row), mapping=list(batch.mapping),
                            region=batch.region, today=utcnow().date(),
                            custom=[SimpleNamespace(key=f.key, label=f.label, type=f.type,
                                                    choices=list(f.choices or [])) for f in custom], chunk=CHUNK)
            analyse_at = CHUNK
            for chunk in import_reading.chunks(plan, batch.estimated_rows):
                _commit_chunk(engine, chunk, progress)
                if batch.rows >= analyse_at and not batch.dry_run:  # each time the tables have grown fourfold
                    refresh_statistics(GROWING_TABLES)
                    analyse_at *= 4
    except Exception as exc:
        db.session.rollback()
        failed = db.session.get(ImportBatch, batch_id)
        assert failed is not None
        failed.status = "failed"
        failed.error = str(getattr(exc, "message", exc))[:2000]
        db.session.commit()
        raise
    batch.status = "previewed" if batch.dry_run else "finished"
    batch.finished_at = utcnow()
    if not batch.dry_run:  # one event for the batch: its rows emit none (a handler reads the contacts if it must)
        audit.record(actor, "import.finished", "import_batch", batch.id, batch.counts())
        events.emit(ImportFinished(subject_id=batch.id, origin=actor.origin, rows=batch.rows, created=batch.created,
                                   updated=batch.updated, merged=batch.merged, skipped=batch.skipped,
                                   failed=batch.failed, flagged=batch.flagged))
    db.session.commit()
    return batch


def _commit_chunk(engine: Engine, chunk: list[import_reading.Row], progress: Progress | None) -> None:
    engine.apply(chunk)
    db.session.commit()
    if progress is not None:
        progress(engine.batch.rows, engine.batch.estimated_rows)


def undo(actor: Actor, batch: ImportBatch) -> dict[str, int]:
    """Revert a batch: contacts and companies it created are deleted (to the bin, where they can be restored),
    contacts it updated get their earlier values back. Returns how many of each."""
    require(actor.user, "import", ENTITY)
    if batch.dry_run or batch.status not in ("finished", "failed"):
        raise InvalidInput({"status": _l("Only a finished or stopped import can be undone.")})
    restored = 0
    last = 0
    while True:  # updated contacts, a chunk at a time
        rows = list(db.session.execute(
            select(ImportRow.id, ImportRow.record_id, ImportRow.before)
            .where(ImportRow.batch_id == batch.id, ImportRow.action == "update", ImportRow.id > last)
            .order_by(ImportRow.id).limit(CHUNK)))
        if not rows:
            break
        contacts = {c.id: c for c in db.session.scalars(select(Contact).where(
            Contact.id.in_([r.record_id for r in rows])))}
        for row in rows:
            if row.record_id in contacts and row.before:
                restore(contacts[row.record_id], row.before)
                restored += 1
        last = rows[-1].id
        db.session.flush()
    stamp = utcnow()
    removed = db.session.execute(update(Contact).where(Contact.import_batch_id == batch.id,
                                                       Contact.deleted_at.is_(None)).values(deleted_at=stamp)).rowcount
    removed_companies = db.session.execute(
        update(Company).where(Company.import_batch_id == batch.id, Company.deleted_at.is_(None))
        .values(deleted_at=stamp)).rowcount
    batch.status = "undone"
    batch.undone_at = stamp
    result = {"deleted": removed, "restored": restored, "deleted_companies": removed_companies}
    audit.record(actor, "import.undone", "import_batch", batch.id, result)
    events.emit(ImportUndone(subject_id=batch.id, origin=actor.origin, **result))
    db.session.flush()
    return result


def problems(batch: ImportBatch, limit: int | None = None) -> Iterator[ImportRow]:
    """Rows with problems (refused, or imported with a value flagged), in file order, read in pages."""
    last = 0
    given = 0
    while True:
        page = list(db.session.scalars(
            select(ImportRow).where(ImportRow.batch_id == batch.id, ImportRow.problems.is_not(None),
                                    ImportRow.number > last).order_by(ImportRow.number).limit(CHUNK)))
        for row in page:
            if limit is not None and given >= limit:
                return
            yield row
            given += 1
        if len(page) < CHUNK:
            return
        last = page[-1].number
        db.session.expunge_all()


def outcomes(batch: ImportBatch, after: int = 0, limit: int = 100) -> list[ImportRow]:
    """A page of every row's outcome (the preview and the result pages)."""
    return list(db.session.scalars(select(ImportRow).where(ImportRow.batch_id == batch.id, ImportRow.number > after)
                                   .order_by(ImportRow.number).limit(limit)))


def summary(batch: ImportBatch, with_errors: bool = True) -> dict[str, Any]:
    """The JSON summary the command line prints: counts, and each problem with its row number in the file."""
    result: dict[str, Any] = {"batch": batch.id, "status": batch.status, "dry_run": batch.dry_run,
                              **batch.counts()}
    if with_errors:
        result["errors"] = [{"row": row.number, "field": p["field"], "message": message(p),
                             "severity": p["severity"]}
                            for row in problems(batch) for p in (row.problems or [])]
    return result


def error_report(batch: ImportBatch, target: Any) -> int:
    """The error report: every row with a problem as it was in the file, its row number, what happened to it
    and why (XLSX, cells as text so nothing in it runs as a formula). Returns how many rows it holds."""
    from openpyxl import Workbook

    from core.services.transfer.export import neutralise

    actions = {"create": _l("imported"), "update": _l("updated"), "merge": _l("merged"),
               "skip": _l("skipped"), "error": _l("not imported")}
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=str(_l("Problems"))[:31])
    sheet.append([neutralise(v) for v in [str(_l("Row")), *batch.columns, str(_l("Outcome")), str(_l("Problem"))]])
    count = 0
    for row in problems(batch):
        cells = [neutralise(c) for c in (row.cells or [])]
        cells += [""] * (len(batch.columns) - len(cells))
        reasons = "; ".join(message(p) for p in row.problems or [])
        sheet.append([row.number, *cells, neutralise(str(actions.get(row.action, row.action))), neutralise(reasons)])
        count += 1
    book.save(target)
    return count
