"""Administration of incoming work: lead forms (snippet, JSON endpoint, rejected posts), assignment rules and the
per-channel auto-accept switch."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from core.db import db
from core.models import AssignmentRule, ChannelSetting, InboxItem, LeadForm, Team
from core.models.inbox import ASSIGNMENT_STRATEGIES
from core.plugins import provider_facades
from core.services.platform.access import require
from core.services.platform.errors import InvalidInput
from core.services.work import assignment, deals, inbox, lead_forms
from core.web import clients
from core.web.context import actor, user
from core.web.forms import EmptyForm
from core.web.htmx import render

bp = Blueprint("intake", __name__, url_prefix="/admin/intake")


def _fields_from(form: Any) -> list[dict[str, Any]]:
    names, labels, kinds = form.getlist("field_name"), form.getlist("field_label"), form.getlist("field_kind")
    required = set(form.getlist("field_required"))
    return [{"name": n, "label": label, "kind": k, "required": str(i) in required}
            for i, (n, label, k) in enumerate(zip(names, labels, kinds, strict=False))]


@bp.get("/forms")
def forms():  # type: ignore[no-untyped-def]
    require(user(), "edit", "inbox_settings")
    rows = list(db.session.scalars(select(LeadForm).order_by(LeadForm.id)))
    return render("intake/forms.html", rows=rows, form=EmptyForm())


@bp.route("/forms/new", methods=["GET", "POST"], defaults={"form_id": None})
@bp.route("/forms/<int:form_id>", methods=["GET", "POST"])
def form_edit(form_id: int | None):  # type: ignore[no-untyped-def]
    require(user(), "edit", "inbox_settings")
    lead_form = db.session.get(LeadForm, form_id) if form_id else None
    if form_id and lead_form is None:
        abort(404)
    errors: dict[str, str] = {}
    if request.method == "POST" and EmptyForm().validate_on_submit():
        values = {k: request.form.get(k, "") for k in ("name", "pipeline_id", "source", "allowed_origins",
                                                       "stop_phrases", "banned_names", "min_fill_seconds",
                                                       "rate_limit_per_hour", "success_message")}
        values["active"] = request.form.get("active", "")
        values["fields"] = _fields_from(request.form)
        try:
            saved = lead_forms.save(actor(), lead_form, values)
        except InvalidInput as exc:
            errors = {k: str(v) for k, v in exc.errors.items()}
        else:
            flash(_("The form is saved."), "success")
            return redirect(url_for("intake.form_edit", form_id=saved.id))
    rejected = []
    if lead_form is not None:
        rejected = list(db.session.scalars(select(InboxItem).where(InboxItem.form_id == lead_form.id,
                                                                   InboxItem.status == "rejected")
                                           .order_by(InboxItem.id.desc()).limit(20)))
    fields = lead_form.fields if lead_form else lead_forms.standard_fields()
    if request.method == "POST" and errors:
        fields = _fields_from(request.form)
    base = request.host_url.rstrip("/")
    return render("intake/form_edit.html", lead_form=lead_form, errors=errors, fields=fields,
                  pipelines=deals.pipelines(), form=EmptyForm(), rejected=rejected, base=base,
                  snippet=lead_forms.snippet(lead_form, base) if lead_form else "",
                  kinds=lead_forms.FIELD_KINDS, status=422 if errors else 200)


@bp.route("/rules", methods=["GET", "POST"])
def rules():  # type: ignore[no-untyped-def]
    """Assignment rules (first match wins) and the channels accepted without waiting in the inbox."""
    require(user(), "edit", "inbox_settings")
    errors: dict[str, str] = {}
    if request.method == "POST" and EmptyForm().validate_on_submit():
        values: dict[str, Any] = request.form.to_dict()
        values["work_days"] = request.form.getlist("work_days")
        rule = db.session.get(AssignmentRule, request.form.get("rule_id", type=int) or 0)
        values["active"] = "1" if rule is None or rule.active else ""  # editing keeps a rule on or off
        try:
            assignment.save_rule(actor(), rule, values)
        except InvalidInput as exc:
            errors = {k: str(v) for k, v in exc.errors.items()}
        else:
            flash(_("The rule is saved."), "success")
            return redirect(url_for("intake.rules"))
    settings = {s.channel: s.auto_accept for s in db.session.scalars(select(ChannelSetting))}
    if errors:
        values = {**request.form.to_dict(), "work_days": request.form.getlist("work_days")}
    else:
        values = _rule_values(db.session.get(AssignmentRule, request.args.get("edit", type=int) or 0))
    return render("intake/rules.html", rules=assignment.rules(), errors=errors, form=EmptyForm(),
                  values=values, pipelines=deals.pipelines(),
                  teams=list(db.session.scalars(select(Team).order_by(Team.name))),
                  people=clients.assignable_users(), strategies=ASSIGNMENT_STRATEGIES,
                  channels=provider_facades.channel_keys(),
                  auto=settings, status=422 if errors else 200)


def _rule_values(rule: AssignmentRule | None) -> dict[str, Any]:
    """The rule being edited as the form shows it (empty for a new rule)."""
    if rule is None:
        return {}
    return {"rule_id": rule.id, "name": rule.name, "strategy": rule.strategy, "team_id": rule.team_id or "",
            "user_id": rule.user_id or "", "pipeline_id": rule.pipeline_id or "", "channel": rule.channel or "",
            "follow_up_minutes": "" if rule.follow_up_minutes is None else rule.follow_up_minutes,
            "work_days": [str(d) for d in rule.work_days or []], "work_start": rule.work_start,
            "work_end": rule.work_end, "timezone": rule.timezone, "position": rule.position}


@bp.post("/rules/<int:rule_id>/delete")
def delete_rule(rule_id: int):  # type: ignore[no-untyped-def]
    require(user(), "edit", "inbox_settings")
    if not EmptyForm().validate_on_submit():
        abort(400)
    rule = db.get_or_404(AssignmentRule, rule_id)
    assignment.delete_rule(actor(), rule)
    flash(_("The rule is deleted."), "success")
    return redirect(url_for("intake.rules"))


@bp.post("/rules/<int:rule_id>/toggle")
def toggle_rule(rule_id: int):  # type: ignore[no-untyped-def]
    require(user(), "edit", "inbox_settings")
    if not EmptyForm().validate_on_submit():
        abort(400)
    rule = db.get_or_404(AssignmentRule, rule_id)
    assignment.set_active(actor(), rule, not rule.active)
    return redirect(url_for("intake.rules"))


@bp.post("/channels")
def channels():  # type: ignore[no-untyped-def]
    require(user(), "edit", "inbox_settings")
    if not EmptyForm().validate_on_submit():
        abort(400)
    chosen = set(request.form.getlist("auto_accept"))
    for channel in provider_facades.channel_keys():
        inbox.set_auto_accept(actor(), channel, channel in chosen)
    flash(_("Saved."), "success")
    return redirect(url_for("intake.rules"))
