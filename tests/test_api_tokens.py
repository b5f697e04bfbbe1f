"""API tokens (issue 10, item 7): named, scoped, expiring, revocable (profile, admin, command line), ended by a
password change or disabling, last use noted cheaply, only a hash stored; refusals audited without flooding."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from core.db import db, unit_of_work
from core.models import ApiToken, AuditEntry, User, utcnow
from core.services.platform.context import Actor
from core.services.users import tokens
from core.testing.fixtures import TEST_PASSWORD, post_form, sign_in
from tests.security.routes import all_routes, seed_targets

_SHOWN = re.compile(r'id="new-token"|value="(mk_[\w-]+)"')


def _issue(app, user, *, scopes=("read", "write"), expires_at=None, name="test") -> tuple[int, str]:
    with app.app_context(), unit_of_work():
        row, token = tokens.issue(Actor(None, via="test"), db.session.get(User, user.id), name, scopes=scopes,
                                  expires_at=expires_at)
        return row.id, token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _audits(app, action: str) -> list[AuditEntry]:
    with app.app_context(), unit_of_work():
        return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                       .order_by(AuditEntry.id)))


def _created_secret(html: str) -> str:
    found = re.search(r'value="(mk_[A-Za-z0-9_-]+)"', html)
    assert found, "the new token is shown once"
    return found[1]


# --- creating, listing and revoking in the profile ----------------------------------------------------------


def test_profile_creates_a_token_shown_once_and_stores_only_its_hash(app, admin, client):
    sign_in(client, admin.email)
    response = post_form(client, "/profile/tokens", {"name": "1C exchange", "scopes": ["contacts:read", "deals:write"],
                                                     "expires": "30"})
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    secret = _created_secret(response.get_data(as_text=True))
    assert client.get("/api/v1/contacts", headers=_bearer(secret)).status_code == 200
    page = client.get("/profile/tokens").get_data(as_text=True)
    assert secret not in page and secret[:10] in page and "1C exchange" in page
    with app.app_context(), unit_of_work():
        row = db.session.scalar(select(ApiToken))
        assert row.scopes == ["contacts:read", "deals:write"]
        assert timedelta(days=29) < row.expires_at - utcnow() <= timedelta(days=30)
        assert secret not in repr([row.name, row.prefix, row.token_hash]) and len(row.token_hash) == 64
    # the profile page loads the list
    assert "/profile/tokens" in client.get("/profile").get_data(as_text=True)


@pytest.mark.parametrize("form, field", [
    ({"name": "", "scopes": ["read"]}, "name"),
    ({"name": "x", "scopes": []}, "scopes"),
    ({"name": "x", "scopes": ["root"]}, "scopes"),
    ({"name": "x", "scopes": ["read"], "expires": "9999"}, "expires"),
    ({"name": "x" * 121, "scopes": ["read"]}, "name"),
])
def test_profile_refuses_a_bad_token_form_with_a_message(app, admin, client, form, field):
    sign_in(client, admin.email)
    response = post_form(client, "/profile/tokens", form)
    assert response.status_code in (400, 422)
    assert "invalid-feedback" in response.get_data(as_text=True)
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(func.count(ApiToken.id))) == 0


def test_profile_revokes_own_tokens_only(app, admin, make_user, client):
    seller = make_user("seller@example.com")
    mine_id, mine = _issue(app, seller)
    theirs_id, theirs = _issue(app, admin)
    sign_in(client, seller.email)
    assert post_form(client, f"/profile/tokens/{theirs_id}/revoke").status_code == 404
    assert client.get("/api/v1/contacts", headers=_bearer(theirs)).status_code == 200
    assert post_form(client, f"/profile/tokens/{mine_id}/revoke").status_code == 302
    refused = client.get("/api/v1/contacts", headers=_bearer(mine))
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "unauthorized"
    assert _audits(app, "api.unauthorized")[-1].changes["reason"] == "revoked"


def test_admin_sees_and_revokes_everyones_tokens(app, admin, make_user, client):
    seller = make_user("seller@example.com", grants={("user", "view"): "all", ("user", "edit"): "all"})
    token_id, token = _issue(app, seller, name="Website")
    sign_in(client, seller.email)
    assert client.get("/admin/tokens").status_code == 403  # user editors are not administrators
    assert post_form(client, f"/admin/tokens/{token_id}/revoke").status_code == 403
    admin_client = app.test_client()
    sign_in(admin_client, admin.email)
    page = admin_client.get("/admin/tokens").get_data(as_text=True)
    assert "Website" in page and "seller@example.com" in page and token not in page
    assert post_form(admin_client, f"/admin/tokens/{token_id}/revoke").status_code == 302
    assert client.get("/api/v1/contacts", headers=_bearer(token)).status_code == 401


# --- scopes over every API route ----------------------------------------------------------------------------


def _needs(url: str, method: str) -> tuple[str, bool]:
    return url.removeprefix("/api/v1/").split("/")[0], method not in ("GET", "HEAD")


@pytest.mark.parametrize("scopes", [("read",), ("write",), ("contacts:read",), ("deals:write", "tasks:read"),
                                    ("inbox:write", "companies:read", "pipelines:read")])
def test_scopes_open_exactly_what_they_name_on_every_api_route(app, admin, client, scopes):
    targets = seed_targets(app, admin.id)
    _id, token = _issue(app, admin, scopes=scopes)
    checked = 0
    for route in all_routes(app, targets):
        if not route.endpoint.startswith("api.") or route.endpoint == "api.openapi":
            continue
        entity, write = _needs(route.url, route.method)
        response = client.open(route.url, method=route.method, headers=_bearer(token), json={})
        refused = response.status_code == 403 and response.get_json()["error"]["code"] == "insufficient_scope"
        assert refused == (not tokens.allows(scopes, entity, write)), (route, response.get_json())
        allowed = {"write"} & set(scopes) or f"{entity}:write" in scopes or (
            not write and ({"read"} & set(scopes) or f"{entity}:read" in scopes))
        assert refused != bool(allowed), route
        checked += 1
    assert checked >= 20
    if scopes != ("write",):
        assert _audits(app, "api.scope_denied")


def test_unknown_scope_is_refused_when_created(app, admin):
    with app.app_context(), unit_of_work(), pytest.raises(tokens.ValidationError):
        tokens.issue(Actor(None, via="test"), db.session.get(User, admin.id), "x", scopes=["contacts:admin"])


# --- how tokens end ---------------------------------------------------------------------------------------------


def test_expired_token_is_refused(app, admin, client):
    _id, token = _issue(app, admin, expires_at=utcnow() + timedelta(seconds=60))
    assert client.get("/api/v1/contacts", headers=_bearer(token)).status_code == 200
    with app.app_context(), unit_of_work():
        db.session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert client.get("/api/v1/contacts", headers=_bearer(token)).status_code == 401
    assert _audits(app, "api.unauthorized")[-1].changes["reason"] == "expired"
    with app.app_context(), unit_of_work(), pytest.raises(tokens.ValidationError):
        tokens.issue(Actor(None, via="test"), db.session.get(User, admin.id), "x",
                     expires_at=utcnow() - timedelta(days=1))


def test_own_password_change_ends_tokens(app, make_user, client):
    seller = make_user("seller@example.com")
    _id, token = _issue(app, seller)
    sign_in(client, seller.email)
    response = post_form(client, "/profile", {"pw-current_password": TEST_PASSWORD,
                                              "pw-new_password": "another long password",
                                              "pw-confirm": "another long password", "pw-submit": "1"})
    assert response.status_code == 302
    assert client.get("/api/v1/contacts", headers=_bearer(token)).status_code == 401
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(ApiToken.revoked_reason)) == "password_changed"


def test_password_set_by_an_administrator_ends_tokens(app, admin, make_user, client):
    seller = make_user("seller@example.com")
    _id, token = _issue(app, seller)
    sign_in(client, admin.email)
    response = post_form(client, f"/admin/users/{seller.id}", {"email": seller.email, "password": "a new password 1"})
    assert response.status_code == 302
    assert client.get("/api/v1/contacts", headers=_bearer(token)).status_code == 401


def test_disabling_ends_tokens_for_good(app, admin, make_user, client):
    seller = make_user("seller@example.com")
    _id, token = _issue(app, seller)
    sign_in(client, admin.email)
    assert post_form(client, f"/admin/users/{seller.id}/active", {"active": "0"}).status_code == 302
    assert client.get("/api/v1/contacts", headers=_bearer(token)).status_code == 401
    assert post_form(client, f"/admin/users/{seller.id}/active", {"active": "1"}).status_code == 302
    assert client.get("/api/v1/contacts", headers=_bearer(token)).status_code == 401, "enabling again revives none"
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(ApiToken.revoked_reason)) == "user_disabled"


def test_last_use_is_noted_at_most_once_a_minute(app, admin, client):
    token_id, token = _issue(app, admin)

    def last_used():  # type: ignore[no-untyped-def]
        with app.app_context(), unit_of_work():
            return db.session.get(ApiToken, token_id).last_used_at

    assert last_used() is None
    client.get("/api/v1/pipelines", headers=_bearer(token))
    first = last_used()
    assert first is not None
    client.get("/api/v1/pipelines", headers=_bearer(token))
    assert last_used() == first
    with app.app_context(), unit_of_work():
        db.session.execute(update(ApiToken).values(last_used_at=utcnow() - timedelta(minutes=2)))
        db.session.commit()
    client.get("/api/v1/pipelines", headers=_bearer(token))
    assert last_used() > first


# --- refusals are audited, without flooding the log ------------------------------------------------------------


@pytest.mark.parametrize("header, reason", [
    ("Bearer mk_forged-token-that-never-existed", "unknown"),
    ("Bearer nonsense", "malformed"),
    ("Bearer " + "mk_" + "x" * 200, "malformed"),
    ("Basic dXNlcjpwYXNz", "malformed"),
])
def test_bad_tokens_are_refused_and_audited(app, client, header, reason):
    response = client.get("/api/v1/contacts", headers={"Authorization": header},
                          environ_base={"REMOTE_ADDR": "10.7.7.7"})
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
    entry, = _audits(app, "api.unauthorized")
    assert entry.changes["reason"] == reason and entry.ip == "10.7.7.7" and entry.changes["path"] == "/api/v1/contacts"
    assert "x" * 20 not in str(entry.changes), "no presented secret is logged whole"


def test_access_denied_through_the_api_is_audited(app, admin, make_user, client):
    outsider = make_user("outsider@example.com")
    targets = seed_targets(app, admin.id)
    _id, token = _issue(app, outsider)
    response = client.get(f"/api/v1/contacts/{targets['contact_id']}", headers=_bearer(token))
    assert response.status_code in (403, 404)
    response = client.post("/api/v1/contacts", headers=_bearer(token), json={"first_name": "X"})
    assert response.status_code == 403
    denied = _audits(app, "access.denied")
    assert denied and denied[-1].actor_label == outsider.email and denied[-1].changes["path"] == "/api/v1/contacts"


def test_refusal_noise_is_capped_per_address(app, client):
    for n in range(40):
        client.get("/api/v1/contacts", headers=_bearer(f"mk_forged{n}"), environ_base={"REMOTE_ADDR": "10.8.8.8"})
    assert len(_audits(app, "api.unauthorized")) == tokens.AUDITED_REFUSALS_PER_MINUTE
    assert len(_audits(app, "api.refusals_suppressed")) == 1
    # another address is audited on its own
    client.get("/api/v1/contacts", headers=_bearer("mk_forged"), environ_base={"REMOTE_ADDR": "10.8.8.9"})
    assert len(_audits(app, "api.unauthorized")) == tokens.AUDITED_REFUSALS_PER_MINUTE + 1


# --- the command line ---------------------------------------------------------------------------------------------


def test_token_commands_create_list_and_revoke(app, admin):
    runner = app.test_cli_runner()
    created = runner.invoke(args=["users", "token", "create", admin.email, "--name", "Sync", "--scope", "deals:read",
                                  "--expires-days", "7"])
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    client = app.test_client()
    assert client.get("/api/v1/deals", headers=_bearer(token)).status_code == 200
    assert client.get("/api/v1/contacts", headers=_bearer(token)).status_code == 403
    listed = runner.invoke(args=["users", "token", "list"])
    assert listed.exit_code == 0 and "Sync" in listed.output and "deals:read" in listed.output
    assert token not in listed.output
    token_id = listed.output.split("\t")[0].strip()
    revoked = runner.invoke(args=["users", "token", "revoke", token_id])
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/api/v1/deals", headers=_bearer(token)).status_code == 401
    assert "Sync" not in runner.invoke(args=["users", "token", "list"]).output
    assert "revoked" in runner.invoke(args=["users", "token", "list", "--all"]).output
    bad = runner.invoke(args=["users", "token", "create", admin.email, "--scope", "everything"])
    assert bad.exit_code != 0 and "scope" in bad.output.lower()
    assert runner.invoke(args=["users", "token", "revoke", "999999"]).exit_code != 0


def test_tokens_made_before_scopes_keep_every_right_after_the_upgrade(database_url, tmp_path):
    """core_0012 gives the tokens that existed before scopes ``read write``: they keep doing what they did."""
    import hashlib

    from alembic import command
    from sqlalchemy import text

    from core import create_app, migrate
    from core.testing.fixtures import TEST_CONFIG, app_environ
    from core.testing.services import create_postgres_database, drop_postgres_database

    url = (f"sqlite:///{tmp_path / 'old.db'}" if database_url.startswith("sqlite")
           else create_postgres_database("mayak_tokens_upgrade"))
    try:
        app = create_app(TEST_CONFIG, environ=app_environ(url, tmp_path / "instance"))
        with app.app_context(), unit_of_work():
            command.upgrade(migrate.alembic_config(migrate.find_unit("core")), "core_0011")
            with db.engine.begin() as conn:
                conn.execute(text("INSERT INTO user_account (id, email, full_name, password_hash, is_active, "
                                  "is_admin, session_token, created_at) VALUES (1, 'old@example.com', '', 'x', true,"
                                  " true, 't', CURRENT_TIMESTAMP)"))
                conn.execute(text("INSERT INTO api_token (user_id, name, prefix, token_hash, created_at) VALUES "
                                  "(1, 'old', 'mk_oldtoke', :h, CURRENT_TIMESTAMP)"),
                             {"h": hashlib.sha256(b"mk_oldtoken").hexdigest()})
            migrate.upgrade()
            check = tokens.authenticate("mk_oldtoken")
            assert check.token is not None and check.token.scopes == ["read", "write"]
            assert check.token.expires_at is None and check.token.revoked_reason is None
            db.session.remove()
            db.engine.dispose()
    finally:
        if not url.startswith("sqlite"):
            drop_postgres_database(url)
