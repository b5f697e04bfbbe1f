"""One archive holding a consistent copy of an installation: its database and every stored file (``mayak backup``),
and putting such an archive back into an installation (``mayak restore``).

The archive is a plain tar (gzip when its name ends in ``.gz``)::

    database/mayak.db           SQLite: a copy made with SQLite's online backup API
    database/mayak.pgdump       PostgreSQL: ``pg_dump --format=custom`` under one exported snapshot
    storage/files/ab/<sha256>   every object of the storage, under its key (also imports/ and exports/)
    manifest.json               written last: versions, revisions, kinds, counts, and size and SHA-256 of each member

Consistency: the database is copied first, in one snapshot, then the files. Attachments are stored under their
SHA-256 before the row naming them is committed and are never rewritten, so every file a row of the snapshot names
is already in the storage when the files are copied; files added after the snapshot may come along, unused.

Everything is streamed: members are hashed while they pass into the archive and while they are read back, never
held whole in memory. Nothing secret goes in (the secret key, the settings keys and the environment stay out).

The migration logic lives above the services: callers pass the applied revisions in and run ``mayak db upgrade``'s
steps after a restore of an older archive.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection, make_url

from core.services.platform.storage.base import AREAS, CHUNK, ObjectMissing, Storage, validate_key

FORMAT = "mayak-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/mayak.db"
POSTGRES_MEMBER = "database/mayak.pgdump"
STORAGE_PREFIX = "storage/"

# Rows a database holds before anyone has used it: what `mayak db upgrade` seeds (roles, the first pipeline) and
# the state running processes keep (heartbeats, leases, schedule slots, cache tokens, throttles). A database with
# rows elsewhere holds an installation's data, which a restore replaces only with --force.
NOT_DATA = frozenset({"role", "role_grant", "pipeline", "stage", "process_beat", "lease", "schedule_state",
                      "cache_generation", "throttle_counter"})

Progress = Callable[[str], None]


class BackupError(Exception):
    """A backup or restore that cannot go on, with one line saying why and what to do."""


class ArchiveError(BackupError):
    """The archive is not a Mayak backup, or is damaged."""


# --- streams ----------------------------------------------------------------------------------------------------


class _Hashing:
    """A stream that hashes and counts what is read through it; ``expected``: the size it must have, so a source
    that ends early is an error rather than a short member."""

    def __init__(self, stream: IO[bytes], name: str, expected: int | None = None) -> None:
        self.stream = stream
        self.name = name
        self.expected = expected
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, amount: int = -1) -> bytes:
        data = self.stream.read(amount)
        if not data and self.expected is not None and self.size < self.expected:
            raise BackupError(f"{self.name} ended after {self.size} of {self.expected} bytes (changed while it was "
                              "copied?); run the backup again")
        self.digest.update(data)
        self.size += len(data)
        return data


def _tar_info(name: str, size: int, mtime: float) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.type = size, int(mtime), 0o600, tarfile.REGTYPE
    return info


def _write_member(tar: tarfile.TarFile, name: str, stream: IO[bytes], size: int, mtime: float) -> dict[str, Any]:
    hashing = _Hashing(stream, name, size)
    tar.addfile(_tar_info(name, size, mtime), hashing)  # type: ignore[arg-type]
    return {"size": size, "sha256": hashing.digest.hexdigest()}


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _first_line(text_: str) -> str:
    lines = [line.strip() for line in (text_ or "").splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


# --- the database -----------------------------------------------------------------------------------------------


def database_kind(database_url: str) -> str:
    return "sqlite" if make_url(database_url).get_backend_name() == "sqlite" else "postgresql"


def sqlite_path(database_url: str) -> Path:
    name = make_url(database_url).database
    if not name or name == ":memory:":
        raise BackupError("MAYAK_DATABASE_URL names an in-memory SQLite database: there is nothing to back up")
    return Path(name)


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string for pg_dump/pg_restore without the password, which goes in ``PGPASSWORD``
    (never on a command line other users' ``ps`` can read)."""
    url = make_url(database_url)
    parts = {"host": url.host, "port": str(url.port) if url.port else None, "user": url.username,
             "dbname": url.database, **{k: str(v) for k, v in url.query.items()}}

    def quoted(value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    conninfo = " ".join(f"{key}={quoted(value)}" for key, value in parts.items() if value)
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return conninfo, env


def postgres_tool(name: str) -> str:
    """The path of ``pg_dump`` or ``pg_restore``, or a :class:`BackupError` saying to install it."""
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed or not on PATH: install PostgreSQL's client programs "
                          "(postgresql-client, the server's major version or newer) to back up or restore PostgreSQL")
    return found


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _postgres_tables(conn: Connection) -> list[str]:
    return list(conn.execute(text(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
        "AND table_type = 'BASE TABLE' ORDER BY table_name")).scalars())


