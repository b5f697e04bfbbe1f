"""File storage behind one interface (issue 14): the local folder and an S3 bucket (a real S3 server on loopback,
see tests/storage_support.py) keep the same promises; attachments, import files and exports go through it; a lost
file is a page that says so; a wrong S3 setting stops start-up naming it; ``mayak files move`` keeps every byte."""

from __future__ import annotations

import hashlib
import io
import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from core import create_app
from core.config import S3Settings, load_settings
from core.db import db, unit_of_work
from core.errors import StartupError
from core.models import Attachment, ImportBatch, User
from core.services.clients import contacts
from core.services.platform.context import Actor
from core.services.platform.storage import LocalStorage, ObjectMissing, validate_key
from core.services.platform.storage.s3 import S3Storage
from core.services.transfer import export
from core.storage_commands import files_group
from core.testing.fixtures import TEST_CONFIG, app_environ, csrf_token, post_form, sign_in, wait_for_jobs
from tests.import_samples import write
from tests.test_import_pages import _mapping_form

if TYPE_CHECKING:
    from tests.storage_support import S3Server

pytest_plugins = ["tests.storage_support"]  # the s3_server fixture

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
GONE = "This file is no longer in the storage"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _s3_settings(server: S3Server, bucket: str, prefix: str = "") -> S3Settings:
    return S3Settings(bucket=bucket, endpoint_url=server.endpoint_url, access_key_id=server.access_key_id,
                      secret_access_key=server.secret_access_key, region=server.region, prefix=prefix)


# --- the contract: both backends, the same tests ----------------------------------------------------------------


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path)
    server = request.getfixturevalue("s3_server")
    return S3Storage(_s3_settings(server, server.new_bucket(), prefix="mayak/"))


