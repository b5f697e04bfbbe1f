"""Smaller things a new user met (issue 10, item 22): a job title typed without a company is kept; notifications
name people by their full name."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db import db, unit_of_work
from core.models import Contact, Notification, User
from core.services.platform.context import Actor
from core.services.work import reassign, tasks
from core.testing.fixtures import post_form


@pytest.mark.parametrize(("own", "rows", "kept"), [
    ("", [("", "Главный бухгалтер")], "Главный бухгалтер"),
    ("", [("", "Снабженец"), ("", "")], "Снабженец"),
    ("Директор", [("", "Учредитель")], "Директор, Учредитель"),
    ("Директор", [("", "директор")], "Директор"),
])
def test_a_job_title_typed_without_a_company_is_kept_as_the_contacts_own(app, admin, admin_client, own, rows,
                                                                        kept):
    form = {"first_name": "Вера", "last_name": "Титулова", "job_title": own,
            "company_id": [r[0] for r in rows], "company_title": [r[1] for r in rows]}
    saved = post_form(admin_client, "/contacts/new", form)
    assert saved.status_code == 302
    with app.app_context(), unit_of_work():
        contact = db.session.scalar(select(Contact).where(Contact.last_name == "Титулова"))
        assert contact.job_title == kept and contact.memberships == []


def test_notifications_name_people_by_full_name(app, admin, make_user):
    boss = make_user("boss.person@example.com", full_name="Борис Начальников", is_admin=True)
    worker = make_user("worker@example.com", full_name="Рита Работникова")
    nameless = make_user("nameless@example.com", is_admin=True)
    taker = make_user("taker@example.com", full_name="Тимур Принимающий")
    with app.app_context(), unit_of_work():
        tasks.save(Actor(db.session.get(User, boss.id)), None, {"title": "Отчёт", "owner_id": worker.id})
        tasks.save(Actor(db.session.get(User, nameless.id)), None, {"title": "Счёт", "owner_id": worker.id})
        reassign.reassign(Actor(db.session.get(User, boss.id)), from_user_id=worker.id, to_user_id=taker.id)
        said = {n.user_id: [] for n in db.session.scalars(select(Notification))}
        for n in db.session.scalars(select(Notification).order_by(Notification.id)):
            said[n.user_id].append(n.params)
    assert said[worker.id][0]["author"] == "Борис Начальников"
    assert said[worker.id][1]["author"] == "nameless@example.com"  # no name given: the email
    assert said[taker.id][0]["actor"] == "Борис Начальников"
    assert not any("boss.person@example.com" in str(p) for ps in said.values() for p in ps)


def test_inbox_adds_to_a_deal_picked_by_its_title_not_a_number(app, admin, admin_client):
    from core.models import InboxItem
    from core.services.work import deals, inbox

    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, admin.id))
        deal = deals.save(actor, None, {"title": "Кухня Ивановых", "pipeline_id": deals.ensure_default_pipeline().id})
        item = inbox.receive(inbox.IncomingItem(channel="email", name="Незнакомец", email="new.person@example.com",
                                                subject="Вопрос")).item
        db.session.commit()
        item_id, deal_id = item.id, deal.id
    page = admin_client.get("/inbox/").text
    assert f'id="deal-{item_id}"' in page and 'name="deal_id" value=""' in page and "deal #" not in page
    assert "Кухня Ивановых" in admin_client.get("/deals/pick/deal?deal_pick_q=кухня").text
    nothing = post_form(admin_client, f"/inbox/{item_id}/accept", {"to_deal": "1", "deal_id": ""},
                        follow_redirects=True)
    assert "Choose the deal by its title or client." in nothing.text
    with app.app_context(), unit_of_work():
        assert db.session.get(InboxItem, item_id).status == "new"  # nothing was accepted by accident
    added = post_form(admin_client, f"/inbox/{item_id}/accept", {"to_deal": "1", "deal_id": deal_id})
    assert added.status_code == 302
    with app.app_context(), unit_of_work():
        assert (db.session.get(InboxItem, item_id).status, db.session.get(InboxItem, item_id).deal_id) == (
            "attached", deal_id)
