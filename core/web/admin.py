"""Administration: users, teams, roles and their grants, plugins, and the audit log."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import login_user
from sqlalchemy import select

from core.db import db
from core.models import ApiToken, Role, Team, User
from core.models.users import SCOPES
from core.plugins import facades
from core.plugins import settings as plugin_settings
from core.services.platform import access, audit
from core.services.platform import plugin_settings as settings_service
from core.services.platform import providers as providers_service
from core.services.platform.access import require
from core.services.platform.errors import ValidationError
from core.services.users import accounts, tokens
from core.web import audit_words
from core.web import plugin_settings as settings_page
from core.web.context import actor, user
from core.web.forms import EmptyForm, RoleForm, TeamForm, UserForm
from core.web.htmx import fragment, is_htmx, render
from core.web.vocabulary import role_name

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _show_error(form, exc: ValidationError) -> None:  # type: ignore[no-untyped-def]
    field = getattr(form, exc.field, None)
    if field is not None:
        field.errors = [*field.errors, str(exc.message)]
    else:
        form.form_errors.append(str(exc.message))


# --- users -----------------------------------------------------------------------------------------------


@bp.get("/users")
def users():  # type: ignore[no-untyped-def]
    require(user(), "view", "user")
    rows = db.session.scalars(select(User).order_by(User.is_active.desc(), User.email)).all()
    me = user()
    return render("admin/users.html", users=rows, form=EmptyForm(),
                  changeable={u.id for u in rows if access.may_change_account(me, u)})


def _user_form(obj: User | None) -> UserForm:
    form = UserForm(obj=obj) if request.method == "GET" else UserForm()
    me = user()
    # only roles whose rights the editor holds can be given (access.require_grantable says the same)
    form.roles.choices = [(r.id, role_name(r)) for r in db.session.scalars(select(Role).order_by(Role.name))
                          if access.holds(me, access.grants_of([r]))]
    form.teams.choices = [(t.id, t.name) for t in db.session.scalars(select(Team).order_by(Team.name))]
    if obj is not None and request.method == "GET":
        form.roles.data = [r.id for r in obj.roles]
        form.teams.data = [t.id for t in obj.teams]
    return form


def _chosen(model: type, ids: list[int] | None) -> list:  # type: ignore[type-arg]
    if not ids:
        return []
    return list(db.session.scalars(select(model).where(model.id.in_(ids))))


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():  # type: ignore[no-untyped-def]
    require(user(), "create", "user")
    form = _user_form(None)
    if form.validate_on_submit():
        if not form.password.data:
            form.password.errors = [_("Set a first password for the new user.")]
        else:
            try:
                created = accounts.create_user(
                    actor(), email=form.email.data or "", password=form.password.data,
                    full_name=form.full_name.data or "", is_admin=_admin_flag(form),
                    roles=_chosen(Role, form.roles.data), teams=_chosen(Team, form.teams.data),
                    extension=form.extension.data,
                )
            except ValidationError as exc:
                db.session.rollback()
                _show_error(form, exc)
            else:
                flash(_("User %(email)s is created.", email=created.email), "success")
                return redirect(url_for("admin.users"))
    return render("admin/user_form.html", form=form, subject=None,
                  status=400 if request.method == "POST" else 200)


def _admin_flag(form: UserForm) -> bool:
    """Only administrators may make administrators (mass assignment of is_admin is ignored otherwise)."""
    me = user()
    return bool(form.is_admin.data) and me is not None and me.is_admin


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user_edit(user_id: int):  # type: ignore[no-untyped-def]
    require(user(), "edit", "user")
    subject = db.get_or_404(User, user_id)
    access.require_change_account(user(), subject)
    form = _user_form(subject)
    if form.validate_on_submit():
        me = user()
        is_admin = _admin_flag(form) if me is not None and me.is_admin else subject.is_admin
        try:
            accounts.update_user(actor(), subject, full_name=form.full_name.data or "",
                                 email=form.email.data or "", is_admin=is_admin,
                                 roles=_chosen(Role, form.roles.data), teams=_chosen(Team, form.teams.data),
                                 password=form.password.data or None, extension=form.extension.data)
        except ValidationError as exc:
            db.session.rollback()
            _show_error(form, exc)
        else:
            if form.password.data and me is not None and me.id == subject.id:
                login_user(subject)  # a new password of one's own ends the other sessions, not this one
            flash(_("Changes to %(email)s are saved.", email=subject.email), "success")
            return redirect(url_for("admin.users"))
    return render("admin/user_form.html", form=form, subject=subject,
                  status=400 if request.method == "POST" else 200)


@bp.get("/users/<int:user_id>/plugins", defaults={"plugin": None})
@bp.post("/users/<int:user_id>/plugins/<plugin>")
def user_plugin_settings(user_id: int, plugin: str | None):  # type: ignore[no-untyped-def]
    """A user's settings for the plugins that have some, as an administrator sees and changes them."""
    require(user(), "edit", "user")
    subject = db.get_or_404(User, user_id)
    access.require_change_account(user(), subject)
    return settings_page.user_settings_page(
        subject, lambda name: url_for("admin.user_plugin_settings", user_id=subject.id, plugin=name),
        url_for("admin.user_edit", user_id=subject.id), plugin)


