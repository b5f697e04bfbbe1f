"""What every storage backend offers, and the one place keys are checked.

A key names one stored file: ``files/ab/<sha256>`` (attachments, recordings), ``imports/<stored name>`` (uploaded
import files), ``exports/<name>`` (exports written by a job). Its first part is one of :data:`AREAS`, so the local
backend, whose root is the whole instance folder, can never be asked for ``mayak.db`` or ``secret_key``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

AREAS = ("files", "imports", "exports")
KEY_LIMIT = 512
CHUNK = 256 * 1024


class ObjectMissing(LookupError):
    """The backend holds nothing under the key (a file lost, deleted by hand, or not moved yet)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def validate_key(key: str, *, prefix: bool = False) -> str:
    """``key`` when it is a plain relative name inside one of the :data:`AREAS`, else ``ValueError``: no
    absolute path, no empty, ``.`` or ``..`` part, no backslash, no control character. ``prefix``: a folder to
    list (``files/``, ``imports``), where the trailing slash and the area alone are allowed."""
    if not isinstance(key, str) or not key or len(key) > KEY_LIMIT:
        raise ValueError(f"not a storage key: {key!r}")
    text = key.rstrip("/") if prefix else key
    if text.startswith("/") or "\\" in text or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ValueError(f"not a storage key: {key!r}")
    parts = text.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"not a storage key: {key!r}")
    if parts[0] not in AREAS or (len(parts) < 2 and not prefix):
        raise ValueError(f"a storage key starts with one of {', '.join(AREAS)}: {key!r}")
    return text


@runtime_checkable
class Storage(Protocol):
    """Where the files of an installation are kept. Every method takes a key checked by :func:`validate_key`."""

    name: str  # "local" or "s3": what MAYAK_STORAGE names

    def write(self, key: str, stream: IO[bytes]) -> int:
        """Store what ``stream`` holds under ``key``, replacing what was there; readers see either the old file or
        the whole new one, never a part. Returns the size written."""
        ...

    def staging(self, key: str) -> AbstractContextManager[Path]:
        """A local file for writers that need a path (spreadsheets, uploads to check): stored under ``key`` when
        the block ends without an error, discarded when it raises."""
        ...

    def open(self, key: str) -> IO[bytes]:
        """The file for reading, as a stream (close it); :class:`ObjectMissing` when there is none."""
        ...

    def size(self, key: str) -> int | None:
        """The file's size in bytes, or ``None`` when there is none."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the file; nothing happens when there is none."""
        ...

    def keys(self, prefix: str) -> Iterator[tuple[str, int]]:
        """Every stored key under ``prefix`` (``files/``) with its size, streamed (S3: in key order; local: folder
        by folder)."""
        ...

    def local_path(self, key: str) -> AbstractContextManager[Path]:
        """A local file holding the object, for readers that need a path (import plugins, a reader process): the
        file itself on local disk, a temporary copy from S3 removed when the block ends."""
        ...

    def download_url(self, key: str, *, disposition: str, content_type: str) -> str | None:
        """A short-lived URL the browser may fetch the file from directly, or ``None`` (local disk)."""
        ...

    def describe(self) -> str:
        """Where the files are, for messages: a folder or ``s3://bucket/prefix``."""
        ...


def copy_stream(source: IO[bytes], target: IO[bytes]) -> int:
    size = 0
    while chunk := source.read(CHUNK):
        target.write(chunk)
        size += len(chunk)
    return size