def _count_rows(conn: Connection, tables: list[str]) -> dict[str, int]:
    # the names come from the database's own catalogue, quoted
    return {name: int(conn.execute(text(f"SELECT count(*) FROM {_quote(name)}")).scalar_one())  # noqa: S608
            for name in tables}


def _sqlite_counts(path: Path) -> dict[str, int]:
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [row[0] for row in source.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {name: int(source.execute(f"SELECT count(*) FROM {_quote(name)}").fetchone()[0])  # noqa: S608
                for name in names}
    finally:
        source.close()


@contextlib.contextmanager
def _database_copy(database_url: str, folder: Path) -> Iterator[tuple[Path, str, dict[str, int]]]:
    """A file holding one consistent copy of the database, its member name, and the rows per table it holds."""
    if database_kind(database_url) == "sqlite":
        source_path = sqlite_path(database_url)
        if not source_path.is_file():
            raise BackupError(f"the SQLite database {source_path} does not exist: check MAYAK_DATABASE_URL")
        copy = folder / "mayak.db"
        source = sqlite3.connect(source_path, timeout=30)
        target = sqlite3.connect(copy)
        try:
            # one step (pages=-1): the copy is read under one read transaction, so it is one moment of the database
            # while the app goes on writing (WAL: writers are not held up)
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            target.close()
            source.close()
        yield copy, SQLITE_MEMBER, _sqlite_counts(copy)
        return
    pg_dump = postgres_tool("pg_dump")
    conninfo, env = _libpq(database_url)
    dump = folder / "mayak.pgdump"
    engine = create_engine(database_url, isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as conn:
            # one snapshot for the counts and the dump: pg_dump joins the transaction's exported snapshot
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            counts = _count_rows(conn, _postgres_tables(conn))
            done = subprocess.run([pg_dump, "--format=custom", f"--snapshot={snapshot}", "--no-password",
                                   f"--file={dump}", f"--dbname={conninfo}"],
                                  env=env, capture_output=True, text=True, check=False)
            conn.rollback()
    finally:
        engine.dispose()
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {_first_line(done.stderr)}")
    yield dump, POSTGRES_MEMBER, counts


# --- backup -----------------------------------------------------------------------------------------------------


@dataclass
class BackupReport:
    path: Path
    manifest: dict[str, Any]
    skipped: list[str] = field(default_factory=list)  # objects listed but gone before they were copied

    @property
    def rows(self) -> int:
        return sum(self.manifest["database"]["rows"].values())

    @property
    def files(self) -> int:
        return sum(area["count"] for area in self.manifest["storage"]["areas"].values())

    @property
    def file_bytes(self) -> int:
        return sum(area["bytes"] for area in self.manifest["storage"]["areas"].values())


def archive_mode(path: Path, writing: bool) -> str:
    if path.name.endswith((".tar.gz", ".tgz")):
        return "w:gz" if writing else "r:gz"
    if path.name.endswith(".tar"):
        return "w" if writing else "r:*"
    raise BackupError(f"{path.name}: name the archive FILE.tar or FILE.tar.gz (or give a folder)")


def archive_path(given: Path, now: datetime | None = None) -> Path:
    """Where the archive goes: ``given``, or ``mayak-backup-<UTC time>.tar`` inside it when it is a folder."""
    if given.is_dir() or str(given).endswith(os.sep):
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
        return given / f"mayak-backup-{stamp}.tar"
    archive_mode(given, writing=True)
    return given


def create(target: Path, *, database_url: str, store: Storage, revisions: dict[str, str | None], version: str,
           progress: Progress | None = None) -> BackupReport:
    """Write the archive ``target`` (a ``.tar`` or ``.tar.gz``, made under a temporary name and renamed when
    complete, readable by its owner only): the database first, then every object of ``store``, then the manifest.
    ``revisions``: the applied migration revision of each unit (``mayak db current``)."""
    say = progress or (lambda _line: None)
    mode = archive_mode(target, writing=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC)
    members: dict[str, dict[str, Any]] = {}
    areas = {area: {"count": 0, "bytes": 0} for area in AREAS}
    skipped: list[str] = []
    handle, partial_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    os.close(handle)
    partial = Path(partial_name)
    os.chmod(partial, 0o600)
    try:
        with tarfile.open(partial, mode, format=tarfile.PAX_FORMAT) as tar, \
                tempfile.TemporaryDirectory(prefix="mayak-backup-") as work:
            with _database_copy(database_url, Path(work)) as (copy, member, counts):
                with copy.open("rb") as fh:
                    members[member] = _write_member(tar, member, fh, copy.stat().st_size, created.timestamp())
                say(f"database: {sum(counts.values())} rows in {len(counts)} tables")
            for area in AREAS:
                for key, size in store.keys(area):
                    try:
                        body = store.open(key)
                    except ObjectMissing:  # deleted since it was listed (an import file purged): not needed
                        skipped.append(key)
                        continue
                    with body:
                        members[STORAGE_PREFIX + key] = _write_member(tar, STORAGE_PREFIX + key, body, size,
                                                                      time.time())
                    areas[area]["count"] += 1
                    areas[area]["bytes"] += size
                    if sum(a["count"] for a in areas.values()) % 500 == 0:
                        say(f"... {sum(a['count'] for a in areas.values())} files")
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "mayak_version": version,
                "created_at": created.isoformat(timespec="seconds").replace("+00:00", "Z"),
                "revisions": revisions,
                "database": {"kind": database_kind(database_url), "member": member, "rows": counts},
                "storage": {"kind": store.name, "areas": areas},
                "members": members,
            }
            body_bytes = json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True).encode()
            tar.addfile(_tar_info(MANIFEST, len(body_bytes), created.timestamp()), _Bytes(body_bytes))  # type: ignore[arg-type]
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupReport(target, manifest, skipped)


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def read(self, amount: int = -1) -> bytes:
        end = len(self.data) if amount < 0 else self.at + amount
        chunk, self.at = self.data[self.at:end], min(end, len(self.data))
        return chunk


