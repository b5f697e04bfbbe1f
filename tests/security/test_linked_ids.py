"""Issue 10, item 5: a form that pre-fills or shows again a linked record by id (``/deals/new?contact_id=…``, the
422 page of ``POST /contacts/new`` with another owner's company…) never prints the name of a record the user may
not see: such an id is as good as one that does not exist, and a post naming it gets a translated field error."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.db import db, unit_of_work
from core.models import Contact, Deal, Task, User
from core.services.clients import companies, contacts
from core.services.platform.context import Actor
from core.services.work import deals, tasks
from core.testing.fixtures import post_form
from tests.security.routes import all_routes

SECRET = "Невидимка"
OWN = {(entity, action): "own" for entity in ("contact", "company", "deal", "task")
       for action in ("view", "create", "edit", "delete", "export")} | {
    ("inbox", "view"): "own", ("inbox", "edit"): "own"}
LINKS = ("contact_id", "company_id", "deal_id")


@pytest.fixture
def world(app, admin, make_user, login):
    """Another owner's client, company and deal, all named with SECRET; a seller with the own scope and records of
    their own to edit."""
    seller = make_user("seller@example.com", grants=OWN)
    with app.app_context(), unit_of_work():
        boss = Actor(db.session.get(User, admin.id))
        company = companies.save(boss, None, {"name": f"{SECRET} холдинг"})
        contact = contacts.save(boss, None, {"first_name": SECRET, "last_name": "Клиентов"})
        pipeline = deals.ensure_default_pipeline()
        deal = deals.save(boss, None, {"title": f"{SECRET} сделка", "pipeline_id": pipeline.id,
                                       "contact_id": contact.id})
        me = Actor(db.session.get(User, seller.id))
        my_contact = contacts.save(me, None, {"first_name": "Мой", "last_name": "Клиент"})
        my_company = companies.save(me, None, {"name": "Моя фирма"})
        my_deal = deals.save(me, None, {"title": "Моя сделка", "pipeline_id": pipeline.id,
                                        "contact_id": my_contact.id})
        my_task = tasks.save(me, None, {"title": "Моя задача", "contact_id": my_contact.id})
        ids = {"contact_id": contact.id, "company_id": company.id, "deal_id": deal.id}
        mine = {"contact_id": my_contact.id, "company_id": my_company.id, "deal_id": my_deal.id,
                "task_id": my_task.id, "pipeline_id": pipeline.id}
    login(seller)
    return {"secret": ids, "mine": mine, "seller": seller}


def _targets(world) -> dict:
    mine = world["mine"]
    return {"user_id": world["seller"].id, "team_id": 1, "role_id": 1, "record_id": 1, "name": "city",
            "entity": "contacts", "format": "csv", "collection": "contacts", "merge_id": 1, "attachment_id": 1,
            "view_id": 1, "kind": "contact", "item_id": 1, "form_id": 1, "key": "none", "rule_id": 1,
            "batch_id": 1, "token_id": 1, "plugin": "webhooks", "path": "events",
            "delivery_id": 1, "call_id": 1, **mine}


def test_no_page_or_partial_names_a_hidden_record_given_by_id_in_its_address(app, client, world):
    """Every GET route (pages, partials, pickers) with every linked-id parameter naming another owner's record."""
    secret = world["secret"]
    queries = [f"{name}={secret[name]}" for name in LINKS] + ["&".join(f"{n}={secret[n]}" for n in LINKS)]
    checked = 0
    for route in all_routes(app, _targets(world)):
        if route.method != "GET" or route.endpoint.startswith("api.") or route.endpoint == "auth.logout":
            continue
        for query in queries:
            for headers in ({}, {"HX-Request": "true"}):
                joiner = "&" if "?" in route.url else "?"
                body = client.get(f"{route.url}{joiner}{query}", headers=headers).get_data(as_text=True)
                assert SECRET not in body, f"{route.url}{joiner}{query} names another owner's record"
                checked += 1
    assert checked > 100


