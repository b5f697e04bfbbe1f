"""Core's own hook implementations, registered first as the plugin named ``core``.

Core contributes its navigation and permissions through the same hooks plugins use, and answers
``country_rules`` last (``trylast``) so any localisation plugin overrides the neutral defaults.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

from core.models import User
from core.plugins import CountryRules, NavItem, PermissionSpec, hookimpl
from core.services.access import can


@hookimpl
def register_permissions() -> list[PermissionSpec]:
    return [
        PermissionSpec("user", ("view", "create", "edit"), _l("Users"), scoped=False),
        PermissionSpec("team", ("view", "edit"), _l("Teams"), scoped=False),
        PermissionSpec("role", ("view", "edit"), _l("Roles"), scoped=False),
        PermissionSpec("audit", ("view",), _l("Audit log"), scoped=False),
        PermissionSpec("plugin", ("view",), _l("Plugins"), scoped=False),
    ]


@hookimpl
def nav_items(user: User) -> list[NavItem]:
    items = [
        NavItem("home", _l("Home"), "home.index", icon="house", order=0),
        NavItem("notifications", _l("Notifications"), "home.notifications", icon="bell", order=900),
    ]
    admin = [
        ("users", _l("Users"), "admin.users", "user", 10),
        ("teams", _l("Teams"), "admin.teams", "team", 20),
        ("roles", _l("Roles"), "admin.roles", "role", 30),
        ("plugins", _l("Plugins"), "admin.plugins", "plugin", 40),
        ("audit", _l("Audit log"), "admin.audit", "audit", 50),
    ]
    items += [
        NavItem(key, label, endpoint, icon=key, order=order, section="admin")
        for key, label, endpoint, entity, order in admin
        if can(user, "view", entity)
    ]
    return items


@hookimpl(trylast=True)
def country_rules() -> CountryRules:
    settings = current_app.extensions["mayak.settings"]
    return CountryRules(country="US", phone_region=settings.default_phone_region or "US", currency="USD")
