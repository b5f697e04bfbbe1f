"""Administration → Providers: which PBX, SMS gateway or mailbox serves the installation and each team when
several are enabled."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from core.db import db
from core.models import Team
from core.services.platform import providers
from core.services.platform.access import require
from core.services.platform.errors import InvalidInput
from core.web.context import actor, user
from core.web.forms import EmptyForm
from core.web.htmx import render

bp = Blueprint("providers", __name__, url_prefix="/admin/providers")


@bp.get("")
def index():  # type: ignore[no-untyped-def]
    require(user(), "view", "provider")
    teams = list(db.session.scalars(select(Team).order_by(Team.name)))
    return render("admin/providers.html", scopes=providers.scopes(), teams=teams, form=EmptyForm())


@bp.post("")
def choose():  # type: ignore[no-untyped-def]
    require(user(), "edit", "provider")
    if not EmptyForm().validate_on_submit():
        abort(400)
    team = request.form.get("team_id", "")
    if team and not team.isdigit():
        abort(400)
    try:
        providers.set_choice(actor(), request.form.get("scope", ""), request.form.get("provider", "") or None,
                             int(team) if team else None)
    except InvalidInput as exc:
        db.session.rollback()
        for message in exc.errors.values():
            flash(str(message), "danger")
        return redirect(url_for("providers.index"))
    db.session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("providers.index"))