@bp.post("/users/<int:user_id>/active")
def user_active(user_id: int):  # type: ignore[no-untyped-def]
    require(user(), "edit", "user")
    subject = db.get_or_404(User, user_id)
    access.require_change_account(user(), subject)
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            accounts.set_active(actor(), subject, request.form.get("active") == "1")
        except ValidationError as exc:
            db.session.rollback()
            flash(str(exc.message), "danger")
        else:
            flash(_("%(email)s is enabled.", email=subject.email) if subject.is_active
                  else _("%(email)s is disabled; their sessions have ended.", email=subject.email), "success")
    return redirect(url_for("admin.users"))


@bp.get("/tokens")
def api_tokens():  # type: ignore[no-untyped-def]
    """Every API token of every user, for administrators: who has one, what it may do, when it was last used."""
    me = user()
    if me is None or not me.is_admin:
        raise access.AccessDenied("view", "api_token")
    return render("admin/tokens.html", rows=tokens.visible(me, everyone=True), form=EmptyForm(),
                  scope_label=tokens.label)


@bp.post("/tokens/<int:token_id>/revoke")
def api_token_revoke(token_id: int):  # type: ignore[no-untyped-def]
    me = user()
    if me is None or not me.is_admin:
        raise access.AccessDenied("revoke", "api_token")
    token = db.get_or_404(ApiToken, token_id)
    if EmptyForm().validate_on_submit():
        tokens.revoke(actor(), token)
        flash(_("The token %(name)s is revoked; it no longer opens the API.", name=token.name), "success")
    return redirect(url_for("admin.api_tokens"))


# --- teams -----------------------------------------------------------------------------------------------


@bp.get("/teams")
def teams():  # type: ignore[no-untyped-def]
    require(user(), "view", "team")
    rows = db.session.scalars(select(Team).order_by(Team.name)).all()
    return render("admin/teams.html", teams=rows, form=EmptyForm())


@bp.route("/teams/new", methods=["GET", "POST"], defaults={"team_id": None})
@bp.route("/teams/<int:team_id>", methods=["GET", "POST"])
def team_edit(team_id: int | None):  # type: ignore[no-untyped-def]
    require(user(), "edit", "team")
    team = db.get_or_404(Team, team_id) if team_id is not None else None
    form = TeamForm(obj=team) if request.method == "GET" else TeamForm()
    form.members.choices = [(u.id, u.display_name) for u in
                            db.session.scalars(select(User).where(User.is_active.is_(True)).order_by(User.email))]
    if team is not None and request.method == "GET":
        form.members.data = [u.id for u in team.members]
    if form.validate_on_submit():
        try:
            accounts.save_team(actor(), team, name=form.name.data or "",
                               members=_chosen(User, form.members.data))
        except ValidationError as exc:
            db.session.rollback()
            _show_error(form, exc)
        else:
            flash(_("The team is saved."), "success")
            return redirect(url_for("admin.teams"))
    return render("admin/team_form.html", form=form, team=team, status=400 if request.method == "POST" else 200)


@bp.post("/teams/<int:team_id>/delete")
def team_delete(team_id: int):  # type: ignore[no-untyped-def]
    require(user(), "edit", "team")
    team = db.get_or_404(Team, team_id)
    if EmptyForm().validate_on_submit():
        accounts.delete_team(actor(), team)
        flash(_("The team is deleted."), "success")
    return redirect(url_for("admin.teams"))


