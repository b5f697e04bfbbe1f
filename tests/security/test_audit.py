"""QUALITY 11: auth events, denials and changes are audited with UTC time, actor, address and target; no secrets."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from core.db import db, unit_of_work
from core.models import AuditEntry, Role
from core.testing.fixtures import post_form


def _entries(app, action):
    with app.app_context(), unit_of_work():
        return db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()


def test_auth_events_are_audited(app, make_user, client):
    make_user("aud@example.com")
    post_form(client, "/login", {"email": "aud@example.com", "password": "nope nope nope"},
              environ_base={"REMOTE_ADDR": "10.2.3.4"})
    post_form(client, "/login", {"email": "aud@example.com", "password": "correct horse battery"},
              environ_base={"REMOTE_ADDR": "10.2.3.4"})
    post_form(client, "/logout")
    failed, = _entries(app, "auth.failed")
    assert failed.ip == "10.2.3.4" and failed.target_id == "aud@example.com"
    login, = _entries(app, "auth.login")
    assert login.actor_label == "aud@example.com" and abs(login.at - datetime.now(UTC)) < timedelta(minutes=1)
    assert login.at.tzinfo is not None
    assert _entries(app, "auth.logout")


def test_user_changes_are_audited_without_secrets(app, admin, admin_client):
    post_form(admin_client, "/admin/users/new", {"email": "Newbie@Example.com", "password": "s3cret-password-1",
                                                  "full_name": "New Bie"})
    created, = _entries(app, "user.created")
    assert created.actor_label == admin.email and created.ip
    assert created.changes["email"] == "newbie@example.com"
    post_form(admin_client, f"/admin/users/{created.target_id}", {"email": "newbie@example.com",
                                                                  "full_name": "Renamed",
                                                                  "password": "another-s3cret-2"})
    updated, = _entries(app, "user.updated")
    assert updated.changes["full_name"] == ["New Bie", "Renamed"]
    with app.app_context(), unit_of_work():
        for entry in db.session.scalars(select(AuditEntry)):
            assert "s3cret" not in str(entry.changes)


def test_role_changes_are_audited(app, admin, admin_client):
    post_form(admin_client, "/admin/roles/new", {"name": "Auditors", "grant-audit-view": "all",
                                                  "grant-user-view": "all"})
    created, = _entries(app, "role.created")
    assert created.changes["audit.view"] == [None, "all"]
    with app.app_context(), unit_of_work():
        role = db.session.scalar(select(Role).where(Role.name == "Auditors"))
        assert {(g.entity, g.action, g.scope) for g in role.grants} == {("audit", "view", "all"),
                                                                        ("user", "view", "all")}
    post_form(admin_client, f"/admin/roles/{created.target_id}", {"name": "Auditors", "grant-audit-view": "all"})
    updated, = _entries(app, "role.updated")
    assert updated.changes == {"user.view": ["all", None]}


def test_audit_page_lists_entries(app, admin, admin_client):
    page = admin_client.get("/admin/audit?action=auth.login")
    assert page.status_code == 200 and b"auth.login" in page.data


def test_audit_log_pages_by_keyset(app, admin, admin_client):
    from core.services.platform import audit as audit_service
    from core.services.platform.context import SYSTEM

    with app.app_context(), unit_of_work():
        for n in range(60):
            audit_service.record(SYSTEM, "test.bulk", "thing", n)
        db.session.commit()
    first = admin_client.get("/admin/audit?action=test.bulk").data.decode()
    assert first.count('title="test.bulk"') == 50
    before = re.search(r'hx-get="/admin/audit\?before=(\d+)', first).group(1)
    rest = admin_client.get(f"/admin/audit?action=test.bulk&before={before}",
                            headers={"HX-Request": "true"}).data.decode()
    assert rest.count('title="test.bulk"') == 10
    assert "<html" not in rest, "htmx asked for the rows only"
