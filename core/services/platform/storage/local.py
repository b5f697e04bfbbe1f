"""The embedded default: files in the instance folder (``MAYAK_INSTANCE_PATH``), laid out as before storage
became a setting (``files/ab/<sha256>``, ``imports/<name>``, ``exports/<name>``), so nothing moves on upgrade."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from core.services.platform.storage.base import ObjectMissing, copy_stream, validate_key

TEMP_PREFIX = ".tmp-"  # files being written; never listed as keys


class LocalStorage:
    """Keys are paths under ``root``; writes go to a temporary file beside the target, renamed over it."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def _temp_beside(self, target: Path) -> Path:
        target.parent.mkdir(parents=True, exist_ok=True)
        # the target's extension kept: readers that go by it (openpyxl) may be handed the staged file
        handle, name = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX, suffix=target.suffix[:16])
        os.close(handle)
        return Path(name)

    def write(self, key: str, stream: IO[bytes]) -> int:
        with self.staging(key) as temp, temp.open("wb") as fh:
            return copy_stream(stream, fh)

    @contextlib.contextmanager
    def staging(self, key: str) -> Iterator[Path]:
        target = self.path(key)
        temp = self._temp_beside(target)
        try:
            yield temp
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)

    def open(self, key: str) -> IO[bytes]:
        try:
            return self.path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectMissing(key) from exc

    def size(self, key: str) -> int | None:
        path = self.path(key)
        try:
            return path.stat().st_size if path.is_file() else None
        except OSError:
            return None

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            self.path(key).unlink()

    def keys(self, prefix: str) -> Iterator[tuple[str, int]]:
        """Folder by folder, each sorted: streamed, so a million files are never listed in memory at once."""
        start = self.root / validate_key(prefix, prefix=True)
        for folder, dirs, names in os.walk(start):
            dirs[:] = sorted(d for d in dirs if not d.startswith(TEMP_PREFIX))
            for name in sorted(names):
                if name.startswith(TEMP_PREFIX):
                    continue
                path = Path(folder) / name
                try:
                    size = path.stat().st_size
                except FileNotFoundError:  # deleted while listing
                    continue
                yield path.relative_to(self.root).as_posix(), size

    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        path = self.path(key)
        if not path.is_file():
            raise ObjectMissing(key)
        yield path

    def download_url(self, key: str, *, disposition: str, content_type: str) -> str | None:
        return None

    def describe(self) -> str:
        return str(self.root)
