"""Task pages: my day, the team view, the task form and page (comments, history), recurring tasks, handing work
over to a colleague."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from core.db import db
from core.models import TaskRecurrence, User, utcnow
from core.models.tasks import PRIORITIES
from core.services.clients import labels
from core.services.platform import params
from core.services.platform.access import can, filter_query, require, scope_for
from core.services.platform.errors import InvalidInput
from core.services.platform.text import optional_int
from core.services.work import reassign, recurrence, repeat_rules, tasks
from core.web import clients
from core.web.calls import client_phones
from core.web.context import actor, safe_next, user
from core.web.forms import EmptyForm
from core.web.htmx import is_htmx, render, trigger

bp = Blueprint("tasks", __name__, url_prefix="/tasks")
FIELDS = ("title", "notes", "owner_id", "priority", "remind_minutes", "contact_id", "company_id", "deal_id")


@bp.app_template_global("task_row_page")
def task_row_page() -> SimpleNamespace:
    """What every task row of a page shares, found once per page rather than once per row (``tasks/_row.html``)."""
    return SimpleNamespace(task_root=url_for("tasks.index"), contact_root=url_for("contacts.index"),
                           company_root=url_for("companies.index"), deal_root=url_for("deals.index"),
                           csrf=generate_csrf(), now=utcnow(), mark_done=_("Mark as done"), done=_("done"),
                           cancelled=_("cancelled"), high_priority=_("high priority"))


def _names() -> dict[int, str]:
    return {u.id: u.display_name for u in clients.assignable_users()}


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    """My day: overdue (red), today, the next days, undated; a manager may look at a colleague's day."""
    require(user(), "view", "task")
    owner_id = request.args.get("owner", type=int) or actor().user_id
    owner = db.get_or_404(User, owner_id)
    if owner_id != actor().user_id and scope_for(user(), "view", "task") in (None, "own"):
        abort(403)
    day = tasks.my_day(actor(), owner_id)
    return render("tasks/day.html", day=day, owner=owner, names=_names(), form=EmptyForm(), links=day.links)



@bp.get("/team")
def team():  # type: ignore[no-untyped-def]
    require(user(), "view", "task")
    if scope_for(user(), "view", "task") in (None, "own"):
        abort(403)
    return render("tasks/team.html", rows=tasks.team_load(actor()), cap=tasks.TEAM_COUNT_CAP, form=EmptyForm())


def _due_value(form: Any) -> str:
    day, time = form.get("due_date", "").strip(), form.get("due_time", "").strip()
    return f"{day} {time}".strip() if day else ""


REPEAT_FIELDS = ("repeat", "interval", "month_day", "ends", "count", "until", "lead_days")


def _repeat_values(form: Any) -> dict[str, Any]:
    values = {k: form.get(k, "") for k in REPEAT_FIELDS}
    values["by_day"] = form.getlist("by_day")
    return values


def _save_repeating(values: dict[str, Any], repeat: dict[str, Any], typed_rule: str = "") -> Any:
    """A repeating task from the form: the rule from the friendly choices (``typed_rule`` only from older clients
    that post RRULE text), saved with the task's client, deal, assignee and reminder; its first tasks are created
    at once. Raises :class:`InvalidInput` with every field to fix, named as the task form names them."""
    errors: dict[str, Any] = {}
    rule = typed_rule.strip()
    if not rule:
        try:
            rule = repeat_rules.build(repeat)
        except InvalidInput as exc:
            errors.update(exc.errors)
    try:
        saved = recurrence.create(actor(), {**values, "starts_at": values.get("due_at", ""), "rrule": rule,
                                            "lead_days": repeat.get("lead_days")})
    except InvalidInput as exc:
        found = dict(exc.errors)
        if errors:  # the friendly fields already say what is wrong with the rule
            found.pop("rrule", None)
        if "starts_at" in found:
            found["due_at"] = found.pop("starts_at")
        raise InvalidInput({**found, **errors}) from None
    recurrence.generate(only=saved.id)
    return saved


def _form_page(task: Any, values: dict[str, Any], errors: dict[str, str], repeat: dict[str, Any]):  # type: ignore[no-untyped-def]
    owners = reassign.assignable(actor(), "task", clients.assignable_users())
    if task is not None and task.owner_id and task.owner_id not in {u.id for u in owners}:
        owners = [*owners, *[u for u in clients.assignable_users() if u.id == task.owner_id]]
    chosen = SimpleNamespace(**{name: optional_int(values[name]) if name in values else getattr(task, name, None)
                                for name in ("contact_id", "company_id", "deal_id")})
    link_names = labels.visible_names(user(), [chosen])
    for kind in ("contact", "company", "deal"):  # an id from the address or post the user may not see: as if
        if f"{kind}_id" in values and getattr(chosen, f"{kind}_id") not in link_names[kind]:  # it did not exist
            values[f"{kind}_id"] = ""
            setattr(chosen, f"{kind}_id", None)
    rule_words = ""
    if repeat.get("repeat"):
        try:
            rule_words = repeat_rules.describe(repeat_rules.build(repeat))
        except InvalidInput:
            rule_words = ""
    return render("tasks/form.html", task=task, values=values, errors=errors, owners=owners,
                  priorities=PRIORITIES, form=EmptyForm(), can_assign=len(owners) > 1, repeat=repeat,
                  rule_words=rule_words, link_names=link_names, chosen=chosen,
                  weekdays=repeat_rules.WEEKDAYS, status=422 if errors else 200)


