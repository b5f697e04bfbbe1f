"""The inbox of incoming work (issue 4): idempotent receiving, matching by phone and email, accept / attach /
reject, auto-accept per channel, assignment rules with working hours and the follow-up task."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from core.db import db, unit_of_work
from core.models import Activity, AssignmentRule, Deal, InboxItem, Notification, OutboxEvent, Task, Team, User
from core.services.clients import contacts
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.services.work import assignment, deals, inbox


def _actor(user_id: int) -> Actor:
    return Actor(db.session.get(User, user_id))


def test_same_delivery_twice_is_one_item(app):
    with app.app_context(), unit_of_work():
        first, created, _updated = inbox.receive(inbox.IncomingItem(channel="phone", source="telephony",
                                                                    external_id="call-1",
                                       phone="8 (916) 123-45-67", name="Звонящий"))
        again, created_again, _updated = inbox.receive(inbox.IncomingItem(channel="phone", source="telephony",
                                                                          external_id="call-1",
                                             phone="8 (916) 123-45-67", name="Звонящий"))
        assert created and not created_again and first.id == again.id
        assert first.phone_e164 == "+79161234567" and first.proposal == "new_lead"
        assert db.session.scalar(select(func.count(InboxItem.id))) == 1
        assert db.session.scalar(select(func.count(OutboxEvent.id))
                                 .where(OutboxEvent.name == "inbox_item_received")) == 1


def test_known_client_with_open_deal_gets_the_item_on_the_deal(app, admin, make_user):
    manager = make_user("manager@example.com")
    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        client = contacts.save(actor, None, {"first_name": "Ольга", "owner_id": manager.id,
                                             "phones": [{"raw": "+7 916 123 45 67"}]})
        deal = deals.save(actor, None, {"title": "Окна", "pipeline_id": deals.ensure_default_pipeline().id,
                                        "contact_id": client.id, "owner_id": manager.id})
        item = inbox.receive(inbox.IncomingItem(channel="phone", source="telephony", external_id="c2",
                                                phone="89161234567")).item
        assert (item.status, item.proposal, item.deal_id, item.owner_id) == ("attached", "attach", deal.id,
                                                                              manager.id)
        entry = db.session.scalar(select(Activity).where(Activity.external_id == f"inbox:{item.id}"))
        assert entry.kind == "call" and entry.contact_id == client.id and entry.data["deal_id"] == deal.id
        assert db.session.scalar(select(func.count(Notification.id)).where(Notification.user_id == manager.id)) == 1


def test_known_client_without_open_deal_gets_a_deal_proposed_for_its_owner(app, admin, make_user):
    manager = make_user("manager@example.com")
    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        client = contacts.save(actor, None, {"first_name": "Пётр", "owner_id": manager.id,
                                             "emails": [{"address": "Petr@Example.com"}]})
        item = inbox.receive(inbox.IncomingItem(channel="email", source="mail", external_id="m1",
                                                email="petr@example.COM",
                                subject="Нужна консультация", body="Добрый день")).item
        assert (item.status, item.proposal, item.contact_id, item.owner_id) == ("new", "new_deal", client.id,
                                                                                 manager.id)
        inbox.accept(actor, item)
        deal = db.session.get(Deal, item.deal_id)
        assert item.status == "accepted" and deal.contact_id == client.id and deal.owner_id == manager.id
        assert deal.title == "Нужна консультация" and deal.channel == "email"
        follow_up = db.session.scalar(select(Task).where(Task.deal_id == deal.id))
        assert follow_up.owner_id == manager.id and follow_up.due_at > datetime.now(UTC)
        with pytest.raises(InvalidInput):
            inbox.accept(actor, item)  # sorted once


def test_new_lead_goes_round_robin_within_working_hours(app, admin, make_user):
    first = make_user("first@example.com")
    second = make_user("second@example.com")
    fixed = make_user("night@example.com")
    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        team = Team(name="Отдел продаж")
        team.members = [db.session.get(User, first.id), db.session.get(User, second.id)]
        db.session.add(team)
        db.session.commit()
        with pytest.raises(InvalidInput) as info:
            assignment.save_rule(actor, None, {"name": "", "strategy": "fixed", "work_start": "18:00",
                                               "work_end": "09:00", "timezone": "Mars/Olympus"})
        assert {"name", "user_id", "work_start", "timezone"} <= set(info.value.errors)
        day = assignment.save_rule(actor, None, {"name": "Днём", "strategy": "round_robin", "team_id": team.id,
                                                 "channel": "web_form", "follow_up_minutes": "10",
                                                 "work_days": ["0", "1", "2", "3", "4", "5", "6"],
                                                 "work_start": "00:00", "work_end": "23:59", "position": "1"})
        assignment.save_rule(actor, None, {"name": "Ночью", "strategy": "fixed", "user_id": fixed.id,
                                           "position": "2"})
        owners = []
        for n in range(3):
            item = inbox.receive(inbox.IncomingItem(channel="web_form", source="form:1", external_id=f"f{n}",
                                    name=f"Лид {n}", phone=f"+7 916 000 00 0{n}")).item
            inbox.accept(actor, item)
            owners.append(item.owner_id)
        assert owners == [first.id, second.id, first.id]
        lead = db.session.get(Deal, item.deal_id)
        assert lead.contact_id is not None and lead.owner_id == first.id
        events = db.session.scalars(select(OutboxEvent).where(OutboxEvent.name == "lead_assigned")).all()
        assert [e.payload["data"]["rule_id"] for e in events] == [day.id] * 3 and events[-1].payload["data"]["task_id"]
        day.work_days = []
        day.work_start, day.work_end = "00:00", "00:01"  # outside the hours now: the next rule decides
        db.session.commit()
        item = inbox.receive(inbox.IncomingItem(channel="web_form", source="form:1", external_id="late",
                                                name="Поздний")).item
        inbox.accept(actor, item)
        assert item.owner_id == fixed.id


def test_least_loaded_picks_the_person_with_least_open_work(app, admin, make_user):
    busy = make_user("busy@example.com")
    free = make_user("free@example.com")
    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        team = Team(name="Смена")
        team.members = [db.session.get(User, busy.id), db.session.get(User, free.id)]
        db.session.add(team)
        db.session.commit()
        from core.services.work import tasks

        tasks.save(actor, None, {"title": "Дело", "owner_id": busy.id})
        rule = assignment.save_rule(actor, None, {"name": "Нагрузка", "strategy": "least_loaded",
                                                  "team_id": team.id})
        assert assignment.pick(rule) == free.id


def test_reject_keeps_the_item_with_a_reason_and_auto_accept_skips_the_inbox(app, admin):
    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        item = inbox.receive(inbox.IncomingItem(channel="messenger", source="tg", external_id="s1",
                                                body="Купите наших слонов")).item
        with pytest.raises(InvalidInput):
            inbox.reject(actor, item, " ")
        inbox.reject(actor, item, "спам")
        assert db.session.get(InboxItem, item.id).reject_reason == "спам"
        inbox.set_auto_accept(actor, "visit", True)
        walked_in = inbox.receive(inbox.IncomingItem(channel="visit", name="Гость", phone="+7 903 111 22 33")).item
        assert walked_in.status == "accepted" and walked_in.deal_id is not None


def test_attach_to_another_deal_merges_the_request_there(app, admin):
    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        client = contacts.save(actor, None, {"first_name": "Анна"})
        deal = deals.save(actor, None, {"title": "Кухня", "pipeline_id": deals.ensure_default_pipeline().id,
                                        "contact_id": client.id})
        item = inbox.receive(inbox.IncomingItem(channel="phone", phone="+7 999 000 11 22",
                                                name="Анна с другого номера")).item
        inbox.accept(actor, item, deal_id=deal.id)
        assert (item.status, item.deal_id) == ("attached", deal.id)
        with pytest.raises(InvalidInput):
            other = inbox.receive(inbox.IncomingItem(channel="phone", phone="+7 999 000 11 23")).item
            inbox.accept(actor, other, deal_id=999999)


def test_rules_page_edits_switches_and_deletes_a_rule(app, admin, admin_client):
    from core.testing.fixtures import post_form

    with app.app_context(), unit_of_work():
        team = Team(name="Смена")
        db.session.add(team)
        db.session.commit()
        team_id = team.id
    bad = post_form(admin_client, "/admin/intake/rules", {"name": "Ночь", "strategy": "round_robin",
                                                          "work_days": ["5", "6"], "work_start": "22:00",
                                                          "work_end": "06:00", "timezone": "Europe/Moscow"})
    assert bad.status_code == 422 and 'value="5" id="wd-5" checked' in bad.text  # what was typed stays
    assert "the start before the end" in bad.text and "Choose the team" in bad.text
    added = post_form(admin_client, "/admin/intake/rules", {"name": "Сайт", "strategy": "round_robin",
                                                            "team_id": team_id, "channel": "web_form"})
    assert added.status_code == 302
    with app.app_context(), unit_of_work():
        rule = db.session.scalar(select(AssignmentRule))
        rule_id = rule.id
    post_form(admin_client, f"/admin/intake/rules/{rule_id}/toggle")
    edit = admin_client.get(f"/admin/intake/rules?edit={rule_id}")
    assert 'value="Сайт"' in edit.text and f'<option value="{team_id}" selected>' in edit.text
    assert post_form(admin_client, "/admin/intake/rules", {"rule_id": rule_id, "name": "Сайт и почта",
                                                           "strategy": "round_robin", "team_id": team_id,
                                                           "channel": ""}).status_code == 302
    with app.app_context(), unit_of_work():
        rule = db.session.get(AssignmentRule, rule_id)
        assert (rule.name, rule.channel, rule.active) == ("Сайт и почта", None, False)  # still off
    post_form(admin_client, f"/admin/intake/rules/{rule_id}/delete")
    with app.app_context(), unit_of_work():
        assert db.session.get(AssignmentRule, rule_id) is None


@pytest.mark.parametrize("key", ["k" * 201, "k" * 5000, "a\nb", "\x00", "   ", 7, {"a": 1}, ["k"]])
def test_an_idempotency_key_that_would_be_cut_or_is_not_text_is_refused(app, admin, client, key):
    """A key is never cut (two deliveries sharing 200 characters would merge): the API and the service refuse it."""
    from core.services.users import tokens

    with app.app_context(), unit_of_work():
        token = tokens.create(Actor(None, via="test"), db.session.get(User, admin.id))
        with pytest.raises(InvalidInput) as info:
            inbox.receive(inbox.IncomingItem(channel="phone", phone="+79161234567", external_id=key))
        assert "Idempotency-Key" in str(info.value.errors["idempotency_key"])
    api = {"Authorization": f"Bearer {token}"}
    in_body = client.post("/api/v1/inbox", json={"phone": "+79161234567", "idempotency_key": key}, headers=api)
    assert 400 <= in_body.status_code < 500 and in_body.is_json
    if isinstance(key, str) and key.isprintable() and key.strip():
        in_header = client.post("/api/v1/inbox", json={"phone": "+79161234567"},
                                headers={**api, "Idempotency-Key": key})
        assert 400 <= in_header.status_code < 500 and in_header.is_json
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(func.count(InboxItem.id))) == 0


def test_keys_sharing_their_first_200_characters_stay_apart(app):
    with app.app_context(), unit_of_work():
        first = inbox.receive(inbox.IncomingItem(channel="phone", phone="+79161234567",
                                                 external_id="k" * 199 + "a")).item
        second, created, _updated = inbox.receive(inbox.IncomingItem(channel="phone", phone="+79161234568",
                                                                     external_id="k" * 199 + "b"))
        assert created and first.id != second.id


@pytest.mark.parametrize("key", ["k" * 201, "a\tb"])
def test_the_submit_page_refuses_a_tampered_key_with_a_fresh_form(app, admin_client, key):
    from core.testing.fixtures import post_form

    response = post_form(admin_client, "/inbox/submit", {"name": "Лид", "phone": "+79161234567",
                                                         "idempotency_key": key})
    assert response.status_code == 422 and "Idempotency-Key" in response.get_data(as_text=True)
    assert key not in response.get_data(as_text=True)
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(func.count(InboxItem.id))) == 0
