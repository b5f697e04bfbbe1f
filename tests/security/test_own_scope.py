"""Issue 3's leak walk: a user with the "own" scope walks every route (pages, partials, exports, API) and never
sees another owner's contact or company."""

from __future__ import annotations

from core.db import db, unit_of_work
from core.models import User
from core.services.clients import companies, contacts
from core.services.platform.context import Actor
from core.services.users import tokens
from core.services.work import deals, inbox, recurrence, tasks
from tests.security.routes import all_routes

SECRET = "Засекреченный"
OWN = {(entity, action): "own" for entity in ("contact", "company", "deal", "task")
       for action in ("view", "create", "edit", "delete", "export")} | {
    ("inbox", "view"): "own", ("inbox", "edit"): "own", ("lead", "view"): "own", ("lead", "submit"): "own"}


def test_own_scope_never_leaks_another_owners_client(app, admin, make_user, login, client):
    seller = make_user("seller@example.com", grants=OWN)
    with app.app_context(), unit_of_work():
        boss = Actor(db.session.get(User, admin.id))
        company = companies.save(boss, None, {"name": f"{SECRET} холдинг", "phones": [{"raw": "+7 495 111-22-33"}]})
        secret = contacts.save(boss, None, {"first_name": SECRET, "last_name": "Агент",
                                            "phones": [{"raw": "+7 916 999-88-77"}],
                                            "emails": [{"address": "agent@secret.example"}],
                                            "companies": [{"company_id": company.id}]})
        pipeline = deals.ensure_default_pipeline()
        deal = deals.save(boss, None, {"title": f"{SECRET} сделка", "pipeline_id": pipeline.id,
                                       "contact_id": secret.id})
        task = tasks.save(boss, None, {"title": f"{SECRET} задача", "contact_id": secret.id, "deal_id": deal.id})
        item = inbox.receive(inbox.IncomingItem(channel="phone", name=f"{SECRET} звонок",
                                                phone="+7 916 999-88-77")).item
        rule = recurrence.create(boss, {"title": f"{SECRET} отчёт", "rrule": "FREQ=DAILY;COUNT=3",
                                        "starts_at": "2030-01-01 10:00"})
        mine = contacts.save(Actor(db.session.get(User, seller.id)), None, {"first_name": "Мой клиент"})
        from core.models import ImportBatch

        batch = ImportBatch(filename=f"{SECRET}.csv", stored_name="x.csv", format="csv", status="finished",
                            created_by_id=boss.user_id)
        db.session.add(batch)
        from core.models import Call

        secret_call = Call(provider="test", external_id="secret-call", direction="in", state="ended",
                           outcome="missed", client_number="+79169998877", user_id=boss.user_id,
                           contact_id=secret.id, legs={})
        db.session.add(secret_call)
        db.session.commit()
        token = tokens.create(Actor(None, via="test"), db.session.get(User, seller.id))
        targets = {"user_id": admin.id, "team_id": 1, "role_id": 1, "record_id": 1, "contact_id": secret.id,
                   "company_id": company.id, "name": "city", "entity": "contacts", "format": "csv",
                   "collection": "contacts", "merge_id": 1, "attachment_id": 1, "view_id": 1, "kind": "contact",
                   "pipeline_id": pipeline.id, "deal_id": deal.id, "task_id": task.id, "item_id": item.id,
                   "form_id": 1, "key": "none", "rule_id": rule.id, "batch_id": batch.id, "token_id": 1,
                   "plugin": "webhooks", "path": "events", "delivery_id": 1, "call_id": secret_call.id}
        mine_id = mine.id
    login(seller)
    api = {"Authorization": f"Bearer {token}"}
    for route in all_routes(app, targets):
        if route.method != "GET":
            continue
        response = client.get(route.url, headers=api if route.endpoint.startswith("api.") else {})
        assert SECRET not in response.get_data(as_text=True), f"{route} leaked another owner's client"
    searches = ["/contacts/?q=Засекр", "/contacts/?q=916 999-88-77", "/contacts/?q=agent@secret",
                "/companies/?q=засекр", "/export/contacts.csv?q=Засекр", "/export/contacts.csv",
                "/export/companies.csv", "/contacts/?group=company", "/contacts/?group=owner",
                "/companies/options?q=засекр", f"/plugins/card-basics/colleagues/{mine_id}",
                "/inbox/?status=attached", "/inbox/?status=new", "/tasks/recurring", "/tasks/", "/calls/",
                f"/calls/{secret_call.id}/status", "/calls/?outcome=missed"]
    for url in searches:
        body = client.get(url).get_data(as_text=True)
        assert SECRET not in body, url
    for url in ("/api/v1/contacts?q=Засекр", "/api/v1/contacts?phone=89169998877", "/api/v1/companies"):
        assert SECRET not in client.get(url, headers=api).get_data(as_text=True), url
    assert "Мой клиент" in client.get("/contacts/").get_data(as_text=True)