# --- reading an archive -----------------------------------------------------------------------------------------


_UNREADABLE = (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error)


@contextlib.contextmanager
def _open_archive(path: Path) -> Iterator[tarfile.TarFile]:
    """The archive for reading; a file that is not a tar (or gzip'd tar), or ends early, is an
    :class:`ArchiveError` (while opening it or while reading on)."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    try:
        tar = tarfile.open(path, "r:*")  # noqa: SIM115 - closed below, after the errors of opening are told apart
    except (*_UNREADABLE, OSError) as exc:
        raise ArchiveError(f"{path.name} is not a Mayak backup: not a tar archive") from exc
    try:
        with tar:
            yield tar
    except _UNREADABLE as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ArchiveError(f"{path.name} is damaged or cut short ({reason})") from exc


def read_manifest(path: Path) -> dict[str, Any]:
    """The archive's manifest, checked to be a Mayak backup's; :class:`ArchiveError` otherwise."""
    with _open_archive(path) as tar:
        try:
            info = tar.getmember(MANIFEST)
        except KeyError:
            raise ArchiveError(f"{path.name} is not a Mayak backup: it holds no {MANIFEST} (or is cut short)") from None
        stream = tar.extractfile(info)
        if stream is None or info.size > 256 * 1024 * 1024:
            raise ArchiveError(f"{path.name} is not a Mayak backup: its {MANIFEST} is not a plain file")
        try:
            manifest = json.loads(stream.read())
        except (ValueError, UnicodeDecodeError):
            raise ArchiveError(f"{path.name} is damaged: its {MANIFEST} is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError(f"{path.name} is not a Mayak backup: its {MANIFEST} is another program's")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArchiveError(f"{path.name} is a Mayak backup of format {manifest.get('format_version')}, this Mayak "
                           f"reads format {FORMAT_VERSION}: restore it with the Mayak version that made it")
    try:
        members, database = manifest["members"], manifest["database"]
        assert isinstance(members, dict) and database["member"] in members and database["kind"] in (
            "sqlite", "postgresql") and isinstance(database["rows"], dict) and isinstance(manifest["revisions"], dict)
        for name, entry in members.items():
            assert isinstance(entry["size"], int) and len(entry["sha256"]) == 64
            if name.startswith(STORAGE_PREFIX):
                validate_key(name[len(STORAGE_PREFIX):])
            else:
                assert name == database["member"]
    except (AssertionError, KeyError, TypeError, ValueError):
        raise ArchiveError(f"{path.name} is damaged: its {MANIFEST} does not describe a Mayak backup") from None
    return manifest


def verify(path: Path, manifest: dict[str, Any], progress: Progress | None = None) -> None:
    """Read every member and check its size and SHA-256 against the manifest; a member missing, added, repeated
    or changed is an :class:`ArchiveError` naming it. Nothing is written."""
    expected: dict[str, dict[str, Any]] = manifest["members"]
    seen: set[str] = set()
    with _open_archive(path) as tar:
        for info in tar:
            if info.name == MANIFEST:
                continue
            entry = expected.get(info.name)
            if entry is None or not info.isreg():
                raise ArchiveError(f"{path.name} is damaged: it holds {info.name}, which its manifest does not list")
            if info.name in seen:
                raise ArchiveError(f"{path.name} is damaged: it holds {info.name} twice")
            seen.add(info.name)
            stream = tar.extractfile(info)
            assert stream is not None
            hashing = _Hashing(stream, info.name)
            while hashing.read(CHUNK):
                pass
            if hashing.size != entry["size"] or hashing.digest.hexdigest() != entry["sha256"]:
                raise ArchiveError(f"{path.name} is damaged: {info.name} does not match the SHA-256 in its manifest")
            if progress and len(seen) % 500 == 0:
                progress(f"... {len(seen)} members checked")
    missing = sorted(set(expected) - seen)
    if missing:
        raise ArchiveError(f"{path.name} is damaged or cut short: {len(missing)} member(s) its manifest lists are "
                           f"missing, {missing[0]} first")


# --- the target -------------------------------------------------------------------------------------------------


def current_rows(conn: Connection) -> dict[str, int]:
    """Rows per table of the database ``conn`` reaches (migration version tables left out)."""
    names = [n for n in inspect(conn).get_table_names() if not n.startswith("alembic_version")]
    return _count_rows(conn, sorted(names))


def data_rows(rows: dict[str, int]) -> dict[str, int]:
    """The tables holding an installation's data: rows outside :data:`NOT_DATA`."""
    return {name: count for name, count in rows.items() if count and name not in NOT_DATA}