FORMS = [  # (url, the fields a valid post needs besides the links)
    ("/deals/new", {"title": "Новая сделка"}),
    ("/deals/{deal_id}/edit", {"title": "Моя сделка"}),
    ("/tasks/new", {"title": "Новая задача"}),
    ("/tasks/{task_id}/edit", {"title": "Моя задача"}),
    ("/tasks/recurring", {"title": "Повтор", "rrule": "FREQ=DAILY;COUNT=3", "due_date": "10.01.2030",
                          "due_time": "09:00"}),
]


@pytest.mark.parametrize("url, base, link", [(url, base, link) for url, base in FORMS for link in LINKS
                                             if not (url.startswith("/deals") and link == "deal_id")])
@pytest.mark.parametrize("language, error", [("en", "Choose a"), ("ru", "Выберите")])
def test_a_post_naming_a_hidden_record_is_refused_without_its_name(app, client, world, url, base, link, language,
                                                                    error):
    url = url.format(**world["mine"])
    with app.app_context(), unit_of_work():
        before = (db.session.scalar(select(func.count(Deal.id))), db.session.scalar(select(func.count(Task.id))))
    data = {**base, "pipeline_id": str(world["mine"]["pipeline_id"]), link: str(world["secret"][link])}
    response = post_form(client, url, data, headers={"Accept-Language": language})
    body = response.get_data(as_text=True)
    assert response.status_code == 422, (url, link, response.status_code)
    assert SECRET not in body and error in body, (url, link)
    with app.app_context(), unit_of_work():
        after = (db.session.scalar(select(func.count(Deal.id))), db.session.scalar(select(func.count(Task.id))))
        assert before == after
        mine = db.session.get(Deal, world["mine"]["deal_id"])
        assert mine.contact_id == world["mine"]["contact_id"]  # the refused post changed nothing


@pytest.mark.parametrize("url", ["/contacts/new", "/contacts/{contact_id}/edit", "/companies/new"])
def test_a_contact_form_naming_a_hidden_company_is_refused_without_its_name(app, client, world, url):
    url = url.format(**world["mine"])
    data = {"first_name": "Новый", "name": "Новая фирма", "company_id": str(world["secret"]["company_id"]),
            "company_title": "директор"}
    response = post_form(client, url, data)
    body = response.get_data(as_text=True)
    assert SECRET not in body, url
    if url.startswith("/contacts"):
        assert response.status_code == 422 and "Choose a company from the list." in body
        with app.app_context(), unit_of_work():
            assert db.session.scalar(select(func.count(Contact.id)).where(Contact.first_name == "Новый")) == 0


def test_the_seller_still_sees_their_own_records_named(client, world):
    mine = world["mine"]
    page = client.get(f"/deals/new?contact_id={mine['contact_id']}&company_id={mine['company_id']}")
    assert "Мой Клиент" in page.get_data(as_text=True) and "Моя фирма" in page.get_data(as_text=True)
    task_page = client.get(f"/tasks/new?deal_id={mine['deal_id']}").get_data(as_text=True)
    assert "Моя сделка" in task_page


def test_adding_a_request_to_a_hidden_deal_is_refused_without_its_name(app, client, world):
    from core.models import InboxItem
    from core.services.work import inbox

    with app.app_context(), unit_of_work():
        item = inbox.receive(inbox.IncomingItem(channel="phone", name="Звонок", phone="+7 903 111-22-33")).item
        item.owner_id = world["seller"].id  # proposed to the seller, who may sort it
        db.session.commit()
        item_id = item.id
    response = post_form(client, f"/inbox/{item_id}/accept", {"deal_id": str(world["secret"]["deal_id"])},
                         follow_redirects=True)
    body = response.get_data(as_text=True)
    assert SECRET not in body and "Choose a deal you can see." in body
    with app.app_context(), unit_of_work():
        assert db.session.get(InboxItem, item_id).status == "new"
