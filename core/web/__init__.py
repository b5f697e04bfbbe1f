"""The web layer: thin views over services, Jinja pages with HTMX partials."""

from __future__ import annotations

import os
import re

from flask import Flask, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from core.db import db
from core.extensions import csrf, login_manager
from core.models import User, utcnow
from core.plugins import facades
from core.services.platform import audit
from core.services.platform.access import AccessDenied, can
from core.services.platform.params import BadParameter
from core.services.users import principals
from core.web.blueprints import core_blueprints
from core.web.calls import init_calls
from core.web.context import actor
from core.web.converters import init_converters
from core.web.formatting import init_formatting
from core.web.htmx import init_htmx, is_htmx
from core.web.htmx import redirect as htmx_redirect
from core.web.metrics import init_app as init_metrics
from core.web.security import init_security
from core.web.transactions import init_transactions
from core.web.vocabulary import init_vocabulary


def _load_user(token: str) -> User | None:
    user_id, _, session_token = token.partition(":")
    if not user_id.isdigit() or not session_token:
        return None
    user = principals.user(int(user_id))
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


def init_web(app: Flask) -> None:
    init_metrics(app)  # before the transactions: it counts the request after its commit, with the final status
    init_transactions(app)  # first of the rest, so that it runs after every other after_request hook
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
    init_calls(app)

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
    init_formatting(app)
    app.jinja_env.tests["match"] = lambda value, pattern: re.match(pattern, str(value)) is not None
    app.config.setdefault("MAYAK_ATTENTION_DAYS", int(os.environ.get("MAYAK_ATTENTION_DAYS", "30")))

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
