"""What each process keeps in memory (users and rights, API tokens, custom fields, saved views, owner names) is
never served after a change, whichever process or host made it, and costs no statement while nothing changed.

Two apps built on one database stand for two processes (or hosts): every change is made through one and looked
at through the other, which had the old value in its memory.
"""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update

from core import reference_cache
from core.db import db, unit_of_work
from core.models import ApiToken, Base, CacheGeneration, Role, RoleGrant, User
from core.services.clients import custom_fields
from core.services.platform import views
from core.services.platform.context import Actor
from core.services.users import accounts, tokens
from core.testing.fixtures import sign_in
from tests.test_query_budget import counted


@pytest.fixture
def other(make_app):
    """A second process on the same database."""
    return make_app()


def _as(app, user_id: int):
    return Actor(user=db.session.get(User, user_id), via="test")


def _statements_reading(statements: list[str], table: str) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("SELECT") and f"FROM {table}" in s]


def test_a_signed_in_page_reads_no_user_row_while_nothing_changed(app, make_user, client):
    seller = make_user("seller@example.com", grants={("contact", "view"): "all"})
    sign_in(client, seller.email)
    client.get("/contacts/")
    with counted(app) as statements:
        assert client.get("/contacts/").status_code == 200
    for table in ("user_account", "role", "team", "custom_field", "saved_view"):
        assert not _statements_reading(statements, table), "\n".join(statements)


def test_disabling_a_user_elsewhere_ends_their_session_here(app, other, admin, make_user, client):
    seller = make_user("seller@example.com", grants={("contact", "view"): "all"})
    sign_in(client, seller.email)
    assert client.get("/contacts/").status_code == 200  # now kept in this process's memory
    with other.app_context(), unit_of_work():
        accounts.set_active(_as(other, admin.id), db.session.get(User, seller.id), False)
    answer = client.get("/contacts/")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_a_grant_taken_away_elsewhere_is_refused_here(app, other, make_user, client):
    seller = make_user("seller@example.com", grants={("contact", "view"): "all", ("deal", "view"): "all"})
    sign_in(client, seller.email)
    assert client.get("/deals/list").status_code == 200
    with other.app_context(), unit_of_work():
        db.session.execute(delete(RoleGrant).where(RoleGrant.entity == "deal"))
    assert client.get("/deals/list").status_code == 403


def test_a_role_given_elsewhere_is_used_here(app, other, make_user, client):
    seller = make_user("seller@example.com", grants={("contact", "view"): "all"})
    sign_in(client, seller.email)
    assert client.get("/deals/list").status_code == 403
    with other.app_context(), unit_of_work():
        user = db.session.get(User, seller.id)
        manager = db.session.scalar(select(Role).where(Role.key == "manager"))
        user.roles = [*user.roles, manager]
    assert client.get("/deals/list").status_code == 200


def test_a_token_revoked_elsewhere_is_refused_here(app, other, admin):
    with app.app_context(), unit_of_work():
        secret = tokens.create(_as(app, admin.id), db.session.get(User, admin.id), "cache")
    headers = {"Authorization": f"Bearer {secret}"}
    api = app.test_client()
    assert api.get("/api/v1/contacts", headers=headers).status_code == 200
    assert api.get("/api/v1/contacts", headers=headers).status_code == 200  # kept, after its use was noted
    with other.app_context(), unit_of_work():
        row = db.session.scalar(select(ApiToken))
        tokens.revoke(_as(other, admin.id), row)
    assert api.get("/api/v1/contacts", headers=headers).status_code == 401


def test_a_token_whose_user_is_disabled_elsewhere_is_refused_here(app, other, admin, make_user):
    seller = make_user("seller@example.com", grants={("contact", "view"): "all"})
    with app.app_context(), unit_of_work():
        secret = tokens.create(_as(app, seller.id), db.session.get(User, seller.id), "cache")
    headers = {"Authorization": f"Bearer {secret}"}
    api = app.test_client()
    api.get("/api/v1/contacts", headers=headers)
    assert api.get("/api/v1/contacts", headers=headers).status_code == 200
    with other.app_context(), unit_of_work():
        db.session.execute(update(User).where(User.id == seller.id).values(is_active=False))
    assert api.get("/api/v1/contacts", headers=headers).status_code == 401


