"""Plugin settings in the UI: the forms plugins declare, their values stored at run time over ``plugins.toml``,
secret values write-only and encrypted at rest.

A plugin declares a WTForms form for its runtime settings (hook ``plugin_settings_form``) and, the same way, one for
each user's settings (``user_settings_form``: a phone extension, a mailbox). Administrators fill the first in
*Administration → Plugins → <plugin>*, users the second in their profile (and administrators on the user's page).

* :func:`plugin_settings` gives a plugin its effective settings: the values saved in the admin page over the
  deploy-time ones from ``plugins.toml`` (``{ env = ... }`` references resolved), secrets decrypted. A plugin with a
  ``Settings`` dataclass gets an instance of it (its ``__post_init__`` checks apply); others a read-only mapping.
* Fields of the class :class:`SecretField` are secrets: never rendered back, stored as Fernet tokens under the keys
  in ``MAYAK_SETTINGS_KEYS`` (a :class:`~cryptography.fernet.MultiFernet`: the first key encrypts, every key
  decrypts, so keys rotate; ``mayak settings rotate-key`` re-encrypts with the first).
* Values are read once per request (or job) and application context: saving drops the cached copy.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app, g
from flask_babel import gettext
from sqlalchemy import inspect, select
from wtforms import Form, PasswordField

from core.db import db
from core.errors import ProviderError, ProviderNotFound
from core.models.plugin_settings import PluginSetting, UserPluginSetting
from core.plugins.facades import plugins
from core.plugins.manager import Policy
from core.plugins.types import HealthStatus

if TYPE_CHECKING:
    from core.models import User

log = logging.getLogger(__name__)

_CACHE = "_mayak_plugin_settings"
_CIPHER_KEY = "mayak.settings_cipher"
_READY_KEY = "mayak.settings_tables"
CACHE_SECONDS = 5.0


class SecretField(PasswordField):
    """A write-only setting (an API key, a password): shown as "set" or "not set", never with its value; an empty
    submission keeps the saved value; stored encrypted. Validators see the saved value when nothing was typed."""

    secret = True

    def __init__(self, label: Any = None, validators: Any = None, **kwargs: Any) -> None:
        render_kw = {"autocomplete": "new-password", **(kwargs.pop("render_kw", None) or {})}
        super().__init__(label, validators, render_kw=render_kw, **kwargs)
        self.flags.secret = True


def is_secret(field: Any) -> bool:
    """Whether a bound form field holds a secret (a :class:`SecretField`, or any field flagged ``secret``)."""
    return bool(getattr(field, "secret", False) or getattr(field.flags, "secret", False))


class SettingsValues(Mapping[str, Any]):
    """The effective settings of a plugin without a ``Settings`` dataclass: a read-only mapping whose keys are also
    attributes (``conf["url"]`` or ``conf.url``); a missing attribute is ``None``."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._values.get(name)

    def __repr__(self) -> str:
        return f"SettingsValues({sorted(self._values)})"


# --- encryption ---------------------------------------------------------------------------------------------------


class SettingsKeyError(RuntimeError):
    """A stored secret that none of the keys in ``MAYAK_SETTINGS_KEYS`` decrypts."""


def cipher() -> MultiFernet:
    """The app's keys as one MultiFernet (built once per app and key list)."""
    keys = tuple(current_app.extensions["mayak.settings"].settings_keys)
    cached = current_app.extensions.get(_CIPHER_KEY)
    if cached is None or cached[0] != keys:
        cached = (keys, MultiFernet([Fernet(key) for key in keys]))
        current_app.extensions[_CIPHER_KEY] = cached
    return cached[1]


def encrypt(value: Any) -> str:
    """A Fernet token (text) of ``value`` as JSON, under the first key."""
    return cipher().encrypt(json.dumps(value, ensure_ascii=False).encode()).decode("ascii")


def decrypt(token: str) -> Any:
    try:
        return json.loads(cipher().decrypt(str(token).encode("ascii")))
    except (InvalidToken, UnicodeEncodeError, ValueError) as exc:
        raise SettingsKeyError(
            "a secret plugin setting cannot be decrypted with any key in MAYAK_SETTINGS_KEYS: was a key removed "
            "before `mayak settings rotate-key` re-encrypted the secrets?"
        ) from exc


