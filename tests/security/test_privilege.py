"""QUALITY 28 (issue 10, item 2): only administrators change administrators, nobody raises their own rights, and
nobody changes an account with more rights than theirs.

The class is walked: every account-changing route and field × actor (a user editor who is not an administrator,
an administrator, the user themselves) × target (an administrator, a peer with fewer rights, a senior with
rights the editor lacks, oneself), through the web routes and through the services directly.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.security import check_password_hash

from core.db import db, unit_of_work
from core.models import AuditEntry, Role, RoleGrant, Team, User
from core.models.users import SCOPES
from core.services.platform.access import AccessDenied
from core.services.platform.context import Actor
from core.services.platform.errors import ValidationError
from core.services.users import accounts
from core.testing.fixtures import TEST_PASSWORD, post_form, sign_in

EDITOR_GRANTS = {("user", "view"): "all", ("user", "create"): "all", ("user", "edit"): "all",
                 ("team", "view"): "all", ("team", "edit"): "all", ("role", "view"): "all",
                 ("role", "edit"): "all", ("contact", "view"): "own"}
NEW_PASSWORD = "taken over password 1"


@dataclass
class World:
    admin: User
    editor: User
    peer: User
    senior: User
    small_role: int  # a role the editor holds every right of
    big_role: int  # a role giving what the editor lacks (the audit log)
    team: int  # a team the editor is not in
    admin_team: int  # a team an administrator is in

    def get(self, name: str) -> User:
        return getattr(self, name)


@pytest.fixture
def world(app, make_user) -> World:
    admin = make_user("boss@example.com", is_admin=True)
    editor = make_user("editor@example.com", grants=EDITOR_GRANTS)
    peer = make_user("peer@example.com", grants={("contact", "view"): "own"})
    senior = make_user("senior@example.com", grants={("audit", "view"): "all"})
    with app.app_context(), unit_of_work():
        small = Role(name="Small", grants=[RoleGrant(entity="contact", action="view", scope="own")])
        big = Role(name="Auditors", grants=[RoleGrant(entity="audit", action="view", scope="all")])
        team, admin_team = Team(name="Elsewhere"), Team(name="Board")
        db.session.add_all([small, big, team, admin_team])
        team.members = [db.session.get(User, peer.id)]
        admin_team.members = [db.session.get(User, admin.id)]
        db.session.commit()
        return World(admin, editor, peer, senior, small.id, big.id, team.id, admin_team.id)


def _state(app, user_id: int) -> dict[str, object]:
    with app.app_context(), unit_of_work():
        user = db.session.get(User, user_id)
        return {"email": user.email, "full_name": user.full_name, "is_admin": user.is_admin,
                "is_active": user.is_active, "password_hash": user.password_hash,
                "session_token": user.session_token, "roles": sorted(r.id for r in user.roles),
                "teams": sorted(t.id for t in user.teams)}


def _form(app, user_id: int, **changes: object) -> dict[str, object]:
    """The edit form as the browser would post it, with ``changes`` applied."""
    state = _state(app, user_id)
    data: dict[str, object] = {"email": state["email"], "full_name": state["full_name"], "roles": state["roles"],
                               "teams": state["teams"]}
    if state["is_admin"]:
        data["is_admin"] = "y"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


# Every field of the account form, as a change a taker-over would make.
FIELD_CHANGES = {
    "email": {"email": "mine@example.com"},
    "password": {"password": NEW_PASSWORD},
    "full_name": {"full_name": "Renamed"},
    "roles": {"roles": []},
    "teams": {"teams": []},
    "is_admin_off": {"is_admin": None},
}


@pytest.mark.parametrize("target", ["admin", "senior"])
@pytest.mark.parametrize("field", [*FIELD_CHANGES, "active"])
def test_editor_cannot_change_an_account_with_more_rights(app, world, client, target, field):
    victim = world.get(target)
    before = _state(app, victim.id)
    sign_in(client, world.editor.email)
    assert client.get(f"/admin/users/{victim.id}").status_code == 403
    if field == "active":
        response = post_form(client, f"/admin/users/{victim.id}/active", {"active": "0"})
    else:
        response = post_form(client, f"/admin/users/{victim.id}", _form(app, victim.id, **FIELD_CHANGES[field]))
    assert response.status_code == 403
    assert _state(app, victim.id) == before
    with app.app_context(), unit_of_work():
        denial = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "access.denied")).all()
        assert denial and denial[-1].actor_label == world.editor.email
    # and the list offers neither the edit link nor the disable button for that account
    page = client.get("/admin/users").get_data(as_text=True)
    assert f"/admin/users/{victim.id}\"" not in page and f"/admin/users/{victim.id}/active" not in page


def test_the_takeover_itself_fails(app, world, client):
    """The reported attack: the editor sets an administrator's password and email, then signs in as them."""
    sign_in(client, world.editor.email)
    post_form(client, f"/admin/users/{world.admin.id}",
              _form(app, world.admin.id, email="editor+boss@example.com", password=NEW_PASSWORD))
    other = app.test_client()
    response = post_form(other, "/login", {"email": "editor+boss@example.com", "password": NEW_PASSWORD})
    assert response.status_code == 401
    response = post_form(other, "/login", {"email": world.admin.email, "password": NEW_PASSWORD})
    assert response.status_code == 401
    sign_in(other, world.admin.email)


