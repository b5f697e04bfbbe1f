"""Words whose English is one spelling and whose Russian depends on the place they stand in (issue 10, item 13):
each is asked for by context, and each place shows the Russian a native speaker would write."""

from __future__ import annotations

from flask import render_template_string
from flask_babel import force_locale

from core.testing.fixtures import post_form


def _russian(admin_client) -> None:
    post_form(admin_client, "/language", {"locale": "ru", "next": "/"})


def test_pages_say_the_word_for_their_place(app, admin, admin_client):
    _russian(admin_client)
    users = admin_client.get("/admin/users").data.decode()
    assert "<th>Имя</th>" in users and "Название" not in users
    team = admin_client.get("/tasks/team").data.decode()
    assert "Открытые" in team and "Открыть" not in team
    audit = admin_client.get("/admin/audit").data.decode()
    assert "Запись" in audit and "Записать" not in audit


def test_a_visitors_name_is_asked_as_a_name(app, admin):
    from core.services.work import lead_forms

    with app.test_request_context("/"), force_locale("ru"):
        labels = {f["name"]: f["label"] for f in lead_forms.standard_fields()}
    assert labels["name"] == "Имя" and labels["phone"] == "Телефон"


def test_a_finished_import_is_said_in_the_masculine(app):
    with app.test_request_context("/"), force_locale("ru"):
        html = render_template_string('{% include "imports/_state.html" %}',
                                      b={"status": "finished", "dry_run": False})
    assert "завершён" in html and "выполнена" not in html


def test_the_inbox_names_the_owner_not_a_boss(app, admin, admin_client, make_user):
    from core.db import db, unit_of_work
    from core.models import User
    from core.services.clients import contacts
    from core.services.platform.context import Actor
    from core.services.work import deals, inbox

    seller = make_user("seller@example.com", full_name="Пётр Продавцов")
    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, admin.id))
        client = contacts.save(actor, None, {"first_name": "Ольга", "owner_id": seller.id,
                                             "phones": [{"raw": "+7 916 123 45 67"}]})
        deals.save(actor, None, {"title": "Окна", "pipeline_id": deals.ensure_default_pipeline().id,
                                 "contact_id": client.id, "owner_id": seller.id})
        inbox.receive(inbox.IncomingItem(channel="phone", source="telephony", external_id="c1", phone="89161234567"))
        db.session.commit()
    _russian(admin_client)
    page = admin_client.get("/inbox/?status=attached").data.decode()
    assert "Ответственный: Пётр Продавцов" in page and "Руководитель" not in page
