"""Plugin settings forms in pages: binding a plugin's form class to the request, the secret fields' rules (never
shown back, empty keeps, a box to forget), and the saving shared by the admin's plugin page, the profile and the
admin's page of a user."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import abort, flash, redirect, request
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import Form

from core.db import db
from core.plugins import settings as plugin_settings
from core.plugins.settings import is_secret
from core.services.platform import plugin_settings as settings_service
from core.web.context import actor

if TYPE_CHECKING:
    from core.models import User

CLEAR_SUFFIX = "-clear"  # the checkbox beside a saved secret: forget it


def bind(form_class: type[Form], *, data: Mapping[str, Any] | None = None, prefix: str = "",
         posted: bool | None = None) -> FlaskForm:
    """An instance of the plugin's form with Flask-WTF's CSRF token (mixed in when the plugin gave a plain WTForms
    form): bound to the posted data on POST (or when ``posted``), filled with ``data`` (never secrets) otherwise."""
    cls = form_class if issubclass(form_class, FlaskForm) else type(form_class.__name__, (form_class, FlaskForm), {})
    if posted if posted is not None else request.method == "POST":
        return cls(prefix=prefix)
    return cls(formdata=None, prefix=prefix,
               data={k: v for k, v in (data or {}).items() if k not in _secret_keys(form_class)})


def _secret_keys(form_class: type[Form]) -> set[str]:
    return {key for key, secret in plugin_settings.field_keys(form_class).items() if secret}


def plain_keys(form_class: type[Form]) -> set[str]:
    """The keys of the form's fields that are not secrets (their values may be shown)."""
    return {key for key, secret in plugin_settings.field_keys(form_class).items() if not secret}


def secret_states(form: Form, saved: set[str], effective: Mapping[str, Any]) -> dict[str, str | None]:
    """For each secret field: ``saved`` (here, may be forgotten), ``deploy`` (from plugins.toml) or ``None``."""
    states: dict[str, str | None] = {}
    for f in form:
        if is_secret(f):
            key = f.short_name
            states[key] = "saved" if key in saved else ("deploy" if effective.get(key) else None)
    return states


@dataclass
class Submission:
    values: dict[str, Any] = field(default_factory=dict)
    typed_secrets: dict[str, Any] = field(default_factory=dict)
    cleared: set[str] = field(default_factory=set)


def submitted(form: FlaskForm, effective: Mapping[str, Any]) -> Submission | None:
    """The posted form's values when it validates (CSRF included), else ``None`` with the errors on the fields.

    A secret left empty keeps its value: the validators see the kept one, so a required secret that is set does
    not have to be typed again; the box beside it forgets it instead."""
    result = Submission()
    for f in form:
        if f.type == "CSRFTokenField" or not is_secret(f):
            continue
        key = f.short_name
        if f.data:
            result.typed_secrets[key] = f.data
        elif request.form.get(f.name + CLEAR_SUFFIX):
            result.cleared.add(key)
        elif effective.get(key):
            f.data = effective[key]
    if not form.validate_on_submit():
        return None
    result.values = {f.short_name: f.data for f in form if f.type != "CSRFTokenField" and not is_secret(f)}
    return result


def effective_values(settings: Any) -> dict[str, Any]:
    """A settings object (a ``Settings`` dataclass or a mapping) as a plain dict of its values."""
    if isinstance(settings, Mapping):
        return dict(settings)
    fields = getattr(settings, "__dataclass_fields__", None)
    if fields is not None:
        return {name: getattr(settings, name) for name in fields}
    return {}


def form_title(plugin: str, form_class: type[Form]) -> str:
    """What the section of a user settings form is called: the form's ``title`` attribute, else the plugin's name."""
    return str(getattr(form_class, "title", None) or plugin)


# --- a user's settings for every plugin (the profile, and the administrator's page of a user) ---------------------


def user_sections(subject: User, action: Callable[[str], str], posted: str | None = None,
                  forms: dict[str, FlaskForm] | None = None) -> list[dict[str, Any]]:
    """One section per plugin with user settings: its title, form (``forms[plugin]`` when given: the posted one
    with its errors), secret states and the URL it posts to."""
    sections = []
    for plugin, form_class in plugin_settings.plugins_with_user_settings():
        values = dict(plugin_settings.user_settings(plugin, subject))
        form = (forms or {}).get(plugin) or bind(form_class, data=values, prefix=plugin, posted=False)
        sections.append({"plugin": plugin, "title": form_title(plugin, form_class), "form": form,
                         "secrets": secret_states(form, plugin_settings.stored_secret_keys(plugin, subject), values),
                         "action": action(plugin)})
    return sections


def user_settings_page(subject: User, action: Callable[[str], str], back: str, plugin: str | None = None) -> Any:
    """GET: the sections (a fragment for htmx, loaded into the profile or the user's page). POST for ``plugin``:
    validate and save its form for ``subject``; errors next to the fields (422) and nothing saved, or the saved
    sections (htmx) / a redirect to ``back``."""
    from core.web.htmx import fragment, is_htmx, render

    if plugin is None:
        sections = user_sections(subject, action)
        if is_htmx():
            return fragment("plugin_settings/user.html", "sections", sections=sections, subject=subject)
        return render("plugin_settings/user.html", sections=sections, subject=subject)
    form_class = plugin_settings.user_settings_form(plugin) if plugin_settings.plugins().info(plugin) else None
    if form_class is None:
        abort(404)
    values = dict(plugin_settings.user_settings(plugin, subject))
    form = bind(form_class, prefix=plugin, posted=True)
    posted = submitted(form, values)
    if posted is None:
        sections = user_sections(subject, action, forms={plugin: form})
        if is_htmx():
            return fragment("plugin_settings/user.html", "sections", sections=sections, subject=subject, status=422)
        return render("plugin_settings/user.html", sections=sections, subject=subject, status=422)
    changes = settings_service.save_user(actor(), plugin, subject, posted.values, posted.typed_secrets,
                                         posted.cleared)
    db.session.commit()
    message = _("The settings of %(plugin)s are saved.", plugin=form_title(plugin, form_class)) if changes \
        else _("Nothing changed.")
    if is_htmx():
        return fragment("plugin_settings/user.html", "sections", sections=user_sections(subject, action),
                        subject=subject, saved={plugin: message})
    flash(message, "success")
    return redirect(back)
