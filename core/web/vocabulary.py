"""The product's own words for the codes it stores (phone kinds, seeded role names), in the reader's language.

Data a company types is shown as typed; what the product itself named — a phone's kind, a seeded role that nobody
renamed — is stored as a code or as its English name and translated each time it is shown, so an installation
set up in one language reads right in the other.
"""

from __future__ import annotations

from flask import Flask
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from core.models import Role

CONTACT_POINT_KINDS = {
    "mobile": _l("mobile"), "work": _l("work"), "home": _l("home"), "fax": _l("fax"), "other": _l("other"),
    "personal": _l("personal"),
}


def kind_label(code: str | None) -> str:
    """``work`` → ``рабочий`` for a phone's or an email's kind; an unknown code is shown as it is."""
    label = CONTACT_POINT_KINDS.get(code or "")
    return str(label) if label is not None else (code or "")


def role_name(role: Role) -> str:
    """A seeded role (it has a ``key``) is named in the reader's language unless an admin renamed it: the
    catalogue translates only the product's own English names, so a renamed role comes back unchanged."""
    return gettext(role.name) if role.key else role.name


def init_vocabulary(app: Flask) -> None:
    app.jinja_env.filters["kind_label"] = kind_label
    app.jinja_env.filters["role_name"] = role_name