@pytest.mark.parametrize("target", ["peer", "editor"])
@pytest.mark.parametrize("field", list(FIELD_CHANGES))
def test_editor_changes_peers_and_self_within_their_rights(app, world, client, target, field):
    subject = world.get(target)
    sign_in(client, world.editor.email)
    response = post_form(client, f"/admin/users/{subject.id}", _form(app, subject.id, **FIELD_CHANGES[field]))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    after = _state(app, subject.id)
    assert after["is_admin"] is False
    if field == "email":
        assert after["email"] == "mine@example.com"
    if field == "password":
        with app.app_context(), unit_of_work():
            assert check_password_hash(db.session.get(User, subject.id).password_hash, NEW_PASSWORD)


@pytest.mark.parametrize("target", ["peer", "editor"])
def test_nobody_raises_rights_through_the_account_form(app, world, client, target):
    subject = world.get(target)
    before = _state(app, subject.id)
    sign_in(client, world.editor.email)
    # the administrator flag: ignored (mass assignment), never set
    assert post_form(client, f"/admin/users/{subject.id}", _form(app, subject.id, is_admin="y")).status_code == 302
    assert _state(app, subject.id)["is_admin"] is False
    # a role carrying rights the editor lacks is not offered, and posting it is refused
    page = client.get(f"/admin/users/{subject.id}").get_data(as_text=True)
    assert "Auditors" not in page and "Small" in page
    response = post_form(client, f"/admin/users/{subject.id}", _form(app, subject.id, roles=[world.big_role]))
    assert response.status_code == 400
    assert world.big_role not in _state(app, subject.id)["roles"]
    # giving a role within the editor's rights is fine
    response = post_form(client, f"/admin/users/{subject.id}",
                         _form(app, subject.id, roles=[*before["roles"], world.small_role]))
    assert response.status_code == 302 and world.small_role in _state(app, subject.id)["roles"]


def test_editor_cannot_join_a_team_or_move_administrators(app, world, client):
    sign_in(client, world.editor.email)
    # putting oneself in a team widens what one's team-scoped rights reach
    response = post_form(client, f"/admin/users/{world.editor.id}", _form(app, world.editor.id, teams=[world.team]))
    assert response.status_code == 403 and _state(app, world.editor.id)["teams"] == []
    response = post_form(client, f"/admin/teams/{world.team}", {"name": "Elsewhere",
                                                                "members": [world.peer.id, world.editor.id]})
    assert response.status_code == 403 and _state(app, world.editor.id)["teams"] == []
    # administrators are not moved in or out of teams by others
    response = post_form(client, f"/admin/teams/{world.admin_team}", {"name": "Board", "members": []})
    assert response.status_code == 403 and _state(app, world.admin.id)["teams"] == [world.admin_team]
    assert post_form(client, f"/admin/teams/{world.admin_team}/delete").status_code == 403
    # a peer may be moved
    response = post_form(client, f"/admin/teams/{world.team}", {"name": "Elsewhere", "members": []})
    assert response.status_code == 302 and _state(app, world.peer.id)["teams"] == []


def test_editor_cannot_create_administrators_or_bigger_roles(app, world, client):
    sign_in(client, world.editor.email)
    response = post_form(client, "/admin/users/new", {"email": "puppet@example.com", "password": "a long password",
                                                      "roles": [world.big_role]})
    assert response.status_code == 400
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(User).where(User.email == "puppet@example.com")) is None


