"""``mayak backup`` and ``mayak restore`` (issue 14): one archive holding the database and every stored file, put
back into a fresh installation on either database, into local disk or S3; a damaged or foreign archive and a
database holding data are refused before anything changes; a backup taken while writes go on restores whole."""

from __future__ import annotations

import io
import json
import tarfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, inspect, select

from core import migrate
from core.db import db, unit_of_work
from core.models import Attachment, ImportBatch, User
from core.services.clients import contacts, files
from core.services.platform import backup
from core.services.platform.context import Actor
from core.services.platform.storage import LocalStorage, Storage
from core.services.transfer import imports
from core.testing import services
from core.testing.fixtures import create_user, sign_in, wait_for_jobs
from tests.import_samples import write

if TYPE_CHECKING:
    from tests.storage_support import S3Server

pytest_plugins = ["tests.storage_support"]  # the s3_server fixture

SECRET = "test-secret-key-0123456789abcdef"  # the test apps' MAYAK_SECRET_KEY


@pytest.fixture
def target_url(database_url, tmp_path):
    """A new, empty database of the same kind as the test's: where an archive is restored."""
    if database_url.startswith("sqlite"):
        folder = tmp_path / "target-db"
        folder.mkdir()
        yield f"sqlite:///{folder / 'mayak.db'}"
        return
    url = services.create_postgres_database("mayak_restore")
    yield url
    services.drop_postgres_database(url)


def _fill(app, tmp_path, n: int = 3) -> int:
    """An installation with an admin, contacts, an attachment and an uploaded import file; the admin's id."""
    admin = create_user(app, "owner@example.com", is_admin=True)
    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, admin.id))
        for number in range(n):
            contact = contacts.save(actor, None, {"first_name": f"Резервов {number}"})
        files.store(actor, stream=io.BytesIO(b"%PDF-1.4 the contract" * 100), filename="договор.pdf",
                    contact=contact)
        with write(tmp_path / "клиенты.csv").open("rb") as fh:
            imports.upload(actor, fh, "клиенты.csv")
    wait_for_jobs(app)  # the events' deliveries are written before the backup, not during it
    return admin.id


def _rows(app) -> dict[str, int]:
    with app.app_context(), db.engine.connect() as conn:
        return backup.current_rows(conn)


def _files(store: Storage) -> dict[str, bytes]:
    found = {}
    for area in ("files", "imports", "exports"):
        for key, _size in store.keys(area):
            with store.open(key) as body:
                found[key] = body.read()
    return found


