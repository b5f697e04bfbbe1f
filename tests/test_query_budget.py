"""QUALITY 23: a list or card request costs at most 10 SQL statements, whatever the page size."""

from __future__ import annotations

import threading
from contextlib import contextmanager

from sqlalchemy import event

from core.db import db, unit_of_work
from core.models import Company, User
from core.services.clients import companies, contacts, timeline
from core.services.platform.context import Actor
from core.testing.fixtures import wait_for_jobs

BUDGET = 10


@contextmanager
def counted(app):
    statements: list[str] = []
    with app.app_context(), unit_of_work():
        engine = db.engine

    # only this thread's statements: the test client runs the request here, while the in-process job thread may be
    # dispatching events on the same engine at the same moment
    me = threading.get_ident()

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if threading.get_ident() == me:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _seed(app, admin_id: int, n: int) -> int:
    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, admin_id))
        company = companies.save(actor, None, {"name": "Бюджет"})
        first = None
        for i in range(n):
            saved = contacts.save(actor, None, {"first_name": f"Имя{i}", "phones": [{"raw": f"+7 916 000-{i:04d}"}],
                                                "emails": [{"address": f"p{i}@example.com"}], "tags": ["a", "b"],
                                                "companies": [{"company_id": company.id}]})
            first = first or saved.id
            timeline.record(kind="note", contact_id=saved.id, body="x")
        return first or 0


def test_list_and_card_stay_within_the_budget(app, admin, admin_client):
    first = _seed(app, admin.id, 60)
    for url in ("/contacts/", "/contacts/?limit=200", "/contacts/?q=имя", f"/contacts/{first}", "/companies/",
                "/contacts/?group=city"):
        admin_client.get(url)  # warm caches (sessions, custom field definitions)
        with counted(app) as statements:
            assert admin_client.get(url).status_code == 200
        assert len(statements) <= BUDGET, f"{url}: {len(statements)} statements:\n" + "\n".join(statements)


def test_deal_task_inbox_pages_and_the_company_card_stay_within_the_budget(app, admin, admin_client):
    from core.services.work import deals, inbox, tasks

    first = _seed(app, admin.id, 30)
    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, admin.id))
        pipeline = deals.ensure_default_pipeline()
        company_id = db.session.scalar(db.select(db.func.min(Company.id)))
        for n in range(60):
            deal = deals.save(actor, None, {"title": f"Сделка {n}", "pipeline_id": pipeline.id, "amount": str(n),
                                            "contact_id": first + n % 30, "company_id": company_id})
            tasks.save(actor, None, {"title": f"Задача {n}", "contact_id": first + n % 30, "deal_id": deal.id,
                                     "due_at": f"2099-01-{n % 28 + 1:02d} 10:00"})
            inbox.receive(inbox.IncomingItem(channel="phone", name=f"Звонок {n}", phone=f"+7 903 000-{n:04d}"))
        deal_id, pipeline_id = deal.id, pipeline.id
    wait_for_jobs(app)  # the event dispatcher's statements are not the pages'
    for url in ("/deals/list", "/deals/list?status=open&sort=amount&dir=desc", f"/deals/board/{pipeline_id}",
                f"/deals/{deal_id}", "/tasks/", "/tasks/team", "/inbox/", f"/companies/{company_id}"):
        admin_client.get(url)
        with counted(app) as statements:
            assert admin_client.get(url).status_code == 200
        assert len(statements) <= BUDGET, f"{url}: {len(statements)} statements:\n" + "\n".join(statements)


def test_global_search_stays_within_the_budget(app, admin, admin_client):
    """One statement per kind (contacts, companies, deals), whatever the number of matches."""
    from core.services.work import deals

    first = _seed(app, admin.id, 60)
    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, admin.id))
        pipeline = deals.ensure_default_pipeline()
        for n in range(30):
            deals.save(actor, None, {"title": f"Имя сделки {n}", "pipeline_id": pipeline.id, "amount": str(n),
                                     "contact_id": first + n})
    wait_for_jobs(app)
    for url in ("/search/?q=имя", "/search/suggest?q=имя", "/search/?q=Бюджет", "/search/suggest?q=916",
                "/search/?q=p1@example.com", "/search/?q=%2B7+916+000-0001&go=1"):
        admin_client.get(url)
        with counted(app) as statements:
            assert admin_client.get(url).status_code in (200, 303)
        assert len(statements) <= BUDGET, f"{url}: {len(statements)} statements:\n" + "\n".join(statements)


def test_the_home_page_stays_within_the_budget(app, admin, admin_client):
    """The manager's day: tasks, inbox, deals by stage, recent activity and the team's figures, a statement each."""
    from core.services.work import deals, inbox, tasks

    first = _seed(app, admin.id, 30)
    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, admin.id))
        pipeline = deals.ensure_default_pipeline()
        for n in range(40):
            deal = deals.save(actor, None, {"title": f"Сделка {n}", "pipeline_id": pipeline.id, "amount": str(n),
                                            "contact_id": first + n % 30})
            tasks.save(actor, None, {"title": f"Задача {n}", "contact_id": first + n % 30, "deal_id": deal.id,
                                     "due_at": f"2099-01-{n % 28 + 1:02d} 10:00"})
            inbox.receive(inbox.IncomingItem(channel="phone", name=f"Звонок {n}", phone=f"+7 903 000-{n:04d}"))
        db.session.execute(db.update(tasks.Task).values(due_at=db.func.current_timestamp()))
        db.session.commit()
    wait_for_jobs(app)
    admin_client.get("/")
    with counted(app) as statements:
        page = admin_client.get("/")
    assert page.status_code == 200 and "Задача 1" in page.get_data(as_text=True)
    assert len(statements) <= BUDGET, f"/: {len(statements)} statements:\n" + "\n".join(statements)


API_CREATE_BUDGET = 6  # the cached generation tokens (the token, its user's rights and the custom field
# definitions come from the process's memory while they are current), the contact, its email, its phone, the audit
# entry, the outbox event. No SAVEPOINT: the transaction has written nothing before the save. The COMMIT is not a
# statement the driver sends through a cursor.


def test_creating_a_contact_through_the_api_stays_within_its_budget(app, admin):
    from tests.api_support import token_headers

    headers = token_headers(app, admin.id)
    client = app.test_client()
    body = {"first_name": "Бюджет", "last_name": "Создания", "phones": [{"raw": "+7 916 000-00-01"}],
            "emails": [{"address": "budget@example.com"}]}
    assert client.post("/api/v1/contacts", json=body, headers=headers).status_code == 201  # notes the token's use
    body = {**body, "emails": [{"address": "budget2@example.com"}], "phones": [{"raw": "+7 916 000-00-99"}]}
    assert client.post("/api/v1/contacts", json=body, headers=headers).status_code == 201  # reads it once more
    for n in range(3):
        body = {**body, "phones": [{"raw": f"+7 916 000-00-{n + 2:02d}"}], "emails": [{"address": f"b{n}@example.com"}]}
        with counted(app) as statements:
            assert client.post("/api/v1/contacts", json=body, headers=headers).status_code == 201
        work = [s for s in statements if not s.startswith("BEGIN")]  # SQLite's; PostgreSQL's driver sends its own
        assert len(work) <= API_CREATE_BUDGET, "\n".join(work)
