"""The central access module: scopes own/team/all, administrators, disabled users, list filtering."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from core.db import db, unit_of_work
from core.models import Team, User
from core.services.platform.access import AccessDenied, can, filter_query, require, scope_for


@dataclass
class Record:
    owner_id: int | None


@pytest.fixture
def people(app, make_user):
    with app.app_context(), unit_of_work():
        red, blue = Team(name="Red"), Team(name="Blue")
        db.session.add_all([red, blue])
        db.session.commit()
        red_id, blue_id = red.id, blue.id
    with app.app_context(), unit_of_work():
        red, blue = db.session.get(Team, red_id), db.session.get(Team, blue_id)
        ids = {
            "own": make_user("own@example.com", grants={("thing", "view"): "own"}, teams=[red]).id,
            "team": make_user("team@example.com", grants={("thing", "view"): "team"}, teams=[red]).id,
            "all": make_user("all@example.com", grants={("thing", "view"): "all"}, teams=[blue]).id,
            "none": make_user("none@example.com", teams=[red]).id,
            "mate": make_user("mate@example.com", teams=[red]).id,
            "stranger": make_user("stranger@example.com", teams=[blue]).id,
            "admin": make_user("root@example.com", is_admin=True).id,
        }
    return ids


def _visible(user: User) -> set[str]:
    stmt = filter_query(user, "view", "thing", select(User.email), User.id)
    return set(db.session.scalars(stmt))


def test_scopes_on_single_records_and_lists(app, people):
    with app.app_context(), unit_of_work():
        get = lambda key: db.session.get(User, people[key])  # noqa: E731
        own, team, everyone = get("own"), get("team"), get("all")
        mate, stranger = Record(people["mate"]), Record(people["stranger"])

        assert can(own, "view", "thing", Record(own.id)) and not can(own, "view", "thing", mate)
        assert can(team, "view", "thing", mate) and not can(team, "view", "thing", stranger)
        assert can(everyone, "view", "thing", stranger)
        assert not can(get("none"), "view", "thing") and not can(own, "edit", "thing", Record(own.id))
        assert can(get("admin"), "delete", "anything", stranger)
        with pytest.raises(AccessDenied):
            require(team, "view", "thing", stranger)

        assert _visible(own) == {"own@example.com"}
        assert _visible(team) == {"own@example.com", "team@example.com", "none@example.com", "mate@example.com"}
        assert len(_visible(everyone)) == 7
        assert _visible(get("none")) == set()


def test_disabled_user_may_do_nothing(app, people):
    with app.app_context(), unit_of_work():
        admin = db.session.get(User, people["admin"])
        admin.is_active = False
        assert scope_for(admin, "view", "thing") is None


def test_widest_grant_of_several_roles_wins(app, make_user):
    from core.models import Role, RoleGrant

    with app.app_context(), unit_of_work():
        user = db.session.get(User, make_user("two@example.com", grants={("thing", "view"): "own"}).id)
        user.roles.append(Role(name="wide", grants=[RoleGrant(entity="thing", action="view", scope="all")]))
        db.session.commit()
        assert scope_for(user, "view", "thing") == "all"


def test_notification_links_must_be_safe(app, make_user):
    from core.services.platform import notifications

    reader = make_user("r@example.com")
    with app.app_context(), unit_of_work():
        for bad in ("javascript:alert(1)", "//evil.example/x", "data:text/html,x"):
            with pytest.raises(ValueError):
                notifications.notify([reader.id], "x", link=bad)
        notifications.notify([reader.id], "x", link="/admin/jobs/")
        db.session.rollback()


def test_phone_region_setting_overrides_country_rules(app, make_app):
    from core.plugins import facades

    with app.app_context(), unit_of_work():
        assert facades.default_phone_region() == "RU"
    with make_app(MAYAK_PHONE_REGION="kz").app_context():
        assert facades.default_phone_region() == "KZ"
