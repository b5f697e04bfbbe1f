"""The web layer: thin views over services, Jinja pages with HTMX partials."""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

from babel import dates as babel_dates
from babel.numbers import format_currency
from flask import Flask, flash, redirect, render_template, request, url_for
from flask_babel import format_date, format_datetime, format_timedelta, get_locale, get_timezone, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from core.db import db
from core.extensions import csrf, login_manager
from core.models import Role, User, utcnow
from core.plugins import facades
from core.services.clients import phones
from core.services.platform import audit
from core.services.platform.access import AccessDenied, can
from core.services.platform.params import BadParameter
from core.web.blueprints import core_blueprints
from core.web.context import actor
from core.web.converters import init_converters
from core.web.htmx import init_htmx, is_htmx
from core.web.htmx import redirect as htmx_redirect
from core.web.security import init_security
from core.web.transactions import init_transactions
from core.web.vocabulary import init_vocabulary


def _load_user(token: str) -> User | None:
    user_id, _, session_token = token.partition(":")
    if not user_id.isdigit() or not session_token:
        return None
    # one statement for the user, their teams, roles and grants: every request needs all four
    user = db.session.execute(
        select(User).where(User.id == int(user_id))
        .options(joinedload(User.teams), joinedload(User.roles).joinedload(Role.grants))
    ).unique().scalar_one_or_none()
    if user is None or not user.is_active or user.session_token != session_token:
        return None
    return user


def _patch_user_model() -> None:
    # Flask-Login's protocol on the model, without importing Flask-Login into core.models. The id it stores in
    # the session is "<id>:<session token>", so changing the token ends every session of that user.
    User.is_authenticated = property(lambda self: True)  # type: ignore[attr-defined]
    User.is_anonymous = property(lambda self: False)  # type: ignore[attr-defined]
    User.get_id = lambda self: f"{self.id}:{self.session_token}"  # type: ignore[attr-defined]


def _error_page(error: HTTPException) -> tuple[str, int]:
    code = error.code or 500
    return render_template("errors/error.html", code=code, error=error), code


def _relative(moment: datetime) -> str:
    """"5 minutes ago" within a week, the date after that (the exact time is in the title attribute)."""
    delta = moment - utcnow()
    if abs(delta) < timedelta(days=7):
        return format_timedelta(delta, add_direction=True, granularity="minute")
    return format_datetime(moment, "short")


def _format_date_value(value: object) -> str:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    return format_date(value, "short") if isinstance(value, date) else str(value)


