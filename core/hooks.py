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

CLIENT_ACTIONS = ("view", "create", "edit", "delete", "export", "import", "assign")
CLIENT_DEFAULTS = {
    "manager": {action: "team" for action in CLIENT_ACTIONS},
    "sales": {"view": "own", "create": "own", "edit": "own", "export": "own"},
    "operator": {"view": "all", "create": "all"},
}


@hookimpl
def register_permissions() -> list[PermissionSpec]:
    return [
        PermissionSpec("contact", CLIENT_ACTIONS, _l("Contacts"), defaults=CLIENT_DEFAULTS),
        PermissionSpec("company", CLIENT_ACTIONS, _l("Companies"), defaults=CLIENT_DEFAULTS),
        PermissionSpec("deal", CLIENT_ACTIONS, _l("Deals"), defaults=CLIENT_DEFAULTS),
        PermissionSpec("custom_field", ("edit",), _l("Custom fields"), scoped=False),
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
        *([NavItem("contacts", _l("Contacts"), "contacts.index", icon="person", order=10)]
          if can(user, "view", "contact") else []),
        *([NavItem("companies", _l("Companies"), "companies.index", icon="building", order=20)]
          if can(user, "view", "company") else []),
        *([NavItem("deals", _l("Deals"), "deals.index", icon="kanban", order=30)]
          if can(user, "view", "deal") else []),
        NavItem("notifications", _l("Notifications"), "home.notifications", icon="bell", order=900),
    ]
    admin = [
        ("users", _l("Users"), "admin.users", "user", 10),
        ("teams", _l("Teams"), "admin.teams", "team", 20),
        ("roles", _l("Roles"), "admin.roles", "role", 30),
        ("plugins", _l("Plugins"), "admin.plugins", "plugin", 40),
        ("audit", _l("Audit log"), "admin.audit", "audit", 50),
        ("custom_fields", _l("Custom fields"), "admin.custom_fields", "custom_field", 35),
    ]
    items += [
        NavItem(key, label, endpoint, icon=key, order=order, section="admin")
        for key, label, endpoint, entity, order in admin
        if can(user, "edit" if entity == "custom_field" else "view", entity)
    ]
    return items


@hookimpl(trylast=True)
def country_rules() -> CountryRules:
    settings = current_app.extensions["mayak.settings"]
    return CountryRules(country="US", phone_region=settings.default_phone_region or "US", currency="USD")