# --- roles -----------------------------------------------------------------------------------------------


def _grants_from_request(known: dict[str, tuple[str, ...]]) -> dict[tuple[str, str], str]:
    grants: dict[tuple[str, str], str] = {}
    for entity, actions in known.items():
        for action in actions:
            scope = request.form.get(f"grant-{entity}-{action}", "")
            if scope in SCOPES:
                grants[(entity, action)] = scope
    return grants


@bp.get("/roles")
def roles():  # type: ignore[no-untyped-def]
    require(user(), "view", "role")
    rows = db.session.scalars(select(Role).order_by(Role.name)).all()
    return render("admin/roles.html", roles=rows, form=EmptyForm())


@bp.route("/roles/new", methods=["GET", "POST"], defaults={"role_id": None})
@bp.route("/roles/<int:role_id>", methods=["GET", "POST"])
def role_edit(role_id: int | None):  # type: ignore[no-untyped-def]
    require(user(), "edit", "role")
    role = db.get_or_404(Role, role_id) if role_id is not None else None
    if role is not None and not access.holds(user(), access.grants_of([role])):
        raise access.AccessDenied("edit", "role")  # it gives more than the editor has (the service says so too)
    form = RoleForm(obj=role) if request.method == "GET" else RoleForm()
    specs = facades.registry().permissions
    known = {entity: spec.actions for entity, spec in specs.items()}
    current = {(g.entity, g.action): g.scope for g in role.grants} if role else {}
    if form.validate_on_submit():
        grants = _grants_from_request(known)
        current = grants
        try:
            accounts.save_role(actor(), role, name=form.name.data or "", description=form.description.data or "",
                               grants=grants, known=known)
        except ValidationError as exc:
            db.session.rollback()
            _show_error(form, exc)
        else:
            flash(_("The role is saved."), "success")
            return redirect(url_for("admin.roles"))
    return render("admin/role_form.html", form=form, role=role, specs=specs, current=current, scopes=SCOPES,
                  status=400 if request.method == "POST" else 200)


@bp.post("/roles/<int:role_id>/delete")
def role_delete(role_id: int):  # type: ignore[no-untyped-def]
    require(user(), "edit", "role")
    role = db.get_or_404(Role, role_id)
    if EmptyForm().validate_on_submit():
        accounts.delete_role(actor(), role)
        flash(_("The role is deleted."), "success")
    return redirect(url_for("admin.roles"))


# --- plugins and audit -----------------------------------------------------------------------------------


@bp.get("/plugins")
def plugins():  # type: ignore[no-untyped-def]
    require(user(), "view", "plugin")
    manager = facades.plugins()
    health = facades.plugin_health()
    rows = [
        {"info": info, "hooks": manager.hooks_of(info.name), "health": health.get(info.name)}
        for info in manager.enabled
    ]
    return render("admin/plugins.html", rows=rows, core_hooks=manager.hooks_of("core"))


def _enabled_plugin(name: str):  # type: ignore[no-untyped-def]
    info = facades.plugins().info(name)
    if info is None:
        abort(404)
    return info


@bp.route("/plugins/<plugin>", methods=["GET", "POST"])
def plugin(plugin: str):  # type: ignore[no-untyped-def]
    """One plugin: its version, hooks and health, its settings form (saved values over plugins.toml) and
    "Check connection". Seeing needs ``plugin``/``view``, saving ``plugin``/``edit``."""
    require(user(), "view", "plugin")
    _enabled_plugin(plugin)
    form_class = plugin_settings.settings_form(plugin)
    if request.method == "POST":
        require(user(), "edit", "plugin")
    form = status = None
    effective = settings_page.effective_values(plugin_settings.plugin_settings(plugin))
    if form_class is not None:
        form = settings_page.bind(form_class, data=effective)
        if request.method == "POST":
            posted = settings_page.submitted(form, effective)
            if posted is not None:
                try:
                    changes = settings_service.save_plugin(actor(), plugin, posted.values, posted.typed_secrets,
                                                           posted.cleared)
                except ValidationError as exc:
                    db.session.rollback()
                    _show_error(form, exc)
                else:
                    db.session.commit()
                    flash(_("The settings of %(plugin)s are saved.", plugin=plugin) if changes
                          else _("Nothing changed."), "success")
                    return redirect(url_for("admin.plugin", plugin=plugin))
            status = 422
    elif request.method == "POST":
        abort(404)
    return _plugin_page(plugin, form, effective, status=status or 200)


