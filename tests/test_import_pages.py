"""The import wizard and exports in the web UI (issue 5): upload, mapping, dry-run preview, run as a job, result with
the error report and undo; exports of deals, tasks and vCard, big ones written by a job."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

from openpyxl import load_workbook
from sqlalchemy import func, select

from core.db import db, unit_of_work
from core.models import Contact, ImportBatch, ImportProfile
from core.services.transfer import export
from core.testing.fixtures import csrf_token, post_form, wait_for_jobs
from tests.import_samples import write


def _upload(client, path, name=None):
    with path.open("rb") as fh:
        return client.post("/imports/", data={"csrf_token": csrf_token(client), "file": (fh, name or path.name)},
                           content_type="multipart/form-data")


def _batch_id(response) -> int:
    return int(re.search(r"/imports/(\d+)", response.headers["Location"]).group(1))


class _Form(HTMLParser):
    """The values a browser would post from the page's set-up form: inputs, checked radios, selected options."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("file", "submit"):
            if a.get("type") != "radio" or "checked" in a:
                self.values[name] = a.get("value") or ""
        elif tag == "select":
            self.select = name
            self.values.setdefault(name or "", "")
        elif tag == "option" and self.select and "selected" in a:
            self.values[self.select] = a.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self.select = None


def _mapping_form(client, batch_id: int) -> dict[str, str]:
    page = client.get(f"/imports/{batch_id}")
    assert page.status_code == 200
    parser = _Form()
    parser.feed(page.get_data(as_text=True))
    return {k: v for k, v in parser.values.items() if k not in ("profile",)}


def test_upload_preview_run_report_and_undo(app, admin_client, tmp_path):
    response = _upload(admin_client, write(tmp_path / "клиенты.xlsx"))
    assert response.status_code == 303
    batch_id = _batch_id(response)
    fields = _mapping_form(admin_client, batch_id)
    # the header row is found under the title row, and each column's field suggested
    assert fields["header_row"] == "3"
    assert [fields[f"map_{i}"] for i in range(6)] == ["full_name", "phone", "email", "company", "birthday", "notes"]

    fields.update(action="preview", profile_name="Выгрузка 1С")
    assert post_form(admin_client, f"/imports/{batch_id}", fields).status_code == 303
    wait_for_jobs(app)
    preview = admin_client.get(f"/imports/{batch_id}").get_data(as_text=True)
    assert "8 (916) 123-45-67 → +79161234567" in preview and "31.02.1990" in preview
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 0  # a dry run writes nothing
        assert db.session.scalar(select(ImportProfile.fields)) ["фио"] == "full_name"

    fields = _mapping_form(admin_client, batch_id)
    fields["action"] = "run"
    assert post_form(admin_client, f"/imports/{batch_id}", fields).status_code == 303
    wait_for_jobs(app)
    result = admin_client.get(f"/imports/{batch_id}").get_data(as_text=True)
    assert "Undo the import" in result and "The row has no name, phone or email" in result
    with app.app_context(), unit_of_work():
        batch = db.session.get(ImportBatch, batch_id)
        assert (batch.status, batch.created, batch.failed) == ("finished", 6, 1)

    report = admin_client.get(f"/imports/{batch_id}/report.xlsx")
    sheet = load_workbook(io.BytesIO(report.data), read_only=True).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][:2] == ["Row", "ФИО"] and rows[0][-1] == "Problem"
    assert [r[0] for r in rows[1:]] == [5, 8, 10]
    assert rows[2][1] == "Сидоров Пётр" and "12345" in rows[2][-1] and rows[3][-2] == "not imported"

    assert post_form(admin_client, f"/imports/{batch_id}/undo").status_code == 303
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(func.count()).select_from(Contact).where(Contact.deleted_at.is_(None))) == 0