def _date_input(value: object) -> str:
    """A date as the date inputs take it back (DD.MM.YYYY, as their placeholder says), whatever the locale; what
    was typed (an ISO string from storage, or text after an error) is kept when it is not a stored date."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    return value.strftime("%d.%m.%Y") if isinstance(value, date) else ("" if value is None else str(value))


def init_web(app: Flask) -> None:
    init_transactions(app)  # first, so that it runs after every other after_request hook
    settings = app.extensions["mayak.settings"]
    if app.config.get("MAYAK_BEHIND_PROXY", settings.behind_tls):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    _patch_user_model()
    login_manager.init_app(app)
    login_manager.user_loader(_load_user)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to open this page.")
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "basic"

    @login_manager.unauthorized_handler
    def unauthorized():  # type: ignore[no-untyped-def]
        # htmx would swap the sign-in page into a fragment; send the whole browser there instead.
        target = url_for("auth.login", next=request.full_path.rstrip("?") if request.method == "GET" else None)
        if is_htmx():
            return htmx_redirect(target)
        flash(login_manager.login_message, login_manager.login_message_category)
        return redirect(target)
    csrf.init_app(app)
    init_htmx(app)
    init_security(app)
    init_converters(app)

    for blueprint in [*core_blueprints(), *facades.blueprints()]:
        app.register_blueprint(blueprint)

    @app.errorhandler(AccessDenied)
    def access_denied(error: AccessDenied):  # type: ignore[no-untyped-def]
        db.session.rollback()  # whatever the refused request changed before the check is not kept; the audit line is
        audit.record(actor(), "access.denied", error.entity, None,
                     {"action": error.action, "path": request.path})
        db.session.commit()
        return render_template("errors/error.html", code=403, error=error), 403

    @app.errorhandler(BadParameter)
    def bad_parameter(error: BadParameter):  # type: ignore[no-untyped-def]
        # a filter, sort, cursor or id in the address is not of its kind: say which and what it should be
        db.session.rollback()
        return render_template("errors/error.html", code=400, error=error, detail=error.message), 400

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):  # type: ignore[no-untyped-def]
        return render_template("errors/error.html", code=400, error=error, csrf=True), 400

    for code in (400, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(code, _error_page)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):  # type: ignore[no-untyped-def]
        if isinstance(error, HTTPException):
            return _error_page(error)
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return render_template("errors/error.html", code=500, error=None), 500

    @app.context_processor
    def shell_context() -> dict[str, object]:
        user = current_user if getattr(current_user, "is_authenticated", False) else None
        nav = facades.nav_items(user) if user else []
        return {
            "nav_main": [item for item in nav if item.section == "main"],
            "nav_admin": [item for item in nav if item.section == "admin"],
            "can": lambda action, entity, obj=None: can(user, action, entity, obj),
            "theme": app.config["MAYAK_THEME_META"],
        }

    def translate_notification(notification) -> str:  # type: ignore[no-untyped-def]
        try:
            return gettext(notification.message, **(notification.params or {}))
        except (KeyError, ValueError, TypeError):
            return notification.message

    app.jinja_env.globals["translate_notification"] = translate_notification
    app.jinja_env.globals["now_utc"] = utcnow
    init_vocabulary(app)
    app.jinja_env.filters["relative"] = _relative
    app.jinja_env.filters["money"] = lambda amount, currency: _money(str(amount), currency, str(get_locale()))
    app.jinja_env.tests["match"] = lambda value, pattern: re.match(pattern, str(value)) is not None
    app.jinja_env.filters["format_date_value"] = _format_date_value
    app.jinja_env.filters["date_input"] = _date_input
    app.jinja_env.filters["phone"] = lambda p: phones.display(p.e164, p.raw, facades.default_phone_region())
    app.config.setdefault("MAYAK_ATTENTION_DAYS", int(os.environ.get("MAYAK_ATTENTION_DAYS", "30")))
    app.jinja_env.filters["datetime"] = lambda value, fmt="medium": (
        _datetime(value, fmt, str(get_timezone()), str(get_locale())) if value else "")

    @app.before_request
    def require_login():  # type: ignore[no-untyped-def]
        if request.endpoint is None:
            return None
        view = app.view_functions.get(request.endpoint)
        if request.blueprint == "api":  # bearer tokens, checked by the API itself
            return None
        if getattr(view, "_mayak_public", False) or request.endpoint in ("static", "theme_static", "plugin_static"):
            return None
        if not getattr(current_user, "is_authenticated", False):
            return login_manager.unauthorized()
        return None


@lru_cache(maxsize=8192)
def _money(amount: str, currency: str, locale: str) -> str:
    """An amount in the reader's locale (``1 250 000,50 ₽``); boards and lists show hundreds, so the formatted
    text is kept per amount, currency and locale."""
    return format_currency(Decimal(amount), currency, locale=locale)


@lru_cache(maxsize=8192)
def _datetime(value: datetime | str, fmt: str, zone: str, locale: str) -> str:
    """A moment in the reader's time zone and locale; task lists repeat the same due times (18:00 today...).
    An ISO string (as JSON data, such as a timeline entry's, keeps moments) is read first."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return babel_dates.format_datetime(value, fmt, tzinfo=babel_dates.get_timezone(zone), locale=locale)