def test_editor_cannot_edit_roles_beyond_their_rights(app, world, client):
    sign_in(client, world.editor.email)
    # widen a role they hold (their own private role) with a right they lack
    with app.app_context(), unit_of_work():
        own = db.session.get(User, world.editor.id).roles[0]
        own_id, own_name = own.id, own.name
        own_fields = {f"grant-{g.entity}-{g.action}": g.scope for g in own.grants}
    response = post_form(client, f"/admin/roles/{own_id}", {"name": own_name, **own_fields,
                                                            "grant-audit-view": "all"})
    assert response.status_code == 400 and "go beyond yours: audit.view" in response.get_data(as_text=True)
    # widen a scope: contacts of their own to everyone's
    response = post_form(client, f"/admin/roles/{own_id}", {**own_fields, "name": own_name,
                                                            "grant-contact-view": "all"})
    assert response.status_code == 400 and "go beyond yours: contact.view" in response.get_data(as_text=True)
    # create a role with more than they have
    response = post_form(client, "/admin/roles/new", {"name": "Escalate", "grant-audit-view": "all"})
    assert response.status_code == 400
    # open, change or delete a role that gives more than they have
    assert client.get(f"/admin/roles/{world.big_role}").status_code == 403
    response = post_form(client, f"/admin/roles/{world.big_role}", {"name": "Auditors", "grant-audit-view": "own"})
    assert response.status_code == 403
    assert post_form(client, f"/admin/roles/{world.big_role}/delete").status_code == 403
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(Role.id).where(Role.name == "Escalate")) is None
        assert [(g.scope) for g in db.session.get(Role, world.big_role).grants] == ["all"]
        assert {(g.entity, g.action): g.scope for g in db.session.get(Role, own_id).grants} == EDITOR_GRANTS
    # a role within their rights is theirs to make
    response = post_form(client, "/admin/roles/new", {"name": "Readers", "grant-contact-view": "own"})
    assert response.status_code == 302


@pytest.mark.parametrize("target", ["admin", "peer", "senior"])
def test_administrators_change_everyone(app, world, client, target):
    subject = world.get(target)
    sign_in(client, world.admin.email)
    response = post_form(client, f"/admin/users/{subject.id}",
                         _form(app, subject.id, password=NEW_PASSWORD, roles=[world.big_role], is_admin="y"))
    assert response.status_code == 302
    after = _state(app, subject.id)
    assert after["is_admin"] is True and after["roles"] == [world.big_role]
    sign_in(app.test_client(), subject.email, NEW_PASSWORD)


def test_administrator_changes_themselves_but_not_into_no_administrator(app, world, client):
    sign_in(client, world.admin.email)
    response = post_form(client, f"/admin/users/{world.admin.id}",
                         _form(app, world.admin.id, is_admin=None, full_name="Still boss"))
    assert response.status_code == 400  # the last administrator stays one
    assert _state(app, world.admin.id)["is_admin"] is True


# --- the services refuse on their own, whatever view (or plugin) calls them ---------------------------------


SERVICE_CALLS = {
    "update_admin": lambda w, a, g: accounts.update_user(a, g(w.admin), full_name="x", email="x@example.com",
                                                      is_admin=True, roles=[], teams=[]),
    "update_senior": lambda w, a, g: accounts.update_user(a, g(w.senior), full_name="x",
                                                       email="x@example.com", is_admin=False, roles=[], teams=[]),
    "password_admin": lambda w, a, g: accounts.set_password(a, g(w.admin), NEW_PASSWORD),
    "disable_admin": lambda w, a, g: accounts.set_active(a, g(w.admin), False),
    "make_admin": lambda w, a, g: accounts.update_user(a, g(w.peer), full_name="", email=w.peer.email,
                                                    is_admin=True, roles=[], teams=[]),
    "make_self_admin": lambda w, a, g: accounts.update_user(a, g(w.editor), full_name="",
                                                         email=w.editor.email, is_admin=True, roles=[], teams=[]),
    "bigger_role_to_peer": lambda w, a, g: accounts.update_user(
        a, g(w.peer), full_name="", email=w.peer.email, is_admin=False,
        roles=[db.session.get(Role, w.big_role)], teams=[]),
    "create_admin": lambda w, a, g: accounts.create_user(a, email="p@example.com", password=NEW_PASSWORD,
                                                      is_admin=True),
    "create_with_bigger_role": lambda w, a, g: accounts.create_user(
        a, email="p@example.com", password=NEW_PASSWORD, roles=[db.session.get(Role, w.big_role)]),
    "edit_bigger_role": lambda w, a, g: accounts.save_role(
        a, db.session.get(Role, w.big_role), name="Auditors", description="", grants={},
        known={"audit": ("view",)}),
    "delete_bigger_role": lambda w, a, g: accounts.delete_role(a, db.session.get(Role, w.big_role)),
    "join_team": lambda w, a, g: accounts.save_team(a, db.session.get(Team, w.team), name="Elsewhere",
                                                 members=[g(w.peer), g(w.editor)]),
    "move_admin": lambda w, a, g: accounts.save_team(a, db.session.get(Team, w.admin_team), name="Board",
                                                  members=[]),
    "anonymous_web": lambda w, a, g: accounts.set_password(Actor(None, via="web"), g(w.peer), NEW_PASSWORD),
}


