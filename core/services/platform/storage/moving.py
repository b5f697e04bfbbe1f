"""Copying every stored file from one backend to another (``mayak files move``).

Each object is streamed across (never whole in memory), written atomically, then checked: the size on the target,
and for ``files/`` the SHA-256 of the bytes copied against the name they are kept under. What the target already
holds with the same size is skipped, so a move that stopped is run again to finish. The source is left as it was
unless asked to delete it, and then only object by object after that object's check passed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from core.services.platform.storage.base import AREAS, CHUNK, Storage


@dataclass
class MoveReport:
    copied: int = 0
    copied_bytes: int = 0
    skipped: int = 0  # already on the target with the same size
    deleted: int = 0  # removed from the source after their check
    failed: list[tuple[str, str]] = field(default_factory=list)  # key, why


class _Hashing:
    """A stream that hashes what is read through it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()

    def read(self, amount: int = -1) -> bytes:
        data = self.stream.read(amount)
        self.digest.update(data)
        return data


def _expected_sha(key: str) -> str | None:
    """The SHA-256 a content-addressed key names (``files/ab/<sha>``), else ``None``."""
    parts = key.split("/")
    return parts[2] if len(parts) == 3 and parts[0] == "files" and len(parts[2]) == 64 else None


def _sha_of(store: Storage, key: str) -> str:
    digest = hashlib.sha256()
    with store.open(key) as body:
        while chunk := body.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy(source: Storage, target: Storage, key: str, size: int) -> str | None:
    """Copy one object; the reason it failed its check, or ``None``."""
    with source.open(key) as body:
        hashing = _Hashing(body)
        written = target.write(key, hashing)  # type: ignore[arg-type]
    expected = _expected_sha(key)
    if expected is not None and hashing.digest.hexdigest() != expected:
        target.delete(key)
        return "its content does not match its SHA-256 name (the source copy is damaged)"
    stored = target.size(key)
    if written != size or stored != size:
        return f"{size} bytes in the source, {stored} on the target"
    return None


def move(source: Storage, target: Storage, *, delete_source: bool = False,
         progress: Callable[[str, str], None] | None = None) -> MoveReport:
    """Copy every object of :data:`AREAS` from ``source`` to ``target``. ``progress(key, outcome)`` is told of each
    (``copied``, ``skipped``, ``failed``)."""
    report = MoveReport()
    for area in AREAS:
        for key, size in source.keys(area):
            try:
                if target.size(key) == size:
                    reason = None
                    if delete_source and (expected := _expected_sha(key)) and _sha_of(target, key) != expected:
                        reason = "the copy already on the target does not match its SHA-256 name"
                    outcome = "skipped"
                else:
                    reason = _copy(source, target, key, size)
                    outcome = "copied"
            except Exception as exc:  # one object's failure is reported; the others are still moved
                reason = f"{type(exc).__name__}: {exc}"
            if reason is not None:
                report.failed.append((key, reason))
                outcome = "failed"
            elif outcome == "copied":
                report.copied += 1
                report.copied_bytes += size
            else:
                report.skipped += 1
            if reason is None and delete_source:
                source.delete(key)
                report.deleted += 1
            if progress is not None:
                progress(key, outcome)
    return report
