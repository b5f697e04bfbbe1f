"""The import engine (issue 5): a messy file in, every row accounted for; duplicates by phone, email or external id;
dry runs, resumes after an interruption, undo; the command line's JSON summary."""

from __future__ import annotations

import json

import pytest
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select

from core.db import db, unit_of_work
from core.models import Company, Contact, ImportBatch, ImportRow, Phone, User
from core.plugins.types import ImportFileError
from core.services.clients import contacts
from core.services.platform import emails
from core.services.platform.access import AccessDenied
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.services.transfer import import_reading, imports
from core.services.transfer.import_rows import split_full_name
from tests.import_samples import write


def _actor(user_id: int) -> Actor:
    return Actor(db.session.get(User, user_id), via="test")


def _cli(app, *args):
    result = app.test_cli_runner().invoke(args=["import", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output) if "--json" in args else result.output


def _uploaded(actor: Actor, path) -> ImportBatch:
    """A batch for ``path`` with the suggested mapping, ready to run."""
    with path.open("rb") as fh:
        batch = imports.upload(actor, fh, path.name)
    return imports.configure(actor, batch, {})


def _live(name: str | None = None) -> list[Contact]:
    query = select(Contact).where(Contact.deleted_at.is_(None)).order_by(Contact.id)
    if name:
        query = query.where(Contact.last_name == name)
    return list(db.session.scalars(query))


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_messy_file_is_imported_row_by_row_with_reasons(app, admin, tmp_path, suffix):
    path = write(tmp_path / f"клиенты{suffix}")
    summary = _cli(app, "contacts", str(path), "--json")
    assert {k: summary[k] for k in ("rows", "created", "updated", "merged", "skipped_duplicates", "failed",
                                    "flagged")} == {"rows": 8, "created": 6, "updated": 0, "merged": 1,
                                                    "skipped_duplicates": 0, "failed": 1, "flagged": 2}
    problems = [(e["row"], e["field"]) for e in summary["errors"]]
    # row numbers are the file's own: title row 1, blank row 2, header row 3
    assert problems == [(5, "birthday"), (8, "phone"), (8, "email"), (8, "birthday"), (10, "name")]
    assert "31.02.1990" in summary["errors"][0]["message"]
    with app.app_context(), unit_of_work():
        people = {(c.last_name, c.first_name, c.middle_name): c for c in _live()}
        petrov = people[("Петров", "Иван", "Сергеевич")]
        assert [p.e164 for p in petrov.phones] == ["+79161234567"]  # row 7 merged into row 4, not a second Петров
        assert "второй раз" in petrov.notes and petrov.birthday.isoformat() == "1985-05-17"
        assert [m.company.name for m in petrov.memberships] == ["ООО «Ромашка»"]
        smirnova = people[("Смирнова", "Анна", "")]  # "Анна Смирнова": the first name came first
        assert [p.e164 for p in smirnova.phones] == ["+79031112233", "+74951234567"]
        assert smirnova.birthday is None and "31.02.1990" in smirnova.notes  # the bad date is kept, not lost
        sidorov = people[("Сидоров", "Пётр", "")]
        assert [(p.raw, p.e164, p.valid) for p in sidorov.phones] == [("12345", None, False)]
        assert [(e.address, e.valid) for e in sidorov.emails] == [("petr@@example", False)]
        assert len(_live("Иванов")) == 2  # namesakes with different phones stay two people
        assert db.session.scalar(select(func.count()).select_from(Company)) == 2


def test_skip_invalid_refuses_rows_with_bad_values_and_reports_them(app, admin, tmp_path):
    path = write(tmp_path / "base.csv")
    summary = _cli(app, "contacts", str(path), "--skip-invalid", "--json")
    assert (summary["created"], summary["failed"], summary["flagged"]) == (4, 3, 0)
    with app.app_context(), unit_of_work():
        assert not _live("Сидоров")
        failed = db.session.scalars(select(ImportRow.number).where(ImportRow.action == "error")
                                    .order_by(ImportRow.number)).all()
        assert failed == [5, 8, 10]


@pytest.fixture
def existing(app, admin):
    with app.app_context(), unit_of_work():
        contact = contacts.save(_actor(admin.id), None, {
            "first_name": "Иван", "last_name": "Петров", "city": "Тверь",
            "phones": [{"raw": "+7 916 123 45 67"}], "emails": [{"address": "old@example.ru"}]})
        return contact.id


@pytest.mark.parametrize("policy", ["skip", "update", "overwrite"])
def test_duplicates_policy_and_undo(app, admin, existing, tmp_path, policy):
    path = tmp_path / "update.csv"
    path.write_text("Фамилия;Имя;Отчество;Телефон;Город;Email\r\n"
                    "Петров;Иван;Сергеевич;8 916 123-45-67;Москва;new@example.ru\r\n"
                    "Орлова;Ольга;;+7 925 000 11 22;Казань;\r\n", encoding="utf-8")
    summary = _cli(app, "contacts", str(path), "--on-duplicate", policy, "--json")
    with app.app_context(), unit_of_work():
        ivan = db.session.get(Contact, existing)
        if policy == "skip":
            assert (summary["skipped_duplicates"], summary["updated"]) == (1, 0)
            assert (ivan.middle_name, ivan.city) == ("", "Тверь")
        else:
            assert (summary["skipped_duplicates"], summary["updated"]) == (0, 1)
            assert ivan.middle_name == "Сергеевич"  # empty before: filled by both policies
            assert ivan.city == ("Москва" if policy == "overwrite" else "Тверь")
            assert [e.address for e in ivan.emails] == ["old@example.ru", "new@example.ru"]
        assert summary["created"] == 1
    _cli(app, "undo", str(summary["batch"]))
    with app.app_context(), unit_of_work():
        ivan = db.session.get(Contact, existing)
        assert (ivan.middle_name, ivan.city, [e.address for e in ivan.emails]) == ("", "Тверь", ["old@example.ru"])
        assert ivan.deleted_at is None
        assert not _live("Орлова")
        assert db.session.get(ImportBatch, summary["batch"]).status == "undone"


def test_external_ids_match_before_phones(app, admin, tmp_path):
    path = tmp_path / "amo.csv"
    path.write_text("ID;Полное имя;Рабочий телефон\r\n901;Лебедева Нина;+7 911 000 00 01\r\n",
                    encoding="utf-8-sig")
    _cli(app, "contacts", str(path), "--json")
    path.write_text("ID;Полное имя;Рабочий телефон\r\n901;Лебедева Нина Петровна;+7 911 000 00 02\r\n",
                    encoding="utf-8-sig")
    summary = _cli(app, "contacts", str(path), "--on-duplicate", "update", "--json")
    assert (summary["created"], summary["updated"]) == (0, 1)
    with app.app_context(), unit_of_work():
        (nina,) = _live("Лебедева")
        assert nina.external_id == "901" and nina.middle_name == "Петровна"
        assert [p.e164 for p in nina.phones] == ["+79110000001", "+79110000002"]


def test_a_dry_run_writes_no_contact_but_says_what_would_happen(app, admin, existing, tmp_path):
    path = write(tmp_path / "messy.csv")
    summary = _cli(app, "contacts", str(path), "--dry-run", "--on-duplicate", "update", "--json")
    assert summary["dry_run"] is True
    # rows 4 and 7 are both the existing Петров: each would update him
    assert (summary["created"], summary["updated"], summary["merged"], summary["failed"]) == (5, 2, 0, 1)
    with app.app_context(), unit_of_work():
        assert len(_live()) == 1
        preview = {r.number: r for r in imports.outcomes(db.session.get(ImportBatch, summary["batch"]))}
        assert [(preview[n].action, preview[n].record_id) for n in (4, 7)] == [("update", existing)] * 2
        assert preview[5].summary["phones"] == [["+7 903 111-22-33", "+79031112233", "RU", True],
                                                ["8-495-123-45-67", "+74951234567", "RU", True]]


def test_a_dry_run_merges_rows_of_the_same_person_across_chunks(app, admin, tmp_path, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK", 2)
    summary = _cli(app, "contacts", str(write(tmp_path / "messy.csv")), "--dry-run", "--json")
    assert (summary["created"], summary["merged"]) == (6, 1)
    with app.app_context(), unit_of_work():
        assert not _live()
        preview = {r.number: r for r in imports.outcomes(db.session.get(ImportBatch, summary["batch"]))}
        assert preview[7].action == "merge" and preview[7].summary["merged_into_row"] == 4


def test_an_interrupted_import_goes_on_from_where_it_stopped(app, admin, tmp_path, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK", 3)
    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        batch = _uploaded(actor, write(tmp_path / "messy.csv"))
        batch_id = batch.id
        calls = []

        def stop_after_two_chunks(done, total):
            calls.append(done)
            if len(calls) == 2:
                raise RuntimeError("worker killed")

        with pytest.raises(RuntimeError):
            imports.run(batch_id, stop_after_two_chunks)
        stopped = db.session.get(ImportBatch, batch_id)
        # two chunks of three lines (rows 4–9, one of them blank) committed with their outcomes
        assert stopped.status == "failed" and stopped.position == 9
        # every contact written so far belongs to the batch: rows 4, 5, 8 and 9 made one each, row 7 merged
        assert sorted(c.last_name for c in _live() if c.import_batch_id == batch_id) == [
            "Кузнецова", "Петров", "Сидоров", "Смирнова"]
        assert len(_live()) == 4
    summary = _cli(app, "resume", str(batch_id), "--json")  # as after a killed `mayak import contacts`
    assert summary["status"] == "finished"
    with app.app_context(), unit_of_work():
        finished = db.session.get(ImportBatch, batch_id)
        assert finished.counts() == {"rows": 8, "created": 6, "updated": 0, "merged": 1, "skipped_duplicates": 0,
                                     "failed": 1, "flagged": 2}
        assert len(_live()) == 6
        # row 7 repeated row 4 of the first chunk: merged into the contact that row made
        (petrov,) = [c for c in _live("Петров")]
        assert "второй раз" in petrov.notes and [p.e164 for p in petrov.phones] == ["+79161234567"]


def test_undo_of_a_stopped_import_removes_what_it_wrote(app, admin, tmp_path, monkeypatch):
    monkeypatch.setattr(imports, "CHUNK", 3)
    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        batch = _uploaded(actor, write(tmp_path / "messy.csv"))

        def stop(done, total):
            raise RuntimeError("stopped")

        with pytest.raises(RuntimeError):
            imports.run(batch.id, stop)
        assert _live()
        result = imports.undo(actor, db.session.get(ImportBatch, batch.id))
        assert result["deleted"] == 2 and not _live()
        with pytest.raises(InvalidInput):
            imports.undo(actor, db.session.get(ImportBatch, batch.id))


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty"),
    ("Фамилия;Имя;Телефон\r\n".encode("cp1251"), "no rows under them"),
    (b"\x00\x01\x02binary\x00", "not a text file"),
])
def test_files_that_cannot_be_imported_are_refused_and_nothing_is_kept(app, admin, tmp_path, content, message):
    path = tmp_path / "file.csv"
    path.write_bytes(content)
    with app.app_context(), unit_of_work():
        kept_before = set(imports.storage_root().iterdir())
    result = app.test_cli_runner().invoke(args=["import", "contacts", str(path), "--json"])
    assert result.exit_code == 1 and message in result.output
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(func.count()).select_from(ImportBatch)) == 0
        assert set(imports.storage_root().iterdir()) == kept_before


