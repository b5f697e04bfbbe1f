"""The product's own words for the codes it stores (phone kinds, seeded role names), in the reader's language.

Data a company types is shown as typed; what the product itself named — a phone's kind, a seeded role that nobody
renamed — is stored as a code or as its English name and translated each time it is shown, so an installation
set up in one language reads right in the other.
"""

from __future__ import annotations

from flask import Flask, current_app
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from jinja2 import Template, TemplateNotFound

from core.models import Role
from core.plugins import provider_facades
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


def channel_label(code: str | None) -> str:
    """An inbox channel in the reader's language (``phone`` → ``звонок``), from its :class:`ChannelSpec`."""
    spec = provider_facades.channel(code or "")
    return str(spec.label) if spec is not None else (code or "")


def timeline_kind_label(code: str | None) -> str:
    spec = provider_facades.timeline_kind(code or "")
    return str(spec.label) if spec is not None else (code or "")


def timeline_icon(code: str | None) -> str:
    spec = provider_facades.timeline_kind(code or "")
    return spec.icon if spec is not None else "·"


TIMELINE_TEMPLATES_KEY = "mayak.timeline_templates"


def timeline_templates() -> dict[str, Template]:
    """Timeline kind → the loaded template its plugin renders an entry with: the spec's ``template``, else
    ``<plugin>/timeline/<kind>.html`` when the plugin has one. Found once per app, so a page of entries looks
    nothing up per row; kinds without a template (core's) are rendered by ``_timeline_entry.html``."""
    cached = current_app.extensions.get(TIMELINE_TEMPLATES_KEY)
    if cached is None:
        cached = {}
        for spec in provider_facades.timeline_kinds():
            plugin = provider_facades.timeline_kind_plugin(spec.key)
            name = spec.template or (f"{plugin}/timeline/{spec.key}.html" if plugin != "core" else None)
            if name is None:
                continue
            try:
                cached[spec.key] = current_app.jinja_env.get_template(name)
            except TemplateNotFound:
                if spec.template:
                    current_app.logger.warning("timeline kind %r: template %r not found; core renders it",
                                               spec.key, name)
        current_app.extensions[TIMELINE_TEMPLATES_KEY] = cached
    return cached


def init_vocabulary(app: Flask) -> None:
    app.jinja_env.filters["channel_label"] = channel_label
    app.jinja_env.filters["timeline_kind_label"] = timeline_kind_label
    app.jinja_env.filters["timeline_icon"] = timeline_icon
    app.jinja_env.globals["timeline_templates"] = timeline_templates
    app.jinja_env.globals["inbox_channels"] = provider_facades.channels
    app.jinja_env.filters["kind_label"] = kind_label
    app.jinja_env.filters["role_name"] = role_name
    app.jinja_env.filters["seeded"] = seeded_name