# --- restore ----------------------------------------------------------------------------------------------------


@dataclass
class RestoreReport:
    tables: int = 0
    rows: int = 0
    files: int = 0
    file_bytes: int = 0


def _check_sqlite_file(path: Path, rows: dict[str, int]) -> None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise ArchiveError(f"the database in the archive does not open ({exc})") from exc
    if result != "ok":
        raise ArchiveError(f"the database in the archive fails SQLite's check ({result})")
    _compare_rows(_sqlite_counts(path), rows)


def _compare_rows(found: dict[str, int], expected: dict[str, int]) -> None:
    for name, count in sorted(expected.items()):
        if found.get(name) != count:
            raise BackupError(f"the restored table {name} holds {found.get(name, 'no')} rows, the archive "
                              f"{count}")


def _restore_sqlite(dump: Path, database_url: str, rows: dict[str, int], dispose: Callable[[], None]) -> None:
    target = sqlite_path(database_url)
    _check_sqlite_file(dump, rows)
    dispose()  # this process's connections to the old file are closed before it is replaced
    for suffix in ("-wal", "-shm", "-journal"):  # the old file's log must not be replayed into the new one
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(dump, target)


def _restore_postgres(dump: Path, database_url: str, rows: dict[str, int], dispose: Callable[[], None]) -> None:
    pg_restore = postgres_tool("pg_restore")
    conninfo, env = _libpq(database_url)
    dispose()
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            # tables the archive does not know (a newer migration's, a plugin's) would stay and break the upgrade
            # that follows: they go; the archive's own tables are replaced by pg_restore --clean
            for name in _postgres_tables(conn):
                if name not in rows:
                    conn.execute(text(f"DROP TABLE IF EXISTS {_quote(name)} CASCADE"))
        done = subprocess.run([pg_restore, "--clean", "--if-exists", "--no-owner", "--no-acl", "--single-transaction",
                               "--exit-on-error", "--no-password", f"--dbname={conninfo}", str(dump)],
                              env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed (nothing of it was kept; run the restore again once fixed): "
                              f"{_first_line(done.stderr)}")
        with engine.connect() as conn:
            _compare_rows(_count_rows(conn, sorted(rows)), rows)
    finally:
        engine.dispose()