def rotate(token: str) -> str:
    """``token`` re-encrypted under the first key (raises :class:`SettingsKeyError` when no key opens it)."""
    try:
        return cipher().rotate(str(token).encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise SettingsKeyError("a secret plugin setting cannot be decrypted with any key in MAYAK_SETTINGS_KEYS") \
            from exc


# --- the forms plugins declare ------------------------------------------------------------------------------------


def _own_answer(hook_name: str, plugin: str) -> Any:
    answer = plugins().call(hook_name, Policy.FIRST, only=plugin)
    return answer[0].value if answer else None


def settings_form(plugin: str) -> type[Form] | None:
    """The form class of ``plugin``'s runtime settings, ``None`` when it declares none."""
    return _own_answer("plugin_settings_form", plugin)


def user_settings_form(plugin: str) -> type[Form] | None:
    """The form class of each user's settings for ``plugin``, ``None`` when it declares none."""
    return _own_answer("user_settings_form", plugin)


def plugins_with_user_settings() -> list[tuple[str, type[Form]]]:
    """``(plugin, form class)`` of every enabled plugin with per-user settings, in plugin order (one that raises is
    logged and left out)."""
    found = []
    for info in plugins().enabled:
        try:
            form = user_settings_form(info.name)
        except Exception:
            log.exception("plugin %r failed in user_settings_form", info.name)
            continue
        if form is not None:
            found.append((info.name, form))
    return found


def bare_form(form_class: type[Form]) -> Form:
    """An unbound instance (no request data, no CSRF) to read the fields' names, kinds and defaults."""
    return form_class(formdata=None, meta={"csrf": False})


def field_keys(form_class: type[Form]) -> dict[str, bool]:
    """``{key: is secret}`` of the form's fields (the key is the field's name without the form's prefix)."""
    return {f.short_name: is_secret(f) for f in bare_form(form_class) if f.type not in ("CSRFTokenField",)}


def form_defaults(form_class: type[Form]) -> dict[str, Any]:
    return {f.short_name: f.data for f in bare_form(form_class) if f.type != "CSRFTokenField" and not is_secret(f)}


# --- reading ----------------------------------------------------------------------------------------------------


def _tables_ready() -> bool:
    """Whether the settings tables exist (not before ``mayak db upgrade``, which itself starts the app)."""
    if current_app.extensions.get(_READY_KEY):
        return True
    ready = inspect(db.engine).has_table(PluginSetting.__tablename__)
    if ready:
        current_app.extensions[_READY_KEY] = True
    return ready


def _cache() -> dict[Any, Any]:
    """The values read in this application context (one request or job), forgotten after :data:`CACHE_SECONDS` so a
    long-lived context (a CLI command, a scheduler loop, an RQ worker's parent) still sees an administrator's save."""
    now = time.monotonic()
    held = g.get(_CACHE)
    if held is None or now - held[0] > CACHE_SECONDS:
        held = (now, {})
        setattr(g, _CACHE, held)
    return held[1]


def invalidate(plugin: str | None = None) -> None:
    """Forget the values read in this context (after a save); all plugins' when ``plugin`` is ``None``."""
    held = g.get(_CACHE)
    if held is None:
        return
    cache = held[1]
    if plugin is None:
        cache.clear()
        return
    for key in [k for k in cache if k[1] == plugin]:
        del cache[key]


def _open(rows: list[Any], plugin: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for row in rows:
        if not row.secret:
            values[row.key] = row.value
            continue
        try:
            values[row.key] = decrypt(row.value)
        except SettingsKeyError:
            log.exception("secret setting %r of plugin %r is unreadable; using the deploy-time value", row.key,
                          plugin)
    return values


def stored(plugin: str) -> dict[str, Any]:
    """The values saved at run time for ``plugin`` (secrets decrypted), read once per context."""
    cache = _cache()
    key = ("stored", plugin)
    if key not in cache:
        rows = []
        if _tables_ready():
            rows = list(db.session.scalars(select(PluginSetting).where(PluginSetting.plugin == plugin)))
        cache[key] = _open(rows, plugin)
    return dict(cache[key])


def stored_secret_keys(plugin: str, user: User | None = None) -> set[str]:
    """Keys of the secrets saved at run time (for "set — leave empty to keep" on the forms)."""
    if not _tables_ready():
        return set()
    if user is None:
        stmt = select(PluginSetting.key).where(PluginSetting.plugin == plugin, PluginSetting.secret.is_(True))
    else:
        stmt = select(UserPluginSetting.key).where(UserPluginSetting.plugin == plugin,
                                                   UserPluginSetting.user_id == user.id,
                                                   UserPluginSetting.secret.is_(True))
    return set(db.session.scalars(stmt))


def deploy_settings(plugin: str) -> dict[str, Any]:
    """The deploy-time values of ``plugin``: ``plugins.toml`` over its ``Settings`` defaults."""
    info = plugins().info(plugin)
    if info is None:
        raise ProviderNotFound(f"no enabled plugin is named {plugin!r}")
    base = info.settings
    if base is None:
        return {}
    if dataclasses.is_dataclass(base) and not isinstance(base, type):
        return {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
    if isinstance(base, Mapping):
        return dict(base)
    return {}


def merge(plugin: str, runtime: Mapping[str, Any]) -> Any:
    """``plugin``'s settings object with ``runtime`` values over the deploy-time ones; raises ``ValueError`` or
    ``TypeError`` when the plugin's ``Settings`` refuses them (used to check a form before it is saved)."""
    info = plugins().info(plugin)
    if info is None:
        raise ProviderNotFound(f"no enabled plugin is named {plugin!r}")
    base = info.settings
    if base is not None and dataclasses.is_dataclass(base) and not isinstance(base, type):
        known = {f.name for f in dataclasses.fields(base) if f.init}
        overrides = {k: v for k, v in runtime.items() if k in known}
        return dataclasses.replace(base, **overrides) if overrides else base
    return SettingsValues({**deploy_settings(plugin), **runtime})


def plugin_settings(name: str) -> Any:
    """The effective settings of plugin ``name``: values saved in *Administration → Plugins* over ``plugins.toml``,
    secrets decrypted. An instance of the plugin's ``Settings`` dataclass when it has one, else a read-only mapping
    (:class:`SettingsValues`). Read once per request or job; raises :class:`ProviderNotFound` for a plugin that is
    not enabled."""
    cache = _cache()
    key = ("effective", name)
    if key not in cache:
        runtime = stored(name)
        try:
            cache[key] = merge(name, runtime)
        except (TypeError, ValueError):
            log.exception("saved settings of plugin %r are refused by its Settings; using plugins.toml's", name)
            cache[key] = merge(name, {})
    return cache[key]


def user_settings(name: str, user: User) -> SettingsValues:
    """``user``'s settings for plugin ``name`` (secrets decrypted) over the defaults of its user settings form."""
    cache = _cache()
    key = ("user", name, user.id)
    if key not in cache:
        form_class = user_settings_form(name)
        values = form_defaults(form_class) if form_class is not None else {}
        if _tables_ready():
            rows = list(db.session.scalars(select(UserPluginSetting).where(UserPluginSetting.plugin == name,
                                                                           UserPluginSetting.user_id == user.id)))
            values.update(_open(rows, name))
        cache[key] = SettingsValues(values)
    return cache[key]


# --- checking the connection --------------------------------------------------------------------------------------


def check_connection(plugin: str) -> list[tuple[str, HealthStatus]]:
    """Ask ``plugin`` whether it works with its current settings: its ``plugin_health`` answer, then each of its
    providers' ``check_connection()``. ``(what was asked, answer)`` pairs; a check that raises is a failed answer
    naming the exception (its text may hold a secret, so it is logged, not shown)."""
    answers: list[tuple[str, HealthStatus]] = []
    manager = plugins()
    for health in manager.call("plugin_health", Policy.ISOLATED, only=plugin):  # a raising check is logged there
        result = health.value if health.error is None else \
            HealthStatus(False, gettext("the check failed: %(error)s", error=type(health.error).__name__))
        answers.append((gettext("Plugin"), result))
    for registered in manager.call("register_providers", Policy.FIRST, only=plugin):
        for spec in registered.value or []:
            label = str(getattr(spec, "label", "") or getattr(spec, "key", ""))
            try:
                provider = spec.factory(plugin_settings(plugin))
                provider.key = spec.key  # as the facades build it: a check may name its provider
                result = provider.check_connection()
            except ProviderError as exc:  # written for the user: what went wrong, and the provider's own words
                result = HealthStatus(False, str(exc))
            except Exception as exc:
                log.exception("provider %r of plugin %r failed its connection check", getattr(spec, "key", "?"),
                              plugin)
                result = HealthStatus(False, gettext("the check failed: %(error)s", error=type(exc).__name__))
            answers.append((label, result))
    return answers
