"""Sign in and sign out; the signed-in user's API tokens."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length

from core.db import db
from core.models import utcnow
from core.services.platform.errors import ValidationError
from core.services.users import accounts, authentication, tokens
from core.web.context import actor, client_ip, safe_next, user
from core.web.forms import EmptyForm, LoginForm
from core.web.htmx import render
from core.web.marks import public

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
        db.session.commit()
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


# --- API tokens of the signed-in user ----------------------------------------------------------------------


class TokenForm(FlaskForm):
    name = StringField(_l("What it is for"), validators=[DataRequired(), Length(max=120)])
    scopes = SelectMultipleField(_l("May"), choices=[(scope, scope) for scope in tokens.SCOPES],
                                 default=["read"])
    expires = SelectField(_l("Expires"), default="90", choices=[
        ("", _l("No expiry")), ("7", _l("In 7 days")), ("30", _l("In 30 days")), ("90", _l("In 90 days")),
        ("365", _l("In a year"))])


def _me():  # type: ignore[no-untyped-def]
    me = user()
    if me is None:
        abort(401)
    return me


def _tokens_page(form: TokenForm, created: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    me = _me()
    return render("home/tokens.html", "tokens", rows=tokens.visible(me), form=form, revoke_form=EmptyForm(),
                  created=created, entities=tokens.ENTITIES, scope_label=tokens.label,
                  part_label=tokens.part_label, status=status)


@bp.route("/profile/tokens", methods=["GET", "POST"])
def api_tokens():  # type: ignore[no-untyped-def]
    """The user's own API tokens: list, create (the secret is shown once, on this response only), revoke."""
    me = _me()
    form = TokenForm()
    if not form.validate_on_submit():
        return _tokens_page(form, status=400 if request.method == "POST" else 200)
    days = form.expires.data
    expires_at = utcnow() + timedelta(days=int(days)) if days else None
    try:
        _row, secret = tokens.issue(actor(), me, form.name.data or "", scopes=form.scopes.data or [],
                                    expires_at=expires_at)
    except ValidationError as exc:
        db.session.rollback()
        field = getattr(form, exc.field, None)
        (field.errors if field is not None else form.form_errors).append(str(exc.message))  # type: ignore[union-attr]
        return _tokens_page(form, status=422)
    response = _tokens_page(TokenForm(formdata=None), created=secret, status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/profile/tokens/<int:token_id>/revoke")
def api_token_revoke(token_id: int):  # type: ignore[no-untyped-def]
    me = _me()
    token = tokens.find(token_id)
    if token is None or token.user_id != me.id:
        abort(404)  # someone else's token: not even its existence is told
    if EmptyForm().validate_on_submit():
        tokens.revoke(actor(), token)
        flash(_("The token %(name)s is revoked; it no longer opens the API.", name=token.name), "success")
    return redirect(url_for("auth.api_tokens"))
