"""Localisation: Flask-Babel with one merged catalogue from core and every enabled plugin.

The language is the user's own choice, then the browser's, then the installation's; the time zone is the user's,
then the installation's. The installation's language and time zone are ``MAYAK_LOCALE`` and ``MAYAK_TIMEZONE``,
else the country rules of the enabled plugins (``l10n_ru``: Russian and Europe/Moscow), else English and UTC.
Messages are English in the source; other languages come from plugins such as ``l10n_ru``.
"""

from __future__ import annotations

import dataclasses
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import Domain, get_locale
from flask_login import current_user

from core.config import Settings
from core.extensions import babel
from core.plugins.facades import registry
from core.plugins.manager import MayakPlugins

SESSION_LOCALE = "locale"


def available_locales() -> dict[str, str]:
    return {code: spec.native_name for code, spec in registry().locales.items()}


def select_locale() -> str | None:
    if not has_request_context():  # jobs, the CLI: the installation's language
        return None
    locales = available_locales()
    user = current_user
    if getattr(user, "is_authenticated", False) and user.locale in locales:
        return user.locale
    chosen = session.get(SESSION_LOCALE)
    if chosen in locales:
        return chosen
    from flask import current_app

    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    return request.accept_languages.best_match(list(locales), default=default)


def select_timezone() -> str | None:
    if not has_request_context():
        return None
    user = current_user
    if getattr(user, "is_authenticated", False) and user.timezone:
        return user.timezone
    return None


def installation_defaults(settings: Settings) -> Settings:
    """``settings`` with the language and time zone the environment left unset taken from the country rules.

    Needs an app context with the plugins loaded."""
    from core.plugins.facades import country_rules

    rules = country_rules()
    locale = settings.default_locale
    if locale is None:
        locale = rules.locale if rules.locale in registry().locales else "en"
    timezone = settings.default_timezone
    if timezone is None:
        timezone = rules.timezone or "UTC"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            timezone = "UTC"
    return dataclasses.replace(settings, default_locale=locale, default_timezone=timezone)


class _PerAppDomain(Domain):
    """Flask-Babel's message domain with its catalogue cache kept per app: the ``Babel`` object is one per process,
    and so was its cache, so a second app in the same process (a worker's, a test's) with other plugins enabled got
    the first app's catalogues, without its plugins' translations."""

    def get_translations_cache(self, ctx: object) -> dict[object, object]:
        return current_app.extensions.setdefault("mayak.translations", {})


def init_i18n(app: Flask, settings: Settings, manager: MayakPlugins) -> None:
    """Set up Flask-Babel; ``settings`` must have gone through :func:`installation_defaults`."""
    from core.config import PROJECT_ROOT

    dirs = [str(PROJECT_ROOT / "core" / "translations")]
    dirs += [str(p.translations_dir) for p in manager.enabled if p.translations_dir.is_dir()]
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(dirs)
    app.config["BABEL_DEFAULT_LOCALE"] = settings.default_locale
    app.config["BABEL_DEFAULT_TIMEZONE"] = settings.default_timezone
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    if not isinstance(babel.__dict__.get("domain_instance"), _PerAppDomain):
        babel.__dict__["domain_instance"] = _PerAppDomain(domain="messages")  # the cached_property, set once
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale())
    app.jinja_env.globals["available_locales"] = available_locales
