"""Sign in and sign out."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from core.services import accounts, authentication
from core.web import public
from core.web.context import actor, client_ip, safe_next, user
from core.web.forms import EmptyForm, LoginForm
from core.web.htmx import render

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    return safe_next(target, url_for("home.index"))


@bp.route("/login", methods=["GET", "POST"])
@public
def login():  # type: ignore[no-untyped-def]
    if user() is not None:
        return redirect(url_for("home.index"))
    form = LoginForm()
    status = 200
    headers: dict[str, str] = {}
    if form.validate_on_submit():
        result = authentication.authenticate(form.email.data or "", form.password.data or "", client_ip())
        if result.ok:
            assert result.user is not None
            next_url = _safe_next(request.args.get("next"))
            locale = session.get("locale")
            session.clear()  # a fresh session (and CSRF token) at every sign-in
            if locale and not result.user.locale:
                session["locale"] = locale
            login_user(result.user, remember=bool(form.remember.data))
            return redirect(next_url)
        if result.retry_after is not None:
            minutes = max(1, (result.retry_after + 59) // 60)
            form.form_errors.append(
                _("Too many failed attempts. Try again in %(minutes)d min.", minutes=minutes)
            )
            status = 429
            headers["Retry-After"] = str(result.retry_after)
        else:
            form.form_errors.append(_("Wrong email or password."))
            status = 401
    elif request.method == "POST":
        status = 400
    response = render("auth/login.html", form=form, status=status)
    response.headers.update(headers)
    return response


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    form = EmptyForm()
    current = user()
    if form.validate_on_submit() and current is not None:
        accounts.end_sessions(actor(), current, "logout")
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/language")
@public
def set_language():  # type: ignore[no-untyped-def]
    """Switch the interface language (stored on the user, or in the session before sign-in)."""
    from core.i18n import SESSION_LOCALE, available_locales

    code = request.form.get("locale", "")
    if code in available_locales():
        current = user()
        if current is not None:
            accounts.update_preferences(actor(), current, locale=code, timezone=current.timezone,
                                        full_name=current.full_name)
        session[SESSION_LOCALE] = code
    return redirect(_safe_next(request.form.get("next")))
