"""Shared by the API tests: a token for a user, and one record of each kind so that id 1 of every path exists."""

from __future__ import annotations

from typing import Any

from core.db import db, unit_of_work
from core.models import User
from core.services.clients import companies, contacts
from core.services.platform.context import Actor
from core.services.users import tokens
from core.services.work import deals, inbox, tasks


def token_headers(app: Any, user_id: int) -> dict[str, str]:
    with app.app_context(), unit_of_work():
        user = db.session.get(User, user_id)
        token = tokens.create(Actor(user=user, via="test"), user, "test")
    return {"Authorization": f"Bearer {token}"}


def seed_one_of_each(app: Any, user_id: int) -> None:
    """A company, a contact in it, a deal, a task and an inbox item, created by ``user_id``."""
    with app.test_request_context(), unit_of_work():
        actor = Actor(user=db.session.get(User, user_id), via="test")
        deals.ensure_default_pipeline()
        company = companies.save(actor, None, {"name": "ООО Ромашка"})
        contact = contacts.save(actor, None, {"first_name": "Анна", "phones": [{"raw": "+7 916 765-43-21"}],
                                              "companies": [{"company_id": company.id}]})
        deal = deals.save(actor, None, {"title": "Окна", "pipeline_id": deals.pipelines()[0].id,
                                        "contact_id": contact.id})
        tasks.save(actor, None, {"title": "Перезвонить", "deal_id": deal.id})
        inbox.receive(inbox.IncomingItem(channel="phone", name="Лид", phone="+7 916 555 44 33"))
        db.session.commit()
