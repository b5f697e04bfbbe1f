"""Saving plugin settings (an administrator's, or a user's own) and re-encrypting the secrets under a new key.

The values come from a plugin's settings form already validated; here they are checked against the plugin's
``Settings`` (its own rules), written in the caller's transaction and audited without secret values. A value equal to
the deploy-time one (``plugins.toml``, or the form's default for user settings) is not stored, so ``plugins.toml``
keeps deciding it; an empty secret keeps the saved one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.db import db
from core.models import PluginSetting, User, UserPluginSetting, utcnow
from core.plugins import settings as plugin_settings
from core.services.platform import audit
from core.services.platform.context import Actor
from core.services.platform.errors import ValidationError
from core.services.platform.inserts import insert_ignoring_duplicates

MASKED = "***"  # what the audit log says of a secret that changed


def jsonable(value: Any) -> Any:
    """A form field's data as a JSON value: dates as ISO text, decimals as text, sets and tuples as lists."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple | list):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return json.loads(json.dumps(value, default=str))


def same(a: Any, b: Any) -> bool:
    """Whether two field values are the same setting (empty text, ``None`` and an empty list are all "nothing")."""
    a, b = jsonable(a), jsonable(b)
    return (a if a not in ("", []) else None) == (b if b not in ("", []) else None)


def _claim(model: Any, **key: Any) -> Any:
    """The row of ``key``, inserted empty if missing. Two administrators saving a new key at the same moment meet
    on the unique constraint: the second waits for the first and then changes the same row (the last save wins)
    instead of failing its whole save."""
    db.session.execute(insert_ignoring_duplicates(model, [{**key, "value": None, "secret": False,
                                                           "updated_at": utcnow()}], *key))
    return db.session.scalars(select(model).filter_by(**key)).one()


def _apply(rows: dict[str, Any], make_row: Any, values: Mapping[str, Any], baseline: Mapping[str, Any],
           typed_secrets: Mapping[str, Any], cleared: Iterable[str],
           before: Mapping[str, Any]) -> dict[str, Any]:
    """Write the changes into ``rows`` (existing rows by key; ``make_row(key)`` adds one); the audit's changes."""
    changes: dict[str, Any] = {}
    for key, raw in values.items():
        value = jsonable(raw)
        row = rows.get(key)
        if same(value, baseline.get(key)):
            if row is not None:
                db.session.delete(row)
        else:
            row = row or make_row(key)
            row.value, row.secret = value, False
        if not same(before.get(key), value):
            changes[key] = [jsonable(before.get(key)), value]
    for key, secret in typed_secrets.items():
        row = rows.get(key) or make_row(key)
        row.value, row.secret = plugin_settings.encrypt(secret), True
        changes[key] = MASKED
    for key in cleared:
        if key in typed_secrets:
            continue
        row = rows.get(key)
        if row is not None:
            db.session.delete(row)
            changes[key] = MASKED
    return changes


def save_plugin(actor: Actor, plugin: str, values: Mapping[str, Any], typed_secrets: Mapping[str, Any],
                cleared: Iterable[str] = ()) -> dict[str, Any]:
    """Save ``plugin``'s runtime settings: ``values`` of its ordinary fields, ``typed_secrets`` the secrets typed in
    (others stay as they are), ``cleared`` the secrets to forget (``plugins.toml``'s applies again).

    Raises :class:`ValidationError` (field ``""``) when the plugin's ``Settings`` refuses the result; nothing is
    written then. Returns the audited changes (secrets as ``***``); the caller commits."""
    cleared = set(cleared)
    deploy = plugin_settings.deploy_settings(plugin)
    runtime = plugin_settings.stored(plugin)
    before = {**deploy, **runtime}
    after = dict(runtime)
    for key, value in values.items():
        if same(value, deploy.get(key)):
            after.pop(key, None)
        else:
            after[key] = jsonable(value)
    for key in cleared - set(typed_secrets):
        after.pop(key, None)
    after.update(typed_secrets)
    try:
        plugin_settings.merge(plugin, after)
    except (TypeError, ValueError) as exc:
        raise ValidationError("", _l("The plugin refuses these settings: %(reason)s", reason=str(exc))) from exc
    rows = {row.key: row for row in db.session.scalars(select(PluginSetting).where(PluginSetting.plugin == plugin))}

    def make_row(key: str) -> PluginSetting:
        row = _claim(PluginSetting, plugin=plugin, key=key)
        rows[key] = row
        return row

    changes = _apply(rows, make_row, values, deploy, typed_secrets, cleared, before)
    for row in rows.values():
        row.updated_by_id = actor.user_id
    if changes:
        audit.record(actor, "plugin.settings_saved", "plugin", plugin, changes)
    db.session.flush()
    plugin_settings.invalidate(plugin)
    return changes


def save_user(actor: Actor, plugin: str, user: User, values: Mapping[str, Any], typed_secrets: Mapping[str, Any],
              cleared: Iterable[str] = ()) -> dict[str, Any]:
    """Save ``user``'s settings for ``plugin`` (as :func:`save_plugin`; the baseline is the form's defaults).
    Audited on the user as ``user.plugin_settings`` with keys ``<plugin>.<key>``; the caller commits."""
    form_class = plugin_settings.user_settings_form(plugin)
    defaults = plugin_settings.form_defaults(form_class) if form_class is not None else {}
    before = dict(plugin_settings.user_settings(plugin, user))
    rows = {row.key: row for row in db.session.scalars(
        select(UserPluginSetting).where(UserPluginSetting.plugin == plugin, UserPluginSetting.user_id == user.id))}

    def make_row(key: str) -> UserPluginSetting:
        row = _claim(UserPluginSetting, user_id=user.id, plugin=plugin, key=key)
        rows[key] = row
        return row

    changes = _apply(rows, make_row, values, defaults, typed_secrets, set(cleared), before)
    if changes:
        audit.record(actor, "user.plugin_settings", "user", user.id,
                     {f"{plugin}.{key}": change for key, change in changes.items()})
    db.session.flush()
    plugin_settings.invalidate(plugin)
    return changes


def rotate_keys() -> int:
    """Re-encrypt every stored secret (plugins' and users') under the first key of ``MAYAK_SETTINGS_KEYS``; the
    other keys may then be removed. All or nothing: a secret no key opens raises
    :class:`~core.plugins.settings.SettingsKeyError` before anything changes. The caller commits."""
    rows: list[Any] = [*db.session.scalars(select(PluginSetting).where(PluginSetting.secret.is_(True))),
                       *db.session.scalars(select(UserPluginSetting).where(UserPluginSetting.secret.is_(True)))]
    rotated = [plugin_settings.rotate(row.value) for row in rows]
    for row, token in zip(rows, rotated, strict=True):
        row.value = token
    db.session.flush()
    plugin_settings.invalidate()
    return len(rows)