def test_a_user_without_the_import_right_cannot_import(app, make_user, tmp_path):
    user = make_user("sales@example.com", grants={("contact", "create"): "own"})
    path = write(tmp_path / "messy.csv")
    with app.app_context(), unit_of_work(), pytest.raises(AccessDenied, match="import contact"), path.open("rb") as fh:
        imports.upload(_actor(user.id), fh, path.name)


@pytest.mark.parametrize(("full", "parts"), [
    ("Петров Иван Сергеевич", ("Петров", "Иван", "Сергеевич")),
    ("Иван Сергеевич Петров", ("Петров", "Иван", "Сергеевич")),
    ("Петрова Анна", ("Петрова", "Анна", "")),
    ("Анна Петрова", ("Петрова", "Анна", "")),
    ("Мамедов Рашид Гасан оглы", ("Мамедов", "Рашид", "Гасан оглы")),
    ("John Smith", ("Smith", "John", "")),
    ("Мадонна", ("", "Мадонна", "")),
])
def test_full_names_are_split_by_patronymic_and_first_name(full, parts):
    assert split_full_name(full) == parts


@pytest.mark.parametrize("address", [
    "ivan@example.ru", "MARIA@Example.RU", "a.b+tag@mail.co.uk", "a..b@x.ru", ".a@x.ru", "a.@x.ru", "a@x",
    "a@localhost", "x@y.local", "x@sub.test", "a@-x.ru", "a@x-.ru", "a@x.r", "a@x.ru1", "иван@пример.рф",
    "a b@x.ru", '"q"@x.ru', "a@x..ru", "o'neil@x.ru", "a" * 65 + "@x.ru", "a@" + "b" * 64 + ".ru",
])
def test_the_fast_email_check_agrees_with_email_validator(address):
    try:
        checked = validate_email(address, check_deliverability=False)
        expected = (f"{checked.local_part}@{checked.domain.lower()}", True)
    except EmailNotValidError:
        expected = (address, False)
    parsed = emails.parse(address)
    assert (parsed.address, parsed.valid) == expected


