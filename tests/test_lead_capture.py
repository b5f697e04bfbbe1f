"""Web forms for lead capture (issue 4): the admin makes a form, a site posts to it (JSON with curl, or the
embedded page), spam is kept with its reason, CORS only for the form's sites, duplicates by Idempotency-Key."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from core.db import db, unit_of_work
from core.models import Deal, InboxItem, LeadForm, Task, Team, User
from core.services.platform.context import Actor
from core.services.work import assignment, inbox
from core.testing.fixtures import form_fields, post_form

SITE = "https://shop.example.com"


def _make_form(admin_client, **extra):
    data = {"name": "Сайт: заказать звонок", "active": "1", "allowed_origins": SITE,
            "stop_phrases": "casino\nкредит без справок", "banned_names": "Тест", "min_fill_seconds": "2",
            "rate_limit_per_hour": "3", "source": "site",
            "field_name": ["name", "phone", "email", "message"], "field_label": ["Имя", "Телефон", "Email", "Вопрос"],
            "field_kind": ["text", "phone", "email", "textarea"], "field_required": ["1"], **extra}
    response = post_form(admin_client, "/admin/intake/forms/new", data)
    assert response.status_code == 302, response.text
    return response


def _form(app) -> tuple[int, str]:
    with app.app_context(), unit_of_work():
        form = db.session.scalar(select(LeadForm))
        return form.id, form.key


def test_admin_form_validation(admin_client):
    bad = post_form(admin_client, "/admin/intake/forms/new", {
        "name": "", "allowed_origins": "shop.example.com/path", "min_fill_seconds": "-1",
        "field_name": ["name"], "field_label": ["Имя"], "field_kind": ["text"]})
    assert bad.status_code == 422
    for message in ("Name the form", "https://example.com", "0 to 600", "phone or an email field"):
        assert message in bad.text


def test_json_post_lands_in_the_inbox_once_and_is_assigned(app, admin, admin_client, client, make_user):
    seller = make_user("seller@example.com", full_name="Продавец")
    _make_form(admin_client, min_fill_seconds="0")  # a server integration: no fill time to wait
    form_id, key = _form(app)
    page = admin_client.get(f"/admin/intake/forms/{form_id}")
    assert f"/f/{key}" in page.text and "&lt;iframe" in page.text
    with app.app_context(), unit_of_work():
        team = Team(name="Продажи")
        team.members = [db.session.get(User, seller.id)]
        db.session.add(team)
        db.session.commit()
        assignment.save_rule(Actor(db.session.get(User, admin.id)), None, {
            "name": "Сайт", "strategy": "round_robin", "team_id": team.id, "follow_up_minutes": "15"})
    body = {"name": "Иван", "phone": "8 916 123-45-67", "message": "Перезвоните после 18", "utm_campaign": "autumn"}
    headers = {"Idempotency-Key": "order-1042", "Origin": SITE}
    first = client.post(f"/f/{key}", json=body, headers=headers)
    assert first.status_code == 201 and first.headers["Access-Control-Allow-Origin"] == SITE
    again = client.post(f"/f/{key}", json=body, headers=headers)
    assert again.status_code == 200 and again.json["id"] == first.json["id"]
    with app.app_context(), unit_of_work():
        item = db.session.get(InboxItem, first.json["id"])
        assert (item.status, item.phone_e164, item.utm["utm_campaign"]) == ("new", "+79161234567", "autumn")
        assert db.session.scalar(select(func.count(InboxItem.id))) == 1
        inbox.accept(Actor(db.session.get(User, admin.id)), item)
        deal = db.session.get(Deal, item.deal_id)
        assert deal.owner_id == seller.id and deal.channel == "web_form" and deal.source == "autumn"
        task = db.session.scalar(select(Task).where(Task.deal_id == deal.id))
        assert task.owner_id == seller.id and task.title.startswith("Call back")


def test_json_errors_name_the_field_and_a_wrong_key(app, admin_client, client):
    _make_form(admin_client)
    _, key = _form(app)
    missing = client.post(f"/f/{key}", json={"name": "Без телефона"})
    assert missing.status_code == 422 and missing.json["fields"] == {"phone": "Fill in Телефон."}
    wrong = client.post("/f/not-a-key", json={"phone": "1"})
    assert wrong.status_code == 404 and "key" in wrong.json["fields"]
    foreign = client.post(f"/f/{key}", json={"phone": "+79161234567"}, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(func.count(InboxItem.id))) == 0


def test_cors_preflight_only_for_allowed_sites(app, admin_client, client):
    _make_form(admin_client)
    _, key = _form(app)
    ok = client.options(f"/f/{key}", headers={"Origin": SITE, "Access-Control-Request-Method": "POST"})
    assert ok.status_code == 204 and ok.headers["Access-Control-Allow-Origin"] == SITE
    assert client.options(f"/f/{key}", headers={"Origin": "https://evil.example"}).status_code == 403


def test_spam_is_kept_with_its_reason(app, admin_client, client):
    _make_form(admin_client)
    form_id, key = _form(app)
    client.post(f"/f/{key}", json={"phone": "+79161112233", "website": "http://spam"})
    client.post(f"/f/{key}", json={"phone": "+79161112234", "message": "Лучшее CASINO онлайн"})
    client.post(f"/f/{key}", json={"phone": "+79161112235", "name": "тест"})
    limited = client.post(f"/f/{key}", json={"phone": "+79161112236"})
    assert limited.status_code == 429  # three posts from this address already this hour: nothing is stored
    with app.app_context(), unit_of_work():
        reasons = list(db.session.scalars(select(InboxItem.reject_reason).order_by(InboxItem.id)))
        assert reasons[0] == "honeypot field filled" and reasons[1].startswith("stop phrase")
        assert reasons[2].startswith("banned name") and len(reasons) == 3
        assert db.session.scalar(select(func.count(InboxItem.id)).where(InboxItem.status == "rejected")) == 3
    page = admin_client.get(f"/admin/intake/forms/{form_id}")
    assert "honeypot field filled" in page.text


def test_embedded_page_minimum_fill_time_and_framing(app, admin_client, client):
    _make_form(admin_client)
    _, key = _form(app)
    page = client.get(f"/f/{key}")
    assert page.status_code == 200 and f"frame-ancestors {SITE}" in page.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in page.headers
    fields = form_fields(page.text)
    fast = client.post(f"/f/{key}", data={**fields, "name": "Быстрый", "phone": "+79160000001"})
    assert fast.status_code == 200 and "Thank you" in fast.text  # a bot is not told it was caught
    no_token = client.post(f"/f/{key}", data={"name": "Без токена", "phone": "+79160000002"})
    assert no_token.status_code == 200
    fresh = form_fields(client.get(f"/f/{key}").text)
    invalid = client.post(f"/f/{key}", data={**fresh, "name": "Без телефона"})
    assert invalid.status_code == 422 and "Fill in Телефон." in invalid.text
    assert form_fields(invalid.text)["_started"] == fresh["_started"]  # the fill time keeps counting
    time.sleep(2.1)
    slow = client.post(f"/f/{key}", data={**fresh, "name": "Человек", "phone": "+79160000003"})
    assert slow.status_code == 200
    with app.app_context(), unit_of_work():
        rows = {i.name: (i.status, i.reject_reason) for i in db.session.scalars(select(InboxItem))}
    assert rows["Быстрый"][0] == "rejected" and "minimum 2 s" in rows["Быстрый"][1]
    assert rows["Без токена"] == ("rejected", "posted without the form's start token")
    assert rows["Человек"] == ("new", "") and "Без телефона" not in rows


def test_inbox_page_accept_and_reject(app, admin, admin_client):
    with app.app_context(), unit_of_work():
        first = inbox.receive(inbox.IncomingItem(channel="phone", name="Звонок <script>", phone="+79031234567")).item
        second = inbox.receive(inbox.IncomingItem(channel="messenger", name="Спамер", body="реклама")).item
        first_id, second_id = first.id, second.id
    page = admin_client.get("/inbox/")
    assert page.status_code == 200 and "Звонок &lt;script&gt;" in page.text and "new lead" in page.text
    assert post_form(admin_client, f"/inbox/{first_id}/accept").status_code == 302
    assert post_form(admin_client, f"/inbox/{second_id}/reject", {"reason": "спам"}).status_code == 302
    with app.app_context(), unit_of_work():
        assert db.session.get(InboxItem, first_id).status == "accepted"
        assert db.session.get(InboxItem, second_id).reject_reason == "спам"
    assert "спам" in admin_client.get("/inbox/?status=rejected").text


def test_contact_centre_submits_and_sees_only_its_own(app, make_user, client, login):
    centre = make_user("centre@example.com", grants={("lead", "submit"): "own", ("lead", "view"): "own"})
    with app.app_context(), unit_of_work():
        inbox.receive(inbox.IncomingItem(channel="phone", name="Чужой лид", phone="+79030000000"))
    login(centre)
    assert post_form(client, "/inbox/submit", {"name": "Мой лид", "phone": ""}).status_code == 422
    assert post_form(client, "/inbox/submit", {"name": "Мой лид", "phone": "+79035554433"}).status_code == 302
    page = client.get("/inbox/")
    assert "Мой лид" in page.text and "Чужой лид" not in page.text and "/accept" not in page.text
    with app.app_context(), unit_of_work():
        other = db.session.scalar(select(InboxItem).where(InboxItem.name == "Чужой лид"))
        mine = db.session.scalar(select(InboxItem).where(InboxItem.name == "Мой лид"))
        other_id, mine_id = other.id, mine.id
    assert post_form(client, f"/inbox/{mine_id}/accept").status_code == 403
    assert post_form(client, f"/inbox/{other_id}/reject", {"reason": "x"}).status_code == 403
    assert client.get("/contacts/").status_code == 403


def test_a_new_form_starts_with_fields_in_the_admins_language(admin_client):
    russian = admin_client.get("/admin/intake/forms/new", headers={"Accept-Language": "ru"})
    assert 'value="Телефон"' in russian.text
    english = admin_client.get("/admin/intake/forms/new", headers={"Accept-Language": "en"})
    assert 'value="Phone"' in english.text