class TestStorageContract:
    def test_write_open_size_delete(self, store):
        assert store.write("files/ab/one", io.BytesIO(b"hello")) == 5
        assert store.size("files/ab/one") == 5 and store.exists("files/ab/one")
        with store.open("files/ab/one") as body:
            assert body.read() == b"hello"
        store.write("files/ab/one", io.BytesIO(b"replaced"))
        with store.open("files/ab/one") as body:
            assert body.read() == b"replaced"
        store.delete("files/ab/one")
        store.delete("files/ab/one")  # twice: nothing to delete is not an error
        assert store.size("files/ab/one") is None and not store.exists("files/ab/one")
        with pytest.raises(ObjectMissing):
            store.open("files/ab/one")

    def test_a_big_file_is_streamed_both_ways(self, store):
        data = hashlib.sha256(b"seed").digest() * (10 * 1024 * 1024 // 32 + 7)  # past S3's multipart threshold
        assert store.write("exports/big.csv", io.BytesIO(data)) == len(data)
        digest, chunks = hashlib.sha256(), 0
        with store.open("exports/big.csv") as body:
            while chunk := body.read(256 * 1024):
                digest.update(chunk)
                chunks += 1
        assert digest.digest() == hashlib.sha256(data).digest() and chunks > 1

    def test_staging_stores_only_what_completed(self, store):
        with store.staging("exports/report.xlsx") as path:
            assert path.suffix == ".xlsx"
            path.write_bytes(b"sheet")
        assert store.size("exports/report.xlsx") == 5
        with pytest.raises(RuntimeError), store.staging("imports/refused.csv") as path:
            path.write_bytes(b"half")
            raise RuntimeError("refused")
        assert not store.exists("imports/refused.csv") and not path.exists()
        assert [k for k, _ in store.keys("imports")] == []

    def test_keys_list_one_area_with_sizes(self, store):
        for key, data in [("files/cd/2", b"22"), ("files/ab/1", b"1"), ("imports/x.csv", b"xxx")]:
            store.write(key, io.BytesIO(data))
        assert list(store.keys("files/")) == [("files/ab/1", 1), ("files/cd/2", 2)]
        assert list(store.keys("imports")) == [("imports/x.csv", 3)]
        assert list(store.keys("exports")) == []

    def test_local_path_for_readers_that_need_one(self, store):
        store.write("imports/book.xlsx", io.BytesIO(b"cells"))
        with store.local_path("imports/book.xlsx") as path:
            assert path.read_bytes() == b"cells" and path.suffix == ".xlsx"
        if store.name == "s3":
            assert not path.exists(), "the temporary copy is removed"
        with pytest.raises(ObjectMissing), store.local_path("imports/gone.csv"):
            pass

    @pytest.mark.parametrize("key", ["", "/etc/passwd", "files/../mayak.db", "files/./x", "files//x", "mayak.db",
                                     "secret_key", "files\\..\\x", "files/a\nb", "files/a\x00", "files/a\x7f",
                                     "other/x", "files", "x" * 600])
    def test_keys_outside_the_areas_are_refused(self, store, key):
        with pytest.raises(ValueError):
            store.write(key, io.BytesIO(b"x"))
        with pytest.raises(ValueError):
            store.open(key)
        with pytest.raises(ValueError):
            store.delete(key)


def test_the_local_backend_keeps_todays_layout_and_hides_files_being_written(tmp_path):
    local = LocalStorage(tmp_path)
    local.write("files/ab/abcdef", io.BytesIO(b"data"))
    assert (tmp_path / "files" / "ab" / "abcdef").read_bytes() == b"data"
    (tmp_path / "files" / "ab" / ".tmp-half").write_bytes(b"ha")
    (tmp_path / "mayak.db").write_bytes(b"db")
    assert list(local.keys("files")) == [("files/ab/abcdef", 4)]
    assert validate_key("files/", prefix=True) == "files"
    with pytest.raises(ValueError):
        validate_key("mayak.db")


# --- settings and start-up ----------------------------------------------------------------------------------------


def _env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    return app_environ(database_url, tmp_path / "instance", **extra)


@pytest.mark.parametrize(("extra", "named"), [
    ({"MAYAK_STORAGE": "ftp"}, "MAYAK_STORAGE"),
    ({"MAYAK_STORAGE": "s3"}, "MAYAK_S3_BUCKET"),
    ({"MAYAK_STORAGE": "s3", "MAYAK_S3_BUCKET": "Bad_Bucket"}, "MAYAK_S3_BUCKET"),
    ({"MAYAK_S3_BUCKET": "files", "MAYAK_S3_ENDPOINT_URL": "minio:9000"}, "MAYAK_S3_ENDPOINT_URL"),
    ({"MAYAK_S3_BUCKET": "files", "MAYAK_S3_ACCESS_KEY_ID": "key"}, "MAYAK_S3_SECRET_ACCESS_KEY"),
    ({"MAYAK_S3_BUCKET": "files", "MAYAK_S3_ADDRESSING": "dns"}, "MAYAK_S3_ADDRESSING"),
    ({"MAYAK_S3_BUCKET": "files", "MAYAK_S3_PREFIX": "a/../b"}, "MAYAK_S3_PREFIX"),
])
def test_wrong_storage_settings_name_the_variable(tmp_path, extra, named):
    with pytest.raises(StartupError, match=named) as caught:
        load_settings({"MAYAK_INSTANCE_PATH": str(tmp_path), "MAYAK_SECRET_KEY": "x" * 20, **extra})
    assert "\n" not in str(caught.value)


def test_storage_settings_default_to_the_instance_folder(tmp_path):
    settings = load_settings({"MAYAK_INSTANCE_PATH": str(tmp_path), "MAYAK_SECRET_KEY": "x" * 20})
    assert settings.storage.kind == "local" and settings.storage.s3 is None
    s3 = load_settings({"MAYAK_INSTANCE_PATH": str(tmp_path), "MAYAK_SECRET_KEY": "x" * 20, "MAYAK_STORAGE": "S3",
                        "MAYAK_S3_BUCKET": "crm", "MAYAK_S3_PREFIX": "/mayak/", "MAYAK_S3_SECRET_ACCESS_KEY": "sec",
                        "MAYAK_S3_ACCESS_KEY_ID": "id"}).storage
    assert (s3.kind, s3.s3.bucket, s3.s3.prefix, s3.s3.region, s3.s3.addressing) == (
        "s3", "crm", "mayak/", "us-east-1", "path")
    assert "sec" not in repr(s3), "the secret is never shown"


def test_start_up_stops_on_a_wrong_key_a_missing_bucket_or_an_unreachable_endpoint(app, database_url, tmp_path,
                                                                                   s3_server):
    bucket = s3_server.new_bucket()
    cases = [
        ({"MAYAK_S3_ACCESS_KEY_ID": "AKIAWRONGWRONGWRONG0"}, "MAYAK_S3_ACCESS_KEY_ID"),
        ({"MAYAK_S3_SECRET_ACCESS_KEY": "not-the-secret"}, "MAYAK_S3_SECRET_ACCESS_KEY"),
        ({"MAYAK_S3_BUCKET": "no-such-bucket"}, "MAYAK_S3_BUCKET"),
        ({"MAYAK_S3_ENDPOINT_URL": f"http://127.0.0.1:{_closed_port()}"}, "MAYAK_S3_ENDPOINT_URL"),
    ]
    for extra, named in cases:
        env = _env(tmp_path, database_url, **s3_server.environ(bucket, **extra))
        with pytest.raises(StartupError, match=named) as caught:
            create_app(TEST_CONFIG, environ=env)
        assert "\n" not in str(caught.value) and "not-the-secret" not in str(caught.value), str(caught.value)


# --- the app on S3 ------------------------------------------------------------------------------------------------


@pytest.fixture
def s3_bucket(s3_server):
    return s3_server.new_bucket()


@pytest.fixture
def s3_app(make_app, s3_server, s3_bucket):
    return make_app(**s3_server.environ(s3_bucket))


def _client(app, user):
    client = app.test_client()
    sign_in(client, user.email)
    return client


def _contact(app, owner_id):
    with app.app_context(), unit_of_work():
        return contacts.save(Actor(db.session.get(User, owner_id)), None, {"first_name": "Хранилищев"}).id


def _upload(client, contact_id, data, name):
    return client.post(f"/contacts/{contact_id}/files", content_type="multipart/form-data",
                       data={"csrf_token": csrf_token(client), "file": (io.BytesIO(data), name)})


def _objects(server, bucket):
    listed = server.client().list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"]: item["Size"] for item in listed}


def test_attachments_upload_download_and_preview_on_s3(s3_app, admin, s3_server, s3_bucket):
    client = _client(s3_app, admin)
    contact_id = _contact(s3_app, admin.id)
    assert _upload(client, contact_id, PNG, "фото.png").status_code == 302
    sha = hashlib.sha256(PNG).hexdigest()
    assert _objects(s3_server, s3_bucket) == {f"files/{sha[:2]}/{sha}": len(PNG)}
    assert not (Path(s3_app.instance_path) / "files").exists(), "nothing is written to the local folder"
    with s3_app.app_context():
        attachment_id = db.session.scalar(select(Attachment.id))

    download = client.get(f"/files/{attachment_id}")
    assert download.status_code == 200 and download.data == PNG
    assert download.mimetype == "application/octet-stream" and download.content_length == len(PNG)
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in download.headers["Content-Security-Policy"] and download.headers["ETag"] == f'"{sha}"'
    preview = client.get(f"/files/{attachment_id}/preview")
    assert preview.data == PNG and preview.mimetype == "image/png"
    assert preview.headers["Content-Disposition"].startswith("inline;")
    assert client.get(f"/files/{attachment_id}", headers={"If-None-Match": f'"{sha}"'}).status_code == 304
    part = client.get(f"/files/{attachment_id}", headers={"Range": "bytes=1-3"})
    assert part.status_code == 206 and part.data == PNG[1:4]
    # the same bytes again are kept once
    assert _upload(client, contact_id, PNG, "again.png").status_code == 302
    assert len(_objects(s3_server, s3_bucket)) == 1


def test_a_lost_file_is_a_page_that_says_so_and_the_card_still_shows(s3_app, admin, s3_server, s3_bucket):
    client = _client(s3_app, admin)
    contact_id = _contact(s3_app, admin.id)
    _upload(client, contact_id, b"%PDF-1.4 contract", "договор.pdf")
    with s3_app.app_context():
        attachment_id = db.session.scalar(select(Attachment.id))
    for key in _objects(s3_server, s3_bucket):
        s3_server.client().delete_object(Bucket=s3_bucket, Key=key)
    for url in (f"/files/{attachment_id}", f"/files/{attachment_id}/preview"):
        response = client.get(url)
        assert response.status_code == 404 and GONE in response.get_data(as_text=True)
    card = client.get(f"/contacts/{contact_id}")
    assert card.status_code == 200 and "договор.pdf" in card.get_data(as_text=True)


def test_a_lost_file_on_local_disk_too(app, admin, admin_client):
    contact_id = _contact(app, admin.id)
    _upload(admin_client, contact_id, PNG, "photo.png")
    sha = hashlib.sha256(PNG).hexdigest()
    with app.app_context():
        attachment_id = db.session.scalar(select(Attachment.id))
    (Path(app.instance_path) / "files" / sha[:2] / sha).unlink()
    response = admin_client.get(f"/files/{attachment_id}/preview")
    assert response.status_code == 404 and GONE in response.get_data(as_text=True)
    assert admin_client.get(f"/contacts/{contact_id}").status_code == 200


def test_an_import_uploaded_on_the_web_is_run_by_a_job_reading_it_from_s3(s3_app, admin, s3_server, s3_bucket,
                                                                         tmp_path):
    client = _client(s3_app, admin)
    with write(tmp_path / "клиенты.xlsx").open("rb") as fh:
        response = client.post("/imports/", data={"csrf_token": csrf_token(client), "file": (fh, "клиенты.xlsx")},
                               content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)[-500:]
    batch_id = int(re.search(r"/imports/(\d+)", response.headers["Location"]).group(1))
    with s3_app.app_context():
        stored = db.session.get(ImportBatch, batch_id).stored_name
    assert list(_objects(s3_server, s3_bucket)) == [f"imports/{stored}"]
    assert not any((Path(s3_app.instance_path) / "imports").glob("*")), "no local copy is kept"
    fields = _mapping_form(client, batch_id)  # set up from the file: read back from the bucket
    assert fields["header_row"] == "3"
    fields["action"] = "run"
    assert post_form(client, f"/imports/{batch_id}", fields).status_code == 303
    wait_for_jobs(s3_app)
    with s3_app.app_context():
        batch = db.session.get(ImportBatch, batch_id)
        assert (batch.status, batch.created) == ("finished", 6), batch.error


def test_an_import_whose_file_the_bucket_lost_says_so(s3_app, admin, s3_server, s3_bucket, tmp_path):
    from core.plugins.types import ImportFileError
    from core.services.transfer import imports

    with s3_app.app_context(), unit_of_work():
        batch = imports.upload(Actor(db.session.get(User, admin.id)), write(tmp_path / "a.csv").open("rb"), "a.csv")
        batch_id = batch.id
    s3_server.client().delete_object(Bucket=s3_bucket, Key=f"imports/{batch.stored_name}")
    with s3_app.app_context(), unit_of_work(), pytest.raises(ImportFileError, match="no longer kept"):
        imports.layout(db.session.get(ImportBatch, batch_id))


def test_a_big_export_is_written_to_s3_and_downloaded(s3_app, admin, s3_server, s3_bucket, monkeypatch):
    monkeypatch.setattr(export, "INLINE_LIMIT", 5)
    assert s3_app.test_cli_runner().invoke(args=["demo-data", "--size", "20"]).exit_code == 0
    client = _client(s3_app, admin)
    response = client.get("/export/contacts.xlsx")
    assert response.status_code == 303
    job_url = response.headers["Location"]
    wait_for_jobs(s3_app)
    page = client.get(job_url).get_data(as_text=True)
    link = re.search(r'href="(/export/jobs/\d+/file)"', page).group(1)
    assert [k for k in _objects(s3_server, s3_bucket) if k.startswith("exports/")] == [
        f"exports/contacts-{job_url.rsplit('/', 1)[-1]}.xlsx"]
    downloaded = client.get(link)
    assert downloaded.headers["Content-Disposition"].startswith("attachment; filename=contacts-")
    rows = list(load_workbook(io.BytesIO(downloaded.data), read_only=True).active.iter_rows())
    assert len(rows) == 21
    for key in _objects(s3_server, s3_bucket):
        s3_server.client().delete_object(Bucket=s3_bucket, Key=key)
    gone = client.get(link)
    assert gone.status_code == 404 and GONE in gone.get_data(as_text=True)


def test_presigned_downloads_redirect_after_the_access_check(make_app, admin, s3_server, s3_bucket, make_user):
    presigned = make_app(**s3_server.environ(s3_bucket, MAYAK_S3_PRESIGNED_DOWNLOADS="1"))
    client = _client(presigned, admin)
    contact_id = _contact(presigned, admin.id)
    _upload(client, contact_id, PNG, "photo.png")
    with presigned.app_context():
        attachment_id = db.session.scalar(select(Attachment.id))
    seller = make_user("seller@example.com", grants={("contact", "view"): "own"})
    assert _client(presigned, seller).get(f"/files/{attachment_id}").status_code == 403
    response = client.get(f"/files/{attachment_id}/preview")
    # moto's server answers presigned GETs with a 500 while it checks keys, so the URL is checked, not fetched
    assert response.status_code == 302 and response.location.startswith(s3_server.endpoint_url)
    assert "X-Amz-Expires=60" in response.location and "X-Amz-Signature=" in response.location
    assert "response-content-disposition=inline" in response.location


# --- mayak files move ---------------------------------------------------------------------------------------------


def test_files_move_local_to_s3_and_back_keeps_every_byte(make_app, s3_server, s3_bucket):
    local_app = make_app(**{k: v for k, v in s3_server.environ(s3_bucket).items() if k != "MAYAK_STORAGE"})
    local = LocalStorage(Path(local_app.instance_path))
    originals = {}
    for n in range(5):
        data = f"attachment {n}".encode() * (n * 1000 + 1)
        sha = hashlib.sha256(data).hexdigest()
        originals[f"files/{sha[:2]}/{sha}"] = data
    originals["imports/abc.csv"] = "Имя;Телефон\r\nАнна;+7 916 000-00-00\r\n".encode()
    originals["exports/contacts-7.xlsx"] = b"PK\x03\x04 not really a workbook" * 500
    for key, data in originals.items():
        local.write(key, io.BytesIO(data))
    runner = local_app.test_cli_runner()

    result = runner.invoke(files_group, ["move", "--to", "s3"])
    assert result.exit_code == 0, result.output
    assert f"copied {len(originals)}" in result.output and "skipped 0" in result.output
    assert "MAYAK_STORAGE=s3" in result.output
    bucket = s3_server.client()
    assert {k: bucket.get_object(Bucket=s3_bucket, Key=k)["Body"].read() for k in _objects(s3_server, s3_bucket)} \
        == originals
    assert runner.invoke(files_group, ["move", "--to", "s3"]).output.count(f"skipped {len(originals)}") == 1
    assert all(local.exists(k) for k in originals), "the source is kept unless asked"

    again = runner.invoke(files_group, ["move", "--to", "s3", "--delete-source"])
    assert again.exit_code == 0 and f"deleted {len(originals)} from the source" in again.output
    assert list(local.keys("files")) == [] and list(local.keys("imports")) == []

    back = runner.invoke(files_group, ["move", "--to", "local"])
    assert back.exit_code == 0 and f"copied {len(originals)}" in back.output, back.output
    assert {k: (Path(local_app.instance_path) / k).read_bytes() for k in originals} == originals
    assert len(_objects(s3_server, s3_bucket)) == len(originals)


def test_files_move_refuses_a_damaged_file_and_keeps_its_source(make_app, s3_server, s3_bucket):
    local_app = make_app(**{k: v for k, v in s3_server.environ(s3_bucket).items() if k != "MAYAK_STORAGE"})
    local = LocalStorage(Path(local_app.instance_path))
    sha = hashlib.sha256(b"the real content").hexdigest()
    local.write(f"files/{sha[:2]}/{sha}", io.BytesIO(b"bit rot"))
    result = local_app.test_cli_runner().invoke(files_group, ["move", "--to", "s3", "--delete-source"])
    assert result.exit_code == 1 and "failed 1" in result.output and "SHA-256" in result.output
    assert local.exists(f"files/{sha[:2]}/{sha}") and _objects(s3_server, s3_bucket) == {}


def test_files_move_to_s3_without_a_bucket_says_what_to_set(app):
    result = app.test_cli_runner().invoke(files_group, ["move", "--to", "s3"])
    assert result.exit_code == 1 and "MAYAK_S3_BUCKET" in result.output
