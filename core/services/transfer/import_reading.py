"""Reading a batch's file into chunks of drafts — in two more processes for big files.

Reading is half an import's work: unpacking XLSX XML (openpyxl), parsing phones (phonenumbers) and emails, all
pure Python, while the other half is the database's. A big file is therefore read by a pipeline of processes: the
first reads the file's rows, the second turns them into drafts, and the import process only matches and writes
them, so the three loads overlap instead of adding up. Small files are read in-process (a child costs a second to
start). At most a few chunks are in flight between them, so memory stays flat whatever the file's size.
"""

from __future__ import annotations

import fcntl
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any, BinaryIO

from core.plugins.types import ImportFileError, TableSource, table_row
from core.services.transfer.import_rows import Draft, RowReader

PARALLEL_FROM_ROWS = 20_000  # files estimated bigger than this are read in a child process
PARALLEL_FROM_BYTES = 400_000  # a workbook without its dimension: about 8,000 rows
AHEAD = 4  # chunks the readers may be ahead of the importer

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


def checked_rows(source: TableSource, sheet: str | None) -> Iterator[tuple[int, list[Any]]]:
    """``source.rows(sheet)``, each row held to the width every import keeps to (:func:`table_row`): a file of
    60,000 columns is refused at its first row instead of being matched column by column for minutes. The setup
    step and the run both read through here, whatever plugin reads the format."""
    for number, cells in source.rows(sheet):
        yield number, table_row(number, cells)


def _cells(plan: ReadPlan) -> Iterator[list[tuple[int, list[Any]]]]:
    """The file's rows after ``plan.start_after``, as read, by chunk."""
    chunk: list[tuple[int, list[Any]]] = []
    with plan.open(plan.path) as source:
        for number, cells in checked_rows(source, plan.sheet):
            if number <= plan.start_after:
                continue
            chunk.append((number, cells))
            if len(chunk) >= plan.chunk:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _drafts(plan: ReadPlan, reader: RowReader, raw: list[tuple[int, list[Any]]]) -> list[Row]:
    return [(number, cells, reader.read(number, cells)) for number, cells in raw]


def _chunks(plan: ReadPlan) -> Iterator[list[Row]]:
    reader = RowReader(plan.mapping, plan.region, plan.today, plan.custom)
    for raw in _cells(plan):
        yield _drafts(plan, reader, raw)


def _send(out: BinaryIO, message: tuple[str, Any]) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(len(data).to_bytes(8, "little"))
    out.write(data)


def _receive(stream: BinaryIO) -> tuple[str, Any] | None:
    head = stream.read(8)
    if len(head) < 8:
        return None
    return pickle.loads(stream.read(int.from_bytes(head, "little")))  # noqa: S301 - our own processes


def _read_cells(plan: ReadPlan, out: BinaryIO) -> None:
    """First process: the file's rows as read (openpyxl's XML, the CSV parser), after the plan for the next."""
    try:
        _send(out, ("plan", plan))
        for raw in _cells(plan):
            _send(out, ("cells", raw))
        _send(out, ("done", None))
    except (BrokenPipeError, KeyboardInterrupt):
        return  # the processes after this one have gone
    except ImportFileError as exc:
        _send(out, ("error", str(exc.message)))
    except Exception as exc:  # the importer re-raises it; the import stops with its position kept
        _send(out, ("error", f"{type(exc).__name__}: {exc}"))
    out.flush()


def _read_drafts(inp: BinaryIO, out: BinaryIO) -> None:
    """Second process: each row read into a draft (names, phones, emails, dates), passed on by chunk."""
    try:
        first = _receive(inp)
        if first is None or first[0] != "plan":
            _send(out, ("error", "the file reader stopped"))
            return
        plan: ReadPlan = first[1]
        reader = RowReader(plan.mapping, plan.region, plan.today, plan.custom)
        while True:
            message = _receive(inp)
            if message is None:
                _send(out, ("error", "the file reader stopped"))
                return
            kind, payload = message
            if kind != "cells":
                _send(out, message)  # done, or the first process's error
                return
            _send(out, ("chunk", _drafts(plan, reader, payload)))
    except (BrokenPipeError, KeyboardInterrupt):
        return
    except Exception as exc:
        _send(out, ("error", f"{type(exc).__name__}: {exc}"))
    finally:
        out.flush()


class _Drain(threading.Thread):
    """Reads and unpickles the readers' messages as they come, up to ``AHEAD`` of them. The readers never wait
    for the importer to finish a chunk, and the unpickling runs while the importer waits for the database (which
    releases the GIL) instead of after it."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__(name="mayak-import-drain", daemon=True)
        self.stream = stream
        self.frames: queue.Queue[tuple[str, Any] | None] = queue.Queue(maxsize=AHEAD)
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.is_set():
                message = _receive(self.stream)
                self._put(message)
                if message is None:
                    return
        except (OSError, ValueError, EOFError, pickle.UnpicklingError):
            self._put(None)

    def _put(self, data: tuple[str, Any] | None) -> None:
        while not self.stopped.is_set():
            try:
                self.frames.put(data, timeout=0.5)
                return
            except queue.Full:
                continue


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
    # fresh interpreters rather than multiprocessing: the importing process may be a web server's thread or an RQ
    # work horse, whose __main__ must not be re-imported. Two of them, piped into each other: one reads the file,
    # the other reads its rows, and the importer only writes.
    command = [sys.executable, "-m", __name__]
    first = subprocess.Popen([*command, "cells"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert first.stdin is not None and first.stdout is not None
    second = subprocess.Popen([*command, "drafts"], stdin=first.stdout, stdout=subprocess.PIPE)
    assert second.stdout is not None
    first.stdout.close()  # the second process holds it now; a dead second process then stops the first
    for stream in (first.stdin, second.stdout):
        _widen(stream.fileno())
    drain = _Drain(second.stdout)
    try:
        pickle.dump(plan, first.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        first.stdin.close()
        drain.start()
        while True:
            message = drain.frames.get()
            if message is None:
                raise ImportFileError(f"the file reader stopped (exit codes {first.poll()}, {second.poll()})")
            kind, payload = message
            if kind == "done":
                return
            if kind == "error":
                raise ImportFileError(payload)
            yield payload
    finally:
        drain.stopped.set()
        for child in (first, second):
            if child.poll() is None:
                child.kill()
            child.wait()
        if drain.is_alive():
            drain.join(timeout=5)
        second.stdout.close()


if __name__ == "__main__":
    if sys.argv[1] == "cells":
        _read_cells(pickle.load(sys.stdin.buffer), sys.stdout.buffer)  # noqa: S301 - sent by the importer
    else:
        _read_drafts(sys.stdin.buffer, sys.stdout.buffer)