def test_a_role_beyond_ones_rights_is_refused_with_what_goes_beyond(app, world):
    with app.app_context(), unit_of_work():
        editor = Actor(db.session.get(User, world.editor.id), ip="10.0.0.1")
        with pytest.raises(ValidationError) as refused:
            accounts.save_role(editor, None, name="More", description="",
                               grants={("audit", "view"): "all", ("contact", "view"): "team",
                                       ("user", "view"): "all"},
                               known={"audit": ("view",), "contact": ("view",), "user": ("view",)})
        assert refused.value.field == "grants" and "audit.view, contact.view." in str(refused.value.message)
        db.session.rollback()
        assert db.session.scalar(select(Role.id).where(Role.name == "More")) is None


@pytest.mark.parametrize("call", list(SERVICE_CALLS))
def test_services_refuse_before_changing_anything(app, world, call):
    with app.app_context(), unit_of_work():
        editor = Actor(db.session.get(User, world.editor.id), ip="10.0.0.1")
        with pytest.raises(AccessDenied):
            SERVICE_CALLS[call](world, editor, lambda user: db.session.get(User, user.id))
        assert not db.session.dirty and not db.session.new
        db.session.rollback()
    assert _state(app, world.admin.id)["password_hash"] != ""
    with app.app_context(), unit_of_work():
        assert check_password_hash(db.session.get(User, world.admin.id).password_hash, TEST_PASSWORD)


# --- the rule as a property: whatever the rights on either side, a change goes through exactly when it raises no one


RIGHTS = [("contact", "view"), ("contact", "edit"), ("deal", "view"), ("audit", "view"), ("user", "edit")]
grant_sets = st.dictionaries(st.sampled_from(RIGHTS), st.sampled_from(SCOPES), max_size=4)


def _covers(mine: dict[tuple[str, str], str], theirs: dict[tuple[str, str], str]) -> bool:
    """The oracle, written apart from the access module: every right of ``theirs`` is in ``mine``, as wide."""
    order = {scope: n for n, scope in enumerate(SCOPES)}
    return all(key in mine and order[mine[key]] >= order[scope] for key, scope in theirs.items())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actor_rights=grant_sets, target_rights=grant_sets, given_rights=grant_sets, target_is_admin=st.booleans(),
       make_admin=st.booleans())
def test_account_changes_never_raise_anyone(app, actor_rights, target_rights, given_rights, target_is_admin,
                                            make_admin):
    tag = uuid.uuid4().hex[:8]
    with app.app_context(), unit_of_work():
        def role(name: str, rights: dict[tuple[str, str], str]) -> Role:
            made = Role(name=f"{name} {tag}", grants=[RoleGrant(entity=e, action=a, scope=s)
                                                     for (e, a), s in rights.items()])
            db.session.add(made)
            return made

        editor = User(email=f"ed-{tag}@example.com", password_hash="x", roles=[role("actor", actor_rights)])
        target = User(email=f"t-{tag}@example.com", password_hash="x", is_admin=target_is_admin,
                      roles=[role("target", target_rights)])
        given_role = role("given", given_rights)
        db.session.add_all([editor, target])
        db.session.commit()
        allowed = (not target_is_admin and not make_admin and _covers(actor_rights, target_rights)
                   and _covers(actor_rights, given_rights))
        try:
            accounts.update_user(Actor(editor, ip="10.0.0.1"), target, full_name="", email=target.email,
                                 is_admin=make_admin or target_is_admin, roles=[given_role], teams=[])
        except AccessDenied:
            db.session.rollback()
            assert not allowed
            reloaded = db.session.get(User, target.id)
            assert [r.name for r in reloaded.roles] == [f"target {tag}"], "nothing changed"
        else:
            assert allowed
            assert db.session.get(User, target.id).is_admin is False
        finally:
            db.session.rollback()
            for user in (db.session.get(User, target.id), db.session.get(User, editor.id)):
                db.session.delete(user)
            for made in db.session.scalars(select(Role).where(Role.name.endswith(tag))):
                db.session.delete(made)
            db.session.commit()