@bp.route("/new", methods=["GET", "POST"], defaults={"task_id": None})
@bp.route("/<int:task_id>/edit", methods=["GET", "POST"])
def edit(task_id: int | None):  # type: ignore[no-untyped-def]
    """Create or change a task: what, when, who, about which client or deal, the reminder and — for a new task —
    how it repeats. ``?contact_id=``, ``?company_id=``, ``?deal_id=`` link it (from a card), ``?repeat=`` opens
    the repeat choices."""
    if task_id is None:
        require(user(), "create", "task")
        task = None
    else:
        task = _get(task_id, "edit")
    errors: dict[str, str] = {}
    values: dict[str, Any] = {k: v for k, v in request.args.items() if k in FIELDS}
    repeat: dict[str, Any] = {"repeat": request.args.get("repeat", "") if task is None else "", "count": "10"}
    if request.method == "POST" and EmptyForm().validate_on_submit():
        values = {k: request.form.get(k, "") for k in FIELDS if k in request.form}
        values["due_at"] = _due_value(request.form)
        values["remind_via"] = request.form.getlist("remind_via") or ["app"]
        repeat = _repeat_values(request.form) if task is None else {}
        try:
            if repeat.get("repeat"):
                rule = _save_repeating(values, repeat)
            else:
                saved = tasks.save(actor(), task, values, partial=task is not None)
        except InvalidInput as exc:
            errors = {k: str(v) for k, v in exc.errors.items()}
        else:
            if repeat.get("repeat"):
                flash(_("The task repeats %(rule)s; each one appears %(days)s day(s) before it is due.",
                        rule=repeat_rules.describe(rule.rrule), days=rule.lead_days), "success")
                return redirect(url_for("tasks.recurring"))
            if is_htmx():
                response = redirect(url_for("tasks.show", task_id=saved.id))
                return trigger(response, {"mayak:toast": {"message": _("The task is saved."), "level": "success"}})
            flash(_("The task is saved."), "success")
            return redirect(safe_next(request.args.get("next"), url_for("tasks.show", task_id=saved.id)))
    return _form_page(task, values, errors, repeat)


@bp.get("/repeat-words")
def repeat_words():  # type: ignore[no-untyped-def]
    """The repeat choices said in words, under the form as they change (htmx)."""
    require(user(), "view", "task")
    try:
        words = repeat_rules.describe(repeat_rules.build(_repeat_values(request.args)))
    except InvalidInput as exc:
        return render("tasks/_repeat_words.html", words="", problem=str(next(iter(exc.errors.values()))))
    return render("tasks/_repeat_words.html", words=words, problem="")


def _get(task_id: int, action: str = "view") -> Any:
    try:
        return tasks.get(actor(), task_id, action)
    except LookupError:
        abort(404)


@bp.get("/<int:task_id>")
def show(task_id: int):  # type: ignore[no-untyped-def]
    task = _get(task_id)
    rule = db.session.get(TaskRecurrence, task.recurrence_id) if task.recurrence_id else None
    return render("tasks/show.html", task=task, names=_names(), form=EmptyForm(), links=labels.linked_names([task]),
                  repeats=repeat_rules.describe(rule.rrule) if rule is not None else "",
                  history=reassign.history("task", task.id), can_edit=can(user(), "edit", "task", task),
                  client_phones=client_phones(task.contact_id))


@bp.post("/<int:task_id>/status")
def set_status(task_id: int):  # type: ignore[no-untyped-def]
    if not EmptyForm().validate_on_submit():
        abort(400)
    task = _get(task_id, "edit")
    try:
        tasks.set_status(actor(), task, request.form.get("status", ""))
    except InvalidInput as exc:
        flash(str(next(iter(exc.errors.values()))), "danger")
    message = _("Done. Well done!") if task.status == "done" else _("The task is updated.")
    if is_htmx():
        response = render("tasks/_row.html", task=task, names=_names(), form=EmptyForm(),
                          links=labels.linked_names([task]))
        return trigger(response, {"mayak:toast": {"message": message, "level": "success"}})
    flash(message, "success")
    return redirect(url_for("tasks.show", task_id=task.id))


@bp.post("/<int:task_id>/comments")
def add_comment(task_id: int):  # type: ignore[no-untyped-def]
    if not EmptyForm().validate_on_submit():
        abort(400)
    task = _get(task_id)
    try:
        tasks.comment(actor(), task, request.form.get("body", ""))
    except InvalidInput as exc:
        flash(str(next(iter(exc.errors.values()))), "danger")
    return redirect(url_for("tasks.show", task_id=task.id) + "#comments")