def _plugin_page(plugin: str, form, effective: dict, *, status: int = 200, answers=None):  # type: ignore[no-untyped-def]
    manager = facades.plugins()
    secrets = settings_page.secret_states(form, plugin_settings.stored_secret_keys(plugin), effective) if form else {}
    return render("admin/plugin.html", "check" if answers is not None else None, info=manager.info(plugin),
                  hooks=manager.hooks_of(plugin), health=facades.plugin_health().get(plugin), form=form,
                  provided=providers_service.of_plugin(plugin),
                  webhook_paths=sorted(path for owner, path in facades.webhook_endpoints() if owner == plugin),
                  secrets=secrets, may_edit=access.can(user(), "edit", "plugin"), check_form=EmptyForm(),
                  answers=answers, status=status)


@bp.post("/plugins/<plugin>/check")
def plugin_check(plugin: str):  # type: ignore[no-untyped-def]
    """"Check connection": the plugin's health check and its providers' ``check_connection()``, shown in place."""
    require(user(), "view", "plugin")
    _enabled_plugin(plugin)
    if not EmptyForm().validate_on_submit():
        abort(400)
    answers = plugin_settings.check_connection(plugin)
    if is_htmx():
        return fragment("admin/plugin.html", "check", answers=answers)
    form_class = plugin_settings.settings_form(plugin)
    effective = settings_page.effective_values(plugin_settings.plugin_settings(plugin))
    form = settings_page.bind(form_class, data=effective) if form_class is not None else None
    if form is not None:  # bound to this POST's data (only the CSRF token): show the saved values instead
        form.process(formdata=None, data={k: v for k, v in effective.items()
                                          if k in settings_page.plain_keys(form_class)})
    return _plugin_page(plugin, form, effective, answers=answers)


@bp.get("/audit", endpoint="audit")
def audit_log():  # type: ignore[no-untyped-def]
    require(user(), "view", "audit")
    before = request.args.get("before", type=int)
    action = request.args.get("action") or None
    entries = audit.recent(limit=50, before_id=before, action=action)
    return render("admin/audit.html", "rows", lines=audit_words.describe(entries), action=action,
                  actions=audit_words.action_choices(), more=entries[-1].id if len(entries) == 50 else None)


# --- custom fields ---------------------------------------------------------------------------------------


def custom_fields_page():  # type: ignore[no-untyped-def]
    from core.models import CustomField
    from core.services.clients import custom_fields
    from core.services.platform.errors import InvalidInput

    require(user(), "edit", "custom_field")
    errors: dict[str, str] = {}
    typed: dict[str, str] = {}
    if request.method == "POST" and EmptyForm().validate_on_submit():
        field_id = request.form.get("field_id", type=int)
        existing = db.session.get(CustomField, field_id) if field_id else None
        if request.form.get("toggle") and existing is not None:
            custom_fields.set_active(actor(), existing, not existing.active)
            return redirect(url_for("admin.custom_fields"))
        typed = dict(request.form.items())
        try:
            custom_fields.save_definition(
                actor(), existing, entity=request.form.get("entity", ""), label=request.form.get("label", ""),
                type_=request.form.get("type", ""), choices=request.form.get("choices", "").splitlines(),
                required=bool(request.form.get("required")))
        except InvalidInput as exc:
            db.session.rollback()
            errors = {k: str(v) for k, v in exc.errors.items()}
        else:
            flash(_("The field is saved."), "success")
            return redirect(url_for("admin.custom_fields"))
    fields = {entity: custom_fields.definitions(entity, include_inactive=True)
              for entity in custom_fields.ENTITIES}
    return render("admin/custom_fields.html", fields=fields, errors=errors, typed=typed, form=EmptyForm(),
                  types=custom_fields.FIELD_TYPES, status=422 if errors else 200)


bp.add_url_rule("/custom-fields", endpoint="custom_fields", view_func=custom_fields_page,
                methods=["GET", "POST"])