def test_a_saved_mapping_is_offered_for_the_next_file(app, admin_client, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("Клиент;Моб.;Примечание\r\nИван Петров;+7 916 123 45 67;тест\r\n", encoding="utf-8")
    batch_id = _batch_id(_upload(admin_client, path))
    fields = _mapping_form(admin_client, batch_id)
    fields.update({"map_1": "phone", "action": "preview", "profile_name": "Магазин"})
    post_form(admin_client, f"/imports/{batch_id}", fields)
    wait_for_jobs(app)
    second = _batch_id(_upload(admin_client, path, "export-2.csv"))
    with app.app_context(), unit_of_work():
        profile_id = db.session.scalar(select(ImportProfile.id))
    page = admin_client.get(f"/imports/{second}?profile={profile_id}&part=mapping").get_data(as_text=True)
    assert re.search(r'name="map_1">.*?<option value="phone" selected>', page, re.S)


def test_files_that_cannot_be_read_get_a_reason(app, admin_client, tmp_path):
    header_only = tmp_path / "пусто.csv"
    header_only.write_text("Фамилия;Имя;Телефон\r\n", encoding="cp1251")
    response = _upload(admin_client, header_only)
    assert response.status_code == 422 and "no rows under them" in response.get_data(as_text=True)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    response = _upload(admin_client, broken)
    assert response.status_code == 422 and "damaged" in response.get_data(as_text=True)


def test_a_file_over_the_upload_limit_is_refused_with_the_way_around(app, admin_client, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    path = tmp_path / "big.csv"
    path.write_bytes(b"name;phone\r\n" + b"x;+79161234567\r\n" * 120_000)
    response = _upload(admin_client, path)
    text = response.get_data(as_text=True)
    assert response.status_code == 413 and "mayak import contacts FILE" in text and "limited to 1 MB" in text
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_a_wrong_mapping_is_refused_with_a_reason(app, admin_client, tmp_path):
    batch_id = _batch_id(_upload(admin_client, write(tmp_path / "messy.csv")))
    fields = _mapping_form(admin_client, batch_id)
    fields.update({f"map_{i}": "" for i in range(6)}, map_5="notes", action="run")
    response = post_form(admin_client, f"/imports/{batch_id}", fields)
    assert response.status_code == 422 and "at least one column to a name" in response.get_data(as_text=True)


def test_exports_of_deals_tasks_and_vcards(app, admin_client):
    assert app.test_cli_runner().invoke(args=["demo-data", "--size", "20"]).exit_code == 0
    deals = admin_client.get("/export/deals.csv?encoding=cp1251")
    assert deals.status_code == 200 and deals.data.decode("cp1251").startswith("ID;Title;Pipeline;Stage;Amount")
    tasks = admin_client.get("/export/tasks.xlsx")
    rows = list(load_workbook(io.BytesIO(tasks.data), read_only=True).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("ID", "Title", "Status") and len(rows) > 1
    cards = admin_client.get("/export/contacts.vcard").get_data(as_text=True)
    assert cards.count("BEGIN:VCARD") == 20 and "TEL;TYPE=CELL:+" in cards


def test_a_big_export_is_written_by_a_job(app, admin_client, monkeypatch):
    monkeypatch.setattr(export, "INLINE_LIMIT", 5)
    assert app.test_cli_runner().invoke(args=["demo-data", "--size", "20"]).exit_code == 0
    response = admin_client.get("/export/contacts.xlsx")
    assert response.status_code == 303
    job_url = response.headers["Location"]
    wait_for_jobs(app)
    page = admin_client.get(job_url).get_data(as_text=True)
    link = re.search(r'href="(/export/jobs/\d+/file)"', page).group(1)
    rows = list(load_workbook(io.BytesIO(admin_client.get(link).data), read_only=True).active.iter_rows())
    assert len(rows) == 21


def test_the_export_command_writes_every_format(app, admin, tmp_path):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo-data", "--size", "20"]).exit_code == 0
    for entity, fmt in (("contacts", "vcard"), ("companies", "csv"), ("deals", "xlsx"), ("tasks", "csv")):
        out = tmp_path / f"{entity}.{fmt}"
        result = runner.invoke(args=["export", entity, "--format", fmt, "--out", str(out)])
        assert result.exit_code == 0 and out.stat().st_size > 0, result.output
    # what Mayak exports as vCard, it reads back: every card matches its contact
    again = runner.invoke(args=["import", "contacts", str(tmp_path / "contacts.vcard"), "--dry-run", "--json"])
    assert '"skipped_duplicates": 20' in again.output


def test_the_progress_bar_polls_until_the_import_is_done(app, admin_client, tmp_path):
    batch_id = _batch_id(_upload(admin_client, write(tmp_path / "messy.csv")))
    with app.app_context(), unit_of_work():
        batch = db.session.get(ImportBatch, batch_id)
        batch.status, batch.estimated_rows = "running", 12
        db.session.commit()
    page = admin_client.get(f"/imports/{batch_id}").get_data(as_text=True)
    assert f'hx-get="/imports/{batch_id}/status"' in page
    polled = admin_client.get(f"/imports/{batch_id}/status", headers={"HX-Request": "true"})
    assert polled.status_code == 200 and "rows of about 12" in polled.get_data(as_text=True)
    with app.app_context(), unit_of_work():
        db.session.get(ImportBatch, batch_id).status = "finished"
        db.session.commit()
    done = admin_client.get(f"/imports/{batch_id}/status", headers={"HX-Request": "true"})
    assert done.headers.get("HX-Refresh") == "true"