def test_phones_keep_their_region_and_doubtful_numbers_are_flagged(app, admin, tmp_path):
    path = tmp_path / "phones.csv"
    path.write_text("Имя;Телефон\r\nОля;+7 000 123 45 67\r\nКатя;29 123 45 67\r\n", encoding="utf-8")
    summary = _cli(app, "contacts", str(path), "--region", "BY", "--json")
    assert [(e["row"], e["severity"]) for e in summary["errors"]] == [(2, "warning")]
    with app.app_context(), unit_of_work():
        katya = db.session.scalar(select(Phone).join(Contact).where(Contact.first_name == "Катя"))
        assert katya.e164 == "+375291234567"


def test_unreadable_files_raise_a_translated_reason(app, admin, tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    with app.app_context(), unit_of_work(), pytest.raises(ImportFileError), path.open("rb") as fh:
        imports.upload(_actor(admin.id), fh, path.name)


def test_big_files_are_read_by_a_second_process_with_the_same_outcome(app, admin, tmp_path, monkeypatch):
    monkeypatch.setattr(import_reading, "PARALLEL_FROM_ROWS", 0)
    monkeypatch.setattr(import_reading, "PARALLEL_FROM_BYTES", 0)
    monkeypatch.setattr(imports, "CHUNK", 3)
    summary = _cli(app, "contacts", str(write(tmp_path / "messy.xlsx")), "--json")
    assert {k: summary[k] for k in ("rows", "created", "merged", "failed", "flagged")} == {
        "rows": 8, "created": 6, "merged": 1, "failed": 1, "flagged": 2}
    assert [(e["row"], e["field"]) for e in summary["errors"]] == [
        (5, "birthday"), (8, "phone"), (8, "email"), (8, "birthday"), (10, "name")]


def test_a_file_that_breaks_off_midway_stops_the_import_with_its_position(app, admin, tmp_path, monkeypatch):
    monkeypatch.setattr(import_reading, "PARALLEL_FROM_ROWS", 0)
    monkeypatch.setattr(imports, "CHUNK", 2)
    path = tmp_path / "broken.csv"
    good = "".join(f"Клиент {n};+7916{n:07d}\r\n" for n in range(40))
    path.write_bytes(f"Имя;Телефон\r\n{good}Анна;\"+7916".encode() + b"1234569\r\n" + b'"' + b"a" * 1_200_000)
    result = app.test_cli_runner().invoke(args=["import", "contacts", str(path), "--json"])
    assert result.exit_code != 0
    with app.app_context(), unit_of_work():
        batch = db.session.scalar(select(ImportBatch))
        # rows 2–41 were committed two by two; the import stopped at the broken cell and can be undone
        assert batch.status == "failed" and batch.position == 41 and "breaks off" in batch.error
        assert len(_live()) == 40


def test_uploaded_files_are_deleted_some_days_after_their_import(app, admin, tmp_path):
    from datetime import timedelta

    from core.models import utcnow

    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        done = _uploaded(actor, write(tmp_path / "done.csv"))
        imports.run_now(actor, done, dry_run=False)
        stopped = _uploaded(actor, write(tmp_path / "stopped.csv"))
        stopped.status = "failed"  # kept: it may still be resumed
        db.session.commit()
        files = {done.id: imports.file_of(done), stopped.id: imports.file_of(stopped)}
        assert imports.purge_files(now=utcnow() + timedelta(days=29)) == 0
        assert imports.purge_files(now=utcnow() + timedelta(days=31)) == 1
        assert not files[done.id].exists() and files[stopped.id].exists()
        with pytest.raises(ImportFileError, match="no longer kept"):
            imports.layout(db.session.get(ImportBatch, done.id))
        # its result and error report stay
        assert imports.summary(db.session.get(ImportBatch, done.id))["created"] == 6