def test_a_custom_field_added_elsewhere_appears_and_is_required_here(app, other, admin, admin_client):
    from core.testing.fixtures import post_form

    assert "Размер обуви" not in admin_client.get("/contacts/new").get_data(as_text=True)
    with other.app_context(), unit_of_work():
        custom_fields.save_definition(_as(other, admin.id), None, entity="contact", label="Размер обуви",
                                      type_="number", choices=[], required=True)
    assert "Размер обуви" in admin_client.get("/contacts/new").get_data(as_text=True)
    refused = post_form(admin_client, "/contacts/new", {"first_name": "Без размера"})
    assert refused.status_code == 422


def test_a_view_saved_and_a_name_changed_elsewhere_show_here(app, other, admin, admin_client):
    admin_client.get("/contacts/")
    with other.app_context(), unit_of_work():
        views.save(_as(other, admin.id), "contact", "Горячие клиенты", {"q": ["горячий"]}, shared=True)
        db.session.get(User, admin.id).full_name = "Ирина Админова"
    page = admin_client.get("/contacts/").get_data(as_text=True)
    assert "Горячие клиенты" in page and "Ирина Админова" in page


def test_a_change_that_rolled_back_leaves_nothing_behind(app, admin, admin_client):
    """Read inside the changing transaction, the uncommitted value is not kept: after the rollback the next request
    sees the old value, and a later real change (with a new token) is seen too."""
    with app.app_context():
        db.session.get(User, admin.id).full_name = "Не сохранится"
        db.session.flush()
        assert reference_cache.PEOPLE in db.session.info[reference_cache._CHANGED]
        from core.services.users import directory

        assert "Не сохранится" in {p.full_name for p in directory.active_people()}
        db.session.rollback()
    assert "Не сохранится" not in admin_client.get("/contacts/").get_data(as_text=True)
    with app.app_context(), unit_of_work():
        db.session.get(User, admin.id).full_name = "Сохранится"
    assert "Сохранится" in admin_client.get("/contacts/").get_data(as_text=True)


@pytest.mark.parametrize("table", sorted(reference_cache.TOPIC_OF_TABLE))
def test_every_write_to_a_topics_table_replaces_its_token(app, admin, table):
    """Whichever way the session writes a topic's table — an ORM change or a bulk statement — the topic's token is
    replaced at commit, and only that topic's."""
    topic = reference_cache.TOPIC_OF_TABLE[table]
    target = Base.metadata.tables[table]

    def tokens_now() -> dict[str, int]:
        with app.app_context():
            return dict(db.session.execute(select(CacheGeneration.topic, CacheGeneration.token)).all())

    before = tokens_now()
    with app.app_context(), unit_of_work():
        db.session.execute(delete(target).where(target.c[next(iter(target.primary_key.columns)).name] == -1))
    after = tokens_now()
    assert after.get(topic) not in (None, before.get(topic))
    assert {t: v for t, v in after.items() if t != topic} == {t: v for t, v in before.items() if t != topic}


def test_reading_tokens_alone_writes_nothing(app, admin, admin_client):
    admin_client.get("/contacts/")
    with counted(app) as statements:
        admin_client.get("/contacts/")
    assert not [s for s in statements if "cache_generation" in s and not s.lstrip().startswith("SELECT")]


def test_a_token_revoked_by_a_command_in_another_process_is_refused_here(app, admin, database_url, tmp_path):
    """A separate process (the ``mayak`` command, as an admin would run it on another host) builds its own app: its
    write replaces the token as the web process's writes do."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from core.testing.fixtures import app_environ

    with app.app_context(), unit_of_work():
        secret = tokens.create(_as(app, admin.id), db.session.get(User, admin.id), "cache")
        token_id = db.session.scalar(select(ApiToken.id))
    headers = {"Authorization": f"Bearer {secret}"}
    api = app.test_client()
    api.get("/api/v1/contacts", headers=headers)
    assert api.get("/api/v1/contacts", headers=headers).status_code == 200
    mayak = Path(sys.executable).with_name("mayak")
    env = {**os.environ, **app_environ(database_url, tmp_path / "other-host")}
    done = subprocess.run([str(mayak), "users", "token", "revoke", str(token_id)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert api.get("/api/v1/contacts", headers=headers).status_code == 401
