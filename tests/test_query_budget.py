"""QUALITY 23: a list or card request costs at most 10 SQL statements, whatever the page size."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from core.db import db
from core.models import User
from core.services import companies, contacts, timeline
from core.services.context import Actor

BUDGET = 10


@contextmanager
def counted(app):
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _seed(app, admin_id: int, n: int) -> int:
    with app.app_context():
        actor = Actor(db.session.get(User, admin_id))
        company = companies.save(actor, None, {"name": "Бюджет"})
        first = None
        for i in range(n):
            saved = contacts.save(actor, None, {"first_name": f"Имя{i}", "phones": [{"raw": f"+7 916 000-{i:04d}"}],
                                                "emails": [{"address": f"p{i}@example.com"}], "tags": ["a", "b"],
                                                "companies": [{"company_id": company.id}]})
            first = first or saved.id
            timeline.record(kind="note", contact_id=saved.id, body="x", commit=True)
        return first or 0


def test_list_and_card_stay_within_the_budget(app, admin, admin_client):
    first = _seed(app, admin.id, 60)
    for url in ("/contacts/", "/contacts/?limit=200", "/contacts/?q=имя", f"/contacts/{first}", "/companies/",
                "/contacts/?group=city"):
        admin_client.get(url)  # warm caches (sessions, custom field definitions)
        with counted(app) as statements:
            assert admin_client.get(url).status_code == 200
        assert len(statements) <= BUDGET, f"{url}: {len(statements)} statements:\n" + "\n".join(statements)
