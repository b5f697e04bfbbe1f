"""Reading a batch's file into chunks of drafts — in a second process for big files.

Reading is half an import's work: unpacking XLSX XML (openpyxl), parsing phones (phonenumbers) and emails, all
pure Python, while the other half is the database's. A big file is therefore read in a child process that hands
over chunks of ready drafts through a pipe, and the import process only matches and writes them: on two
cores the two halves overlap instead of adding up. Small files are read in-process (a child costs a second to
start). The pipe between them holds little, so memory stays flat whatever the file's size.
"""

from __future__ import annotations

import fcntl
import pickle
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any, BinaryIO

from core.plugins.types import ImportFileError, TableSource
from core.services.import_rows import Draft, RowReader

PARALLEL_FROM_ROWS = 20_000  # files estimated bigger than this are read in a child process
PARALLEL_FROM_BYTES = 400_000  # a workbook without its dimension: about 8,000 rows

Row = tuple[int, list[Any], Draft | None]


@dataclass(frozen=True)
class ReadPlan:
    """Everything the reader needs, picklable: no app, no database."""

    open: Callable[[Path], TableSource]
    path: Path
    sheet: str | None
    start_after: int
    mapping: list[str | None]
    region: str
    today: date
    custom: list[SimpleNamespace]  # key, label, type, choices of the contact custom fields
    chunk: int


def _chunks(plan: ReadPlan) -> Iterator[list[Row]]:
    reader = RowReader(plan.mapping, plan.region, plan.today, plan.custom)
    chunk: list[Row] = []
    with plan.open(plan.path) as source:
        for number, cells in source.rows(plan.sheet):
            if number <= plan.start_after:
                continue
            chunk.append((number, cells, reader.read(number, cells)))
            if len(chunk) >= plan.chunk:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _produce(plan: ReadPlan, out: BinaryIO) -> None:
    """The child: pickled ``("chunk", rows)`` messages, then ``("done", None)``, or ``("error", text)``."""
    try:
        for chunk in _chunks(plan):
            pickle.dump(("chunk", chunk), out, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump(("done", None), out)
    except (BrokenPipeError, KeyboardInterrupt):
        return  # the importing process has gone
    except ImportFileError as exc:
        pickle.dump(("error", str(exc.message)), out)
    except Exception as exc:  # the parent re-raises it; the import stops with its position kept
        pickle.dump(("error", f"{type(exc).__name__}: {exc}"), out)
    out.flush()


def _big(plan: ReadPlan, estimated_rows: int | None) -> bool:
    if estimated_rows is None:  # a workbook without its dimension: judge by its size
        return plan.path.stat().st_size > PARALLEL_FROM_BYTES
    return estimated_rows - plan.start_after >= PARALLEL_FROM_ROWS


def _widen(fd: int) -> None:
    """Let the pipe hold a chunk or two (Linux allows up to 1 MiB by default), so the reader can go on with the
    next chunk while the importer writes the last one, instead of waiting for it to be read."""
    try:
        limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, limit)
    except (OSError, ValueError, AttributeError):
        pass  # another system: a smaller pipe only means less overlap


def chunks(plan: ReadPlan, estimated_rows: int | None) -> Iterator[list[Row]]:
    """The file's data rows after ``plan.start_after`` with their drafts (``None`` for blank rows), by chunk."""
    if not _big(plan, estimated_rows):
        yield from _chunks(plan)
        return
    # a fresh interpreter rather than multiprocessing: the importing process may be a web server's thread or an
    # RQ work horse, whose __main__ must not be re-imported, and a pipe's back-pressure bounds what is in flight
    child = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdin is not None and child.stdout is not None
    _widen(child.stdout.fileno())
    try:
        pickle.dump(plan, child.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        child.stdin.close()
        while True:
            try:
                kind, payload = pickle.load(child.stdout)  # noqa: S301 - our own child process, over a pipe
            except EOFError:
                raise ImportFileError(f"the file reader stopped (exit code {child.wait()})") from None
            if kind == "done":
                return
            if kind == "error":
                raise ImportFileError(payload)
            yield payload
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        child.stdout.close()


if __name__ == "__main__":
    _produce(pickle.load(sys.stdin.buffer), sys.stdout.buffer)  # noqa: S301 - sent by the importing process
