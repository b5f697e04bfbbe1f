"""The product's own words for the codes it stores (phone kinds, seeded role names), in the reader's language.

Data a company types is shown as typed; what the product itself named — a phone's kind, a seeded role that nobody
renamed — is stored as a code or as its English name and translated each time it is shown, so an installation
set up in one language reads right in the other.
"""

from __future__ import annotations

from flask import Flask, current_app
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l

from core.models import Role
from core.plugins.facades import registry
from core.services.work.deals import DEFAULT_LOST_REASONS, DEFAULT_PIPELINE_NAME, DEFAULT_STAGES

SEEDED_NAMES_KEY = "mayak.seeded_names"

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


def _seeded_names() -> dict[str, str]:
    """Every spelling, in every enabled language, of the names Mayak seeds (the first pipeline, its stages and
    lost reasons) → their English message id; computed once per app."""
    cached = current_app.extensions.get(SEEDED_NAMES_KEY)
    if cached is None:
        messages = [DEFAULT_PIPELINE_NAME, *(name for name, _kind, _p in DEFAULT_STAGES), *DEFAULT_LOST_REASONS]
        cached = {}
        for code in registry().locales:
            with force_locale(code):
                cached.update({gettext(message): message for message in messages})
        current_app.extensions[SEEDED_NAMES_KEY] = cached
    return cached


def seeded_name(name: str | None) -> str:
    """A stage, pipeline or lost reason still called what Mayak seeded it as ("Lost", "Проиграна") is shown in the
    reader's language, whichever language the installation seeded it in; a name the company chose is shown as
    typed."""
    if not name:
        return name or ""
    message_id = _seeded_names().get(name)
    return gettext(message_id) if message_id is not None else name


def init_vocabulary(app: Flask) -> None:
    app.jinja_env.filters["kind_label"] = kind_label
    app.jinja_env.filters["role_name"] = role_name
    app.jinja_env.filters["seeded"] = seeded_name