@bp.route("/recurring", methods=["GET", "POST"])
def recurring():  # type: ignore[no-untyped-def]
    """Repeating tasks: each rule in words with its client, assignee and reminder (stop one). New ones are made
    in the task form; a POST here (older clients) goes through the same code."""
    require(user(), "view", "task")
    if request.method == "POST" and EmptyForm().validate_on_submit():
        require(user(), "create", "task")
        values = {k: request.form.get(k, "") for k in FIELDS if k in request.form}
        values["due_at"] = _due_value(request.form)
        values["remind_via"] = request.form.getlist("remind_via") or ["app"]
        repeat = _repeat_values(request.form)
        try:
            rule = _save_repeating(values, repeat, typed_rule=request.form.get("rrule", ""))
        except InvalidInput as exc:
            return _form_page(None, values, {k: str(v) for k, v in exc.errors.items()}, repeat)
        flash(_("The task repeats %(rule)s; each one appears %(days)s day(s) before it is due.",
                rule=repeat_rules.describe(rule.rrule), days=rule.lead_days), "success")
        return redirect(url_for("tasks.recurring"))
    stmt = filter_query(user(), "view", "task", select(TaskRecurrence).where(TaskRecurrence.active.is_(True)),
                        TaskRecurrence.owner_id)
    rules = list(db.session.scalars(stmt.order_by(TaskRecurrence.id.desc()).limit(200)))
    links = labels.linked_names([SimpleNamespace(**{k: (r.template or {}).get(k) for k in
                                                    ("contact_id", "company_id", "deal_id")}) for r in rules])
    return render("tasks/recurring.html", rules=rules, names=_names(), links=links, describe=repeat_rules.describe,
                  form=EmptyForm(), can_create=can(user(), "create", "task"))


@bp.post("/recurring/<int:rule_id>/stop")
def stop_recurring(rule_id: int):  # type: ignore[no-untyped-def]
    if not EmptyForm().validate_on_submit():
        abort(400)
    rule = db.get_or_404(TaskRecurrence, rule_id)
    recurrence.stop(actor(), rule)
    flash(_("The task no longer repeats; tasks already created stay."), "success")
    return redirect(url_for("tasks.recurring"))


@bp.route("/handover", methods=["GET", "POST"])
def handover():  # type: ignore[no-untyped-def]
    """Give a person's open work (vacation, sickness, dismissal) to a colleague: first exactly what will move
    (counts per kind and every record by name), then the move, then Undo."""
    require(user(), "assign", "task")
    people = clients.assignable_users()
    try:
        from_id = params.optional_id("from_user_id", request.values.get("from_user_id"))
        handed = params.optional_id("handed", request.args.get("handed"))
    except params.BadParameter as exc:
        abort(400, description=str(exc.message))
    errors: dict[str, str] = {}
    if request.method == "POST" and EmptyForm().validate_on_submit() and from_id:
        chosen = [e for e in reassign.ENTITIES if e in request.form.getlist("entities")]
        ids = {e: [int(i) for i in request.form.getlist(f"ids.{e}") if i.isascii() and i.isdigit() and len(i) < 19]
               for e in chosen}
        try:
            moved, audit_id = reassign.hand_over(actor(), from_user_id=from_id,
                                                 to_user_id=request.form.get("to_user_id"),
                                                 reason=request.form.get("reason", ""), ids=ids)
        except InvalidInput as exc:
            errors = {k: str(v) for k, v in exc.errors.items()}
        else:
            flash(_("Handed over: %(tasks)s task(s), %(deals)s deal(s), %(contacts)s contact(s), "
                    "%(companies)s company(ies).", tasks=moved.get("task", 0), deals=moved.get("deal", 0),
                    contacts=moved.get("contact", 0), companies=moved.get("company", 0)), "success")
            return redirect(url_for("tasks.handover", from_user_id=from_id, handed=audit_id))
    pending = reassign.preview(actor(), from_id) if from_id else None
    return render("tasks/handover.html", people=people, from_id=from_id, pending=pending, errors=errors,
                  handed=handed, form=EmptyForm(), limit=reassign.PREVIEW_LIMIT, status=422 if errors else 200)


@bp.post("/handover/undo")
def undo_handover():  # type: ignore[no-untyped-def]
    """Give back what a handover moved (the Undo after handing over)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    require(user(), "assign", "task")
    try:
        back = reassign.undo_handover(actor(), params.record_id("handed", request.form.get("handed", "")))
    except InvalidInput as exc:
        flash(str(next(iter(exc.errors.values()))), "warning")
    else:
        flash(_("Given back: %(tasks)s task(s), %(deals)s deal(s), %(contacts)s contact(s), %(companies)s "
                "company(ies).", tasks=back.get("task", 0), deals=back.get("deal", 0),
                contacts=back.get("contact", 0), companies=back.get("company", 0)), "success")
    return redirect(url_for("tasks.handover", from_user_id=request.form.get("from_user_id", type=int) or None))