def _run(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def _tables(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return inspect(conn).get_table_names()
    finally:
        engine.dispose()


def test_backup_and_restore_into_a_fresh_installation(make_app, target_url, tmp_path):
    source = make_app()
    admin_id = _fill(source, tmp_path)
    archive = tmp_path / "out" / "mayak.tar"
    made = _run(source, "backup", str(archive))
    assert made.exit_code == 0, made.output
    assert "wrote" in made.output and "2 files" in made.output, made.output
    assert _run(source, "backup", str(archive)).exit_code == 1, "an existing archive is not overwritten unasked"

    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert names[-1] == "manifest.json" and archive.stat().st_mode & 0o077 == 0, "readable by its owner only"
    kind = "sqlite" if target_url.startswith("sqlite") else "postgresql"
    assert manifest["database"]["kind"] == kind and manifest["storage"]["kind"] == "local"
    with source.app_context():
        assert manifest["revisions"] == migrate.current_revisions()
    assert manifest["database"]["rows"]["contact"] == 3 and manifest["storage"]["areas"]["files"]["count"] == 1
    assert set(manifest["members"]) == set(names) - {"manifest.json"}
    assert not any("secret_key" in n or "settings_key" in n for n in names)
    assert SECRET.encode() not in archive.read_bytes(), "the secret key never goes into the archive"

    target = make_app(MAYAK_DATABASE_URL=target_url, MAYAK_INSTANCE_PATH=str(tmp_path / "target"))
    restored = _run(target, "restore", str(archive))
    assert restored.exit_code == 0, restored.output
    assert "all intact" in restored.output and "restored" in restored.output and "2 files" in restored.output
    assert _rows(target) == _rows(source) == {name: count for name, count in manifest["database"]["rows"].items()
                                               if not name.startswith("alembic_version")}
    assert _files(LocalStorage(tmp_path / "target")) == _files(LocalStorage(Path(source.instance_path)))
    with target.app_context():
        heads = migrate.current_revisions()
        attachment_id = db.session.scalar(select(Attachment.id))
        stored_name = db.session.scalar(select(ImportBatch.stored_name))
    assert heads == manifest["revisions"] and stored_name
    client = target.test_client()
    sign_in(client, "owner@example.com")
    download = client.get(f"/files/{attachment_id}")
    assert download.status_code == 200 and download.data == b"%PDF-1.4 the contract" * 100

    # the target holds data now: refused without --force, replaced with it
    again = _run(target, "restore", str(archive))
    assert again.exit_code == 1 and "holds data" in again.output and "--force" in again.output, again.output
    with target.app_context(), unit_of_work():
        contacts.save(Actor(db.session.get(User, admin_id)), None, {"first_name": "After the backup"})
    forced = _run(target, "restore", "--force", str(archive))
    assert forced.exit_code == 0 and "replacing the database" in forced.output, forced.output
    assert _rows(target)["contact"] == 3


def test_a_local_backup_restores_into_s3(make_app, target_url, tmp_path, s3_server: S3Server):
    source = make_app()
    _fill(source, tmp_path, n=1)
    archive = tmp_path / "backups"
    archive.mkdir()
    assert _run(source, "backup", str(archive)).exit_code == 0
    [made] = archive.glob("mayak-backup-*.tar")
    bucket = s3_server.new_bucket()
    target = make_app(MAYAK_DATABASE_URL=target_url, MAYAK_INSTANCE_PATH=str(tmp_path / "target"),
                      **s3_server.environ(bucket))
    restored = _run(target, "restore", str(made))
    assert restored.exit_code == 0, restored.output
    from core.services.platform import storage

    with target.app_context():
        on_s3 = _files(storage.current())
    assert on_s3 == _files(LocalStorage(Path(source.instance_path))) and len(on_s3) == 2
    assert _rows(target) == _rows(source)
    assert not (tmp_path / "target" / "files").exists()


def _tamper(archive: Path, member_prefix: str) -> None:
    with tarfile.open(archive) as tar:
        info = next(m for m in tar.getmembers() if m.name.startswith(member_prefix))
    with archive.open("r+b") as fh:
        fh.seek(info.offset_data + info.size // 2)
        byte = fh.read(1)
        fh.seek(-1, io.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0xFF]))


def test_a_damaged_or_foreign_archive_is_refused_before_anything_changes(make_app, target_url, tmp_path):
    source = make_app()
    _fill(source, tmp_path, n=1)
    good = tmp_path / "good.tar"
    assert _run(source, "backup", str(good)).exit_code == 0
    target = make_app(MAYAK_DATABASE_URL=target_url, MAYAK_INSTANCE_PATH=str(tmp_path / "target"))

    cases = []
    for prefix in ("storage/imports/", "database/"):  # the last file member, and the first
        damaged = tmp_path / f"damaged-{prefix.split('/')[1] or 'db'}.tar"
        damaged.write_bytes(good.read_bytes())
        _tamper(damaged, prefix)
        cases.append((damaged, "does not match the SHA-256"))
    cut = tmp_path / "cut.tar"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    cases.append((cut, "cut short"))
    foreign = tmp_path / "foreign.tar"
    with tarfile.open(foreign, "w") as tar:
        tar.add(__file__, arcname="notes.txt")
    cases.append((foreign, "not a Mayak backup"))
    other = tmp_path / "other.tar"
    with tarfile.open(other, "w") as tar:
        data = json.dumps({"format": "someone-else"}).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    cases.append((other, "another program's"))
    text_file = tmp_path / "notes.tar"
    text_file.write_text("not an archive at all\n" * 100)
    cases.append((text_file, "not a"))

    for archive, said in cases:
        result = _run(target, "restore", str(archive))
        assert result.exit_code == 1 and said in result.output, (archive.name, result.output)
        assert len(result.output.strip().splitlines()) <= 2, result.output  # one line of error (and the header)
        assert not [t for t in _tables(target_url) if t != "sqlite_sequence"], "nothing was restored"
        assert not (tmp_path / "target" / "files").exists() and not (tmp_path / "target" / "imports").exists()


def test_a_backup_taken_while_writes_go_on_restores_whole(make_app, target_url, tmp_path):
    source = make_app()
    admin_id = _fill(source, tmp_path, n=1)
    stop = threading.Event()
    written: list[int] = []
    failures: list[BaseException] = []

    def writer() -> None:
        number = 0
        try:
            while not stop.is_set():
                number += 1
                with source.app_context(), unit_of_work():
                    actor = Actor(db.session.get(User, admin_id))
                    contact = contacts.save(actor, None, {"first_name": f"Пишущий {number}"})
                    files.store(actor, stream=io.BytesIO(f"file {number} ".encode() * 500), filename=f"{number}.txt",
                                contact=contact)
                written.append(number)
        except BaseException as exc:  # reported by the test
            failures.append(exc)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        while len(written) < 5 and thread.is_alive():
            threading.Event().wait(0.02)
        before = len(written)
        archive = tmp_path / "live.tar"
        made = _run(source, "backup", str(archive))
        during = len(written) - before
    finally:
        stop.set()
        thread.join(30)
    assert not failures, failures
    assert made.exit_code == 0, made.output
    assert during > 0, "writes went on while the backup ran"

    target = make_app(MAYAK_DATABASE_URL=target_url, MAYAK_INSTANCE_PATH=str(tmp_path / "target"))
    restored = _run(target, "restore", str(archive))
    assert restored.exit_code == 0, restored.output
    kept = LocalStorage(tmp_path / "target")
    with target.app_context():
        attachments = db.session.scalars(select(Attachment)).all()
        assert len(attachments) > 5
        missing = [a.id for a in attachments if kept.size(files.key_of(a.sha256)) != a.size]
    assert missing == [], "every attachment row of the snapshot has its file"


def test_an_older_archive_is_migrated_after_its_restore(make_app, target_url, database_url, tmp_path):
    old = make_app(MAYAK_DATABASE_URL=target_url, MAYAK_INSTANCE_PATH=str(tmp_path / "old"), migrate=True)
    with old.app_context():
        heads = migrate.current_revisions()
        migrate.downgrade("core", "-1")  # the schema of the Mayak before this one
        older = migrate.current_revisions()
        db.engine.dispose()
    assert older["core"] != heads["core"]
    archive = tmp_path / "old.tar.gz"
    assert _run(old, "backup", str(archive)).exit_code == 0
    if database_url.startswith("sqlite"):
        fresh_url, drop = f"sqlite:///{tmp_path / 'fresh.db'}", None
    else:
        fresh_url = drop = services.create_postgres_database("mayak_restore")
    try:
        fresh = make_app(MAYAK_DATABASE_URL=fresh_url, MAYAK_INSTANCE_PATH=str(tmp_path / "fresh"))
        restored = _run(fresh, "restore", str(archive))
        assert restored.exit_code == 0 and "older than this Mayak (core): migrating" in restored.output, \
            restored.output
        with fresh.app_context():
            assert migrate.current_revisions() == heads
            db.engine.dispose()
    finally:
        if drop:
            services.drop_postgres_database(drop)
