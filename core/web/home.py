"""The signed-in user's own pages: home, notifications, profile."""

from __future__ import annotations

from zoneinfo import available_timezones

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import login_user
from werkzeug.security import check_password_hash

from core.i18n import available_locales
from core.services.platform import notifications
from core.services.platform.errors import ValidationError
from core.services.users import accounts
from core.services.work import dashboard
from core.web.context import actor, user
from core.web.forms import EmptyForm, PasswordForm, PreferencesForm
from core.web.htmx import fragment, is_htmx, render

bp = Blueprint("home", __name__)

_ALL_TIMEZONES = frozenset(available_timezones())
_TIMEZONES = sorted(tz for tz in _ALL_TIMEZONES if "/" in tz and not tz.startswith(("Etc/", "SystemV/")))


def _me():  # type: ignore[no-untyped-def]
    current = user()
    if current is None:
        abort(401)
    return current


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    """The manager's day: every block comes from :func:`dashboard.build`, which asks the access module."""
    _me()
    return render("home/index.html", day=dashboard.build(actor()), form=EmptyForm(),
                  task_limit=dashboard.TASK_LIMIT)


@bp.get("/notifications", endpoint="notifications")
def notifications_page():  # type: ignore[no-untyped-def]
    me = _me()
    before = request.args.get("before", type=int)
    items = notifications.for_user(me, limit=30, before_id=before)
    return render("home/notifications.html", "rows", items=items, form=EmptyForm(),
                  more=items[-1].id if len(items) == 30 else None)


@bp.get("/notifications/badge")
def notifications_badge():  # type: ignore[no-untyped-def]
    # the refreshed badge polls on; only the page's first badge also loads at once (else each swap would reload)
    return fragment("base.html", "notification_badge", unread=notifications.unread_count(_me()),
                    badge_trigger="every 30s")


@bp.post("/notifications/read")
def notifications_read():  # type: ignore[no-untyped-def]
    me = _me()
    form = EmptyForm()
    if form.validate_on_submit():
        notifications.mark_read(me, request.form.get("id", type=int))
    return redirect(url_for("home.notifications"))


@bp.post("/profile/timezone")
def set_timezone():  # type: ignore[no-untyped-def]
    """The answer to the time-zone offer: the browser's zone, or the installation's kept on purpose."""
    me = _me()
    zone = request.form.get("timezone", "")
    if zone not in _ALL_TIMEZONES:
        return _("Choose a time zone such as Europe/Moscow in your profile."), 400
    accounts.update_preferences(actor(), me, locale=me.locale, timezone=zone, full_name=me.full_name or "")
    if is_htmx():
        return ""  # the offer goes away
    flash(_("Times are now shown for %(zone)s.", zone=zone), "success")
    return redirect(url_for("home.index"))


@bp.route("/profile", methods=["GET", "POST"])
def profile():  # type: ignore[no-untyped-def]
    me = _me()
    prefs = PreferencesForm(prefix="prefs", obj=me)
    prefs.locale.choices = [("", _("Browser language")), *available_locales().items()]
    default_zone = current_app.config["BABEL_DEFAULT_TIMEZONE"]
    prefs.timezone.choices = [("", _("Installation default (%(zone)s)", zone=default_zone)),
                              *((tz, tz) for tz in _TIMEZONES)]
    password = PasswordForm(prefix="pw")
    status = 200
    if request.method == "POST" and "prefs-submit" in request.form and prefs.validate_on_submit():
        accounts.update_preferences(actor(), me, locale=prefs.locale.data, timezone=prefs.timezone.data,
                                    full_name=prefs.full_name.data or "")
        flash(_("Your preferences are saved."), "success")
        return redirect(url_for("home.profile"))
    if request.method == "POST" and "pw-submit" in request.form:
        if password.validate_on_submit():
            if not check_password_hash(me.password_hash, password.current_password.data or ""):
                password.current_password.errors = [_("This is not your current password.")]
            else:
                try:
                    accounts.set_password(actor(), me, password.new_password.data or "")
                except ValidationError as exc:
                    password.new_password.errors = [str(exc.message)]
                else:
                    login_user(me)  # keep this session; every other one has ended
                    flash(_("Your password is changed; your other sessions have ended."), "success")
                    return redirect(url_for("home.profile"))
        status = 400
    elif request.method == "POST":
        status = 400
    return render("home/profile.html", prefs=prefs, password=password, status=status)


@bp.get("/profile/plugins", defaults={"plugin": None})
@bp.post("/profile/plugins/<plugin>")
def plugin_settings(plugin: str | None):  # type: ignore[no-untyped-def]
    """The user's own settings for the plugins that have some (a phone extension, a mailbox)."""
    from core.web import plugin_settings as settings_page

    return settings_page.user_settings_page(_me(), lambda name: url_for("home.plugin_settings", plugin=name),
                                            url_for("home.profile"), plugin)
