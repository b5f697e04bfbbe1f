"""Contacts and companies: validation, phones in every format, search, lists, card, inline edit, bulk actions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db import db, unit_of_work
from core.models import Activity, Contact, Phone
from core.services.clients import companies, contacts, custom_fields, listing, timeline
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.testing.fixtures import post_form


def _actor(app, user_id):
    from core.models import User

    return Actor(db.session.get(User, user_id), "127.0.0.1")


@pytest.fixture
def ivan(app, admin):
    with app.app_context(), unit_of_work():
        acme = companies.save(_actor(app, admin.id), None, {"name": "ООО «Ромашка»", "city": "Москва"})
        contact = contacts.save(_actor(app, admin.id), None, {
            "first_name": "Иван", "last_name": "Петров", "middle_name": "Сергеевич", "city": "Москва",
            "phones": [{"raw": "8 916 123-45-67", "kind": "mobile"}],
            "emails": [{"address": " Ivan.Petrov@Example.COM "}],
            "companies": [{"company_id": acme.id, "job_title": "Директор"}], "tags": ["VIP", "vip", "Опт"],
        })
        return contact.id


def test_phone_is_stored_raw_and_e164_and_email_normalised(app, ivan):
    with app.app_context(), unit_of_work():
        contact = db.session.get(Contact, ivan)
        phone = contact.phones[0]
        assert (phone.raw, phone.e164, phone.valid) == ("8 916 123-45-67", "+79161234567", True)
        assert contact.emails[0].address == "Ivan.Petrov@example.com"
        assert contact.emails[0].normalized == "ivan.petrov@example.com"
        assert [t.name for t in contact.tags] == ["VIP", "Опт"]
        assert contact.search_lf == "петров иван сергеевич"


@pytest.mark.parametrize("typed", ["8 916 123-45-67", "+7(916)1234567", "9161234567", "4567", "1234567",
                                   "петр", "иван пет", "ромашка", "ivan.petrov@", "IVAN.PETROV@EXAMPLE.COM"])
def test_search_finds_the_contact_however_it_is_typed(app, admin, ivan, typed):
    with app.app_context(), unit_of_work():
        from core.models import User

        me = db.session.get(User, admin.id)
        rows = listing.page(listing.CONTACTS, listing.ListQuery(q=typed), me).rows
        assert [c.id for c in rows] == [ivan], typed


def test_unparseable_phone_is_an_error_unless_kept_flagged(app, admin):
    with app.app_context(), unit_of_work():
        actor = _actor(app, admin.id)
        with pytest.raises(InvalidInput) as info:
            contacts.save(actor, None, {"first_name": "Anna", "phones": [{"raw": "12"}]})
        assert "phones.0" in info.value.errors
        assert db.session.scalar(select(Contact.id)) is None, "nothing half-written"
        saved = contacts.save(actor, None, {"first_name": "Anna", "phones": [{"raw": "12"}]},
                              keep_unparsed_phones=True)
        phone = db.session.scalar(select(Phone).where(Phone.contact_id == saved.id))
        assert (phone.raw, phone.e164, phone.valid) == ("12", None, False)


def test_bad_values_name_each_field(app, admin):
    with app.app_context(), unit_of_work():
        custom_fields.save_definition(_actor(app, admin.id), None, entity="contact", label="Марка авто",
                                      type_="choice", choices=["BMW", "Lada"], required=False)
        custom_fields.save_definition(_actor(app, admin.id), None, entity="contact", label="Дети",
                                      type_="number", choices=[], required=False)
        with pytest.raises(InvalidInput) as info:
            contacts.save(_actor(app, admin.id), None, {
                "first_name": "X", "emails": [{"address": "not-an-email"}], "birthday": "31.02.1990",
                "custom": {"marka_avto": "Tesla", "deti": "two"}})
        assert set(info.value.errors) == {"emails.0", "birthday", "custom.marka_avto", "custom.deti"}


def test_custom_fields_are_validated_and_stored(app, admin):
    with app.app_context(), unit_of_work():
        actor = _actor(app, admin.id)
        for label, type_, choices in [("Car", "choice", ["BMW", "Lada"]), ("Kids", "number", []),
                                      ("Since", "date", []), ("Hobbies", "multichoice", ["golf", "fishing"]),
                                      ("Vip", "boolean", []), ("Site", "link", [])]:
            custom_fields.save_definition(actor, None, entity="contact", label=label, type_=type_, choices=choices,
                                          required=False)
        saved = contacts.save(actor, None, {"first_name": "Olga", "custom": {
            "car": "BMW", "kids": "2", "since": "01.03.2020", "hobbies": ["golf"], "vip": True,
            "site": "https://olga.example"}})
        assert saved.custom == {"car": "BMW", "kids": 2, "since": "2020-03-01", "hobbies": ["golf"], "vip": True,
                                "site": "https://olga.example"}
        with pytest.raises(InvalidInput) as info:
            contacts.save(actor, saved, {"custom": {"site": "javascript:alert(1)"}}, partial=True)
        assert "custom.site" in info.value.errors


def test_list_pages_by_keyset_and_filters(app, admin):
    with app.app_context(), unit_of_work():
        from core.models import User

        actor = _actor(app, admin.id)
        for n in range(7):
            contacts.save(actor, None, {"first_name": f"Name{n}", "last_name": "Same", "city": "Тверь" if n % 2
                                        else "Псков"})
        me = db.session.get(User, admin.id)
        first = listing.page(listing.CONTACTS, listing.ListQuery(limit=3), me)
        assert len(first.rows) == 3 and first.next_cursor
        second = listing.page(listing.CONTACTS, listing.ListQuery(limit=3, cursor=first.next_cursor), me)
        third = listing.page(listing.CONTACTS, listing.ListQuery(limit=3, cursor=second.next_cursor), me)
        names = [c.first_name for c in first.rows + second.rows + third.rows]
        assert names == [f"Name{n}" for n in range(7)] and third.next_cursor is None
        tver = listing.page(listing.CONTACTS, listing.ListQuery(filters={"city": ["Тверь"]}), me)
        assert len(tver.rows) == 3
        groups = listing.groups(listing.CONTACTS, listing.ListQuery(group="city"), me)
        assert [(label, n) for _v, label, n in groups] == [("Псков", 4), ("Тверь", 3)]


def test_reassign_keeps_history_and_needs_assign(app, admin, make_user):
    other = make_user("other@example.com")
    seller = make_user("seller@example.com", grants={("contact", "view"): "own", ("contact", "edit"): "own"})
    with app.app_context(), unit_of_work():
        saved = contacts.save(_actor(app, admin.id), None, {"first_name": "Client", "owner_id": seller.id})
        assert saved.owner_id == seller.id
        with pytest.raises(contacts.AccessDenied):
            contacts.reassign(_actor(app, seller.id), [saved.id], other.id)
        assert contacts.reassign(_actor(app, admin.id), [saved.id], other.id) == [saved.id]
        history = db.session.scalar(select(Activity).where(Activity.contact_id == saved.id, Activity.kind == "owner"))
        assert history.data == {"from": seller.id, "to": other.id, "reason": "", "from_name": "seller@example.com",
                                "to_name": "other@example.com"}  # names as they were, for the timeline's words


def test_soft_delete_and_undo(app, admin, ivan):
    with app.app_context(), unit_of_work():
        actor = _actor(app, admin.id)
        assert contacts.delete(actor, [ivan]) == [ivan]
        with pytest.raises(LookupError):
            contacts.get(actor, ivan)
        assert contacts.restore(actor, [ivan]) == [ivan]
        assert contacts.get(actor, ivan).id == ivan


def test_pages_render(admin_client, ivan):
    for url in ("/contacts/", f"/contacts/{ivan}", f"/contacts/{ivan}/edit", "/contacts/new", "/companies/",
                "/companies/new", "/contacts/?group=owner", "/contacts/?q=916", "/admin/custom-fields",
                "/contacts/?city=Москва&tag=VIP&owner=me&quiet_days=3", "/companies/?group=city",
                f"/contacts/{ivan}/field/city?edit=1", "/companies/1", "/companies/1/field/industry?edit=1",
                "/contacts/?columns=tags&columns=created"):
        response = admin_client.get(url)
        assert response.status_code == 200, url
    card = admin_client.get(f"/contacts/{ivan}").data.decode()
    assert "Петров" in card and "8 (916) 123-45-67" in card and 'href="tel:+79161234567"' in card


def test_form_keeps_what_was_typed_and_names_the_field(admin_client):
    response = post_form(admin_client, "/contacts/new", {
        "first_name": "Мария", "email_address": "maria@", "email_kind": "work", "phone_raw": "+7 916 000-00-01",
        "phone_kind": "mobile", "birthday": "40.13.2000"})
    assert response.status_code == 422
    html = response.data.decode()
    assert 'value="Мария"' in html and 'value="maria@"' in html and 'value="+7 916 000-00-01"' in html
    assert "is not an email address" in html and "DD.MM.YYYY" in html


def test_inline_edit(admin_client, ivan, app):
    response = post_form(admin_client, f"/contacts/{ivan}/field/city", {"value": "Казань"})
    assert response.status_code == 200 and "Казань" in response.data.decode()
    bad = post_form(admin_client, f"/contacts/{ivan}/field/birthday", {"value": "завтра"})
    assert bad.status_code == 422 and 'value="завтра"' in bad.data.decode()
    with app.app_context(), unit_of_work():
        assert db.session.get(Contact, ivan).city == "Казань"


def test_html_in_names_and_notes_is_text(admin_client, app, admin):
    payload = '<img src=x onerror=alert(1)><script>alert(2)</script>'
    with app.app_context(), unit_of_work():
        saved = contacts.save(_actor(app, admin.id), None, {"first_name": payload, "notes": payload})
        contact_id = saved.id
    post_form(admin_client, f"/contacts/{contact_id}/notes", {"body": payload})
    for url in (f"/contacts/{contact_id}", "/contacts/", f"/contacts/?q={payload[:5]}"):
        html = admin_client.get(url).data.decode()
        assert "<script>alert(2)" not in html and "<img src=x" not in html


def test_demo_data_fills_a_fresh_installation(app, admin):
    result = app.test_cli_runner().invoke(args=["demo-data", "--size", "20"])
    assert result.exit_code == 0, result.output
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(db.func.count(Contact.id))) == 20
        assert db.session.scalar(select(db.func.count(Activity.id))) > 0
        from core.models import Deal, Task

        assert db.session.scalar(select(db.func.count(Deal.id))) == 10
        assert db.session.scalar(select(db.func.count(Task.id))) > 0
    again = app.test_cli_runner().invoke(args=["demo-data"])
    assert again.exit_code == 1 and "fresh installation" in again.output


def test_duplicates_warned_listed_merged_and_undone(app, admin, admin_client):
    with app.app_context(), unit_of_work():
        actor = _actor(app, admin.id)
        first = contacts.save(actor, None, {"first_name": "Пётр", "last_name": "Орлов", "city": "Тверь",
                                            "phones": [{"raw": "+7 916 555-44-33"}], "tags": ["опт"]})
        timeline.record(kind="note", contact_id=first.id, body="first note", source="test", external_id="n1")
        first_id = first.id
    response = post_form(admin_client, "/contacts/new", {
        "first_name": "Петя", "last_name": "Орлов", "phone_raw": "8 (916) 555-44-33", "phone_kind": "mobile",
        "email_address": "petya@example.com", "email_kind": "work"}, follow_redirects=True)
    assert "Возможно, это дубль" in response.get_data(as_text=True) or "may be a duplicate" in response.get_data(
        as_text=True)
    with app.app_context(), unit_of_work():
        second_id = db.session.scalar(select(Contact.id).where(Contact.first_name == "Петя"))
        timeline.record(kind="call", contact_id=second_id, title="call", source="test", external_id="c1")
    groups = admin_client.get("/contacts/duplicates").get_data(as_text=True)
    assert "+79165554433" in groups
    compare = admin_client.get(f"/contacts/merge?ids={first_id}&ids={second_id}")
    assert compare.status_code == 200 and "1 entry" in compare.get_data(as_text=True)
    merged = post_form(admin_client, "/contacts/merge", {"ids": [first_id, second_id], "keep": first_id,
                                                         "field-first_name": second_id})
    assert merged.status_code == 302
    with app.app_context(), unit_of_work():
        kept = db.session.get(Contact, first_id)
        assert kept.first_name == "Петя" and kept.city == "Тверь"
        assert {e.address for e in kept.emails} == {"petya@example.com"} and len(kept.phones) == 1
        assert db.session.get(Contact, second_id).merged_into_id == first_id
        kinds = {a.kind for a in db.session.scalars(select(Activity).where(Activity.contact_id == first_id))}
        assert {"note", "call", "merge"} <= kinds
        merge_id = db.session.scalar(select(Activity.id).where(Activity.kind == "merge"))
    assert "Undo merge" in admin_client.get(f"/contacts/{first_id}").get_data(as_text=True)
    undone = post_form(admin_client, f"/contacts/merge/{merge_id}/undo")
    assert undone.status_code == 302
    with app.app_context(), unit_of_work():
        kept = db.session.get(Contact, first_id)
        other = db.session.get(Contact, second_id)
        assert kept.first_name == "Пётр" and kept.emails == [] and other.deleted_at is None
        assert db.session.scalar(select(Activity.contact_id).where(Activity.external_id == "c1")) == second_id
        from core.models import AuditEntry

        actions = set(db.session.scalars(select(AuditEntry.action)))
        assert {"contact.merged", "contact.merge_undone"} <= actions


def test_export_neutralises_formulas(app, admin, admin_client):
    import csv
    import io

    from openpyxl import load_workbook

    with app.app_context(), unit_of_work():
        contacts.save(_actor(app, admin.id), None, {"first_name": "=HYPERLINK(\"http://evil\")", "last_name": "+1",
                                                    "city": "@SUM(A1)", "source": "-2+3"})
    text = admin_client.get("/export/contacts.csv").get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][0] == "ID" and len(rows) == 2
    for cell in rows[1]:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    book = load_workbook(io.BytesIO(admin_client.get("/export/contacts.xlsx").data))
    for row in book.active.iter_rows(min_row=2, values_only=True):
        for cell in row:
            assert cell is None or not str(cell).startswith(("=", "+", "-", "@")), cell
    for row in book.active.iter_rows():
        for cell in row:
            assert cell.data_type != "f"


def test_saved_views_private_and_shared(app, admin, admin_client, make_user, login, client):
    saved = post_form(admin_client, "/views/contact", {"name": "Тверь, VIP", "city": "Тверь", "tag": "VIP",
                                                       "columns": ["tags", "city"], "shared": "1"})
    assert saved.status_code == 302 and "city=" in saved.headers["Location"]
    post_form(admin_client, "/views/contact", {"name": "Мой личный", "city": "Псков"})
    seller = make_user("seller@example.com", grants={("contact", "view"): "own"})
    login(seller)
    page = client.get("/contacts/").get_data(as_text=True)
    assert "Тверь, VIP" in page and "Мой личный" not in page
    post_form(client, "/views/contact", {"name": "Попытка", "shared": "1"})
    with app.app_context(), unit_of_work():
        from core.models import SavedView

        mine = db.session.scalar(select(SavedView).where(SavedView.name == "Попытка"))
        assert mine.shared is False, "sharing needs the assign right"
        shared_id = db.session.scalar(select(SavedView.id).where(SavedView.name == "Тверь, VIP"))
    assert post_form(client, f"/views/{shared_id}/delete").status_code == 404


def test_company_fields_edit_in_place(admin_client, app, ivan):
    with app.app_context(), unit_of_work():
        from core.models import Company

        company_id = db.session.scalar(select(Company.id))
    ok = post_form(admin_client, f"/companies/{company_id}/field/industry", {"value": "Логистика"})
    assert ok.status_code == 200 and "Логистика" in ok.get_data(as_text=True)
    empty = post_form(admin_client, f"/companies/{company_id}/field/name", {"value": " "})
    assert empty.status_code == 422 and "Укажите название" not in empty.get_data(as_text=True)
    assert "Give the company a name." in empty.get_data(as_text=True)
    assert admin_client.get(f"/companies/{company_id}/field/password_hash").status_code == 404


def test_companies_merge_moves_people_and_undo_restores(app, admin, admin_client):
    with app.app_context(), unit_of_work():
        actor = _actor(app, admin.id)
        first = companies.save(actor, None, {"name": "ООО «Вектор»", "phones": [{"raw": "+7 495 100-20-30"}]})
        second = companies.save(actor, None, {"name": "Вектор", "industry": "Логистика",
                                              "emails": [{"address": "info@vector.example"}]})
        person = contacts.save(actor, None, {"first_name": "Сотрудник",
                                             "companies": [{"company_id": second.id, "job_title": "Водитель"}]})
        timeline.record(kind="note", company_id=second.id, body="about the company", source="t", external_id="cn")
        first_id, second_id, person_id = first.id, second.id, person.id
    groups = admin_client.get("/companies/duplicates").get_data(as_text=True)
    assert "name: вектор" in groups
    assert admin_client.get(f"/companies/merge?ids={first_id}&ids={second_id}").status_code == 200
    response = post_form(admin_client, "/companies/merge", {"ids": [first_id, second_id], "keep": first_id,
                                                            "field-industry": second_id})
    assert response.status_code == 302
    with app.app_context(), unit_of_work():
        from core.models import Company, ContactCompany

        kept = db.session.get(Company, first_id)
        assert kept.industry == "Логистика" and [e.address for e in kept.emails] == ["info@vector.example"]
        links = db.session.scalars(select(ContactCompany).where(ContactCompany.contact_id == person_id)).all()
        assert [(m.company_id, m.job_title) for m in links] == [(first_id, "Водитель")]
        assert db.session.scalar(select(Activity.company_id).where(Activity.external_id == "cn")) == first_id
        merge_id = db.session.scalar(select(Activity.id).where(Activity.kind == "merge"))
    assert post_form(admin_client, f"/companies/merge/{merge_id}/undo").status_code == 302
    with app.app_context(), unit_of_work():
        kept = db.session.get(Company, first_id)
        assert kept.industry == "" and kept.emails == []
        links = db.session.scalars(select(ContactCompany).where(ContactCompany.contact_id == person_id)).all()
        assert [(m.company_id, m.job_title) for m in links] == [(second_id, "Водитель")]
        assert db.session.get(Company, second_id).deleted_at is None
        assert db.session.scalar(select(Activity.company_id).where(Activity.external_id == "cn")) == second_id


def test_count_loads_after_the_page(admin_client, app, admin):
    with app.app_context(), unit_of_work():
        actor = _actor(app, admin.id)
        for n in range(3):
            contacts.save(actor, None, {"first_name": f"C{n}", "city": "Омск" if n else "Тула"})
    page = admin_client.get("/contacts/?limit=2").get_data(as_text=True)
    assert 'hx-get="/contacts/count?limit=2"' in page
    assert admin_client.get("/contacts/count", headers={"HX-Request": "true"}).get_data(as_text=True).strip() == "3"
    assert admin_client.get("/contacts/count?city=Омск").get_data(as_text=True).strip() == "2"
    whole = admin_client.get("/contacts/").get_data(as_text=True)
    assert "/contacts/count" not in whole, "a list that fits on one page is counted in place"


def test_notes_keep_lines_and_lose_control_characters(app, admin):
    """A NUL in notes (from the API, an import or a plugin) is dropped: PostgreSQL cannot store it."""
    with app.app_context(), unit_of_work():
        actor = _actor(app, admin.id)
        for raw in ("\x00=1+1", "первая строка\nвторая\x00\x07", "\ttab\x1b[31m"):
            contact = contacts.save(actor, None, {"first_name": "Нора", "notes": raw})
            db.session.commit()
            assert contact.notes == "".join(ch for ch in raw if ch in "\n\t" or ord(ch) >= 32)