def restore(path: Path, manifest: dict[str, Any], *, database_url: str, store: Storage,
            dispose: Callable[[], None], progress: Progress | None = None) -> RestoreReport:
    """Put a verified archive back: the files into ``store`` first (a file the database names must be there
    before it is), then the database, replaced whole: SQLite by renaming a checked copy over the file, PostgreSQL
    with ``pg_restore --clean`` in one transaction. ``dispose`` closes the app's connections to the database.
    Call :func:`read_manifest` and :func:`verify` first; the caller decides whether the target may be replaced."""
    say = progress or (lambda _line: None)
    kind = manifest["database"]["kind"]
    if kind != database_kind(database_url):
        raise BackupError(f"the archive holds a {kind} database and MAYAK_DATABASE_URL names a "
                          f"{database_kind(database_url)} one: restore it into {kind} (then move the data if needed)")
    if kind == "postgresql":
        postgres_tool("pg_restore")  # said before anything is written
    rows: dict[str, int] = manifest["database"]["rows"]
    report = RestoreReport(tables=len(rows), rows=sum(rows.values()))
    if kind == "sqlite":
        folder = sqlite_path(database_url).parent
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = None
    with tempfile.TemporaryDirectory(prefix=".mayak-restore-", dir=folder) as work, _open_archive(path) as tar:
        dump: Path | None = None
        for info in tar:
            if info.name == MANIFEST:
                continue
            stream = tar.extractfile(info)
            assert stream is not None
            if info.name == manifest["database"]["member"]:
                dump = Path(work) / Path(info.name).name
                with dump.open("wb") as fh:
                    shutil.copyfileobj(stream, fh, CHUNK)
                continue
            key = info.name[len(STORAGE_PREFIX):]
            # a content-addressed file already there with its size is the same file; anything else is written
            if not (key.startswith("files/") and store.size(key) == info.size):
                store.write(key, stream)
            report.files += 1
            report.file_bytes += info.size
            if report.files % 500 == 0:
                say(f"... {report.files} files")
        assert dump is not None
        say(f"files: {report.files} into {store.describe()}")
        if kind == "sqlite":
            _restore_sqlite(dump, database_url, rows, dispose)
        else:
            _restore_postgres(dump, database_url, rows, dispose)
    return report
