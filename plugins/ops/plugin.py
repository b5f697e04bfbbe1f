"""Operations plugin: a background-jobs page for admins, alerts when jobs fail or users are added, a health
check that notices when no worker is running, and a nightly purge of old job history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import click
from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask.cli import with_appcontext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from mayak import (
    JOB_STATUSES,
    N_,
    Event,
    EventHandler,
    HealthStatus,
    JobFailed,
    JobSpec,
    NavItem,
    PermissionSpec,
    ScheduleSpec,
    UserCreated,
    UserDeactivated,
    ValidationError,
    admin_ids,
    db,
    failed_jobs_since,
    hookimpl,
    notify,
    plugin_info,
    purge_history,
    recent_jobs,
    retry_job,
    waiting_jobs,
)
from mayak.web import EmptyForm, can, current_actor, current_user_or_none, param_choice, param_id, render, require
from plugins.ops.models import PurgeRun


@dataclass(frozen=True)
class Settings:
    """``[plugins.ops]`` in plugins.toml."""

    job_retention_days: int = 30
    event_retention_days: int = 30
    notification_retention_days: int = 90
    purge_cron: str = "17 3 * * *"
    waiting_alert_minutes: int = 10

    def __post_init__(self) -> None:
        for name in ("job_retention_days", "event_retention_days", "notification_retention_days",
                     "waiting_alert_minutes"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a whole number of at least 1")


def settings() -> Settings:
    info = plugin_info("ops")
    return info.settings if info is not None and info.settings is not None else Settings()


# --- jobs and schedules ----------------------------------------------------------------------------------


def purge_job(ctx: object) -> dict[str, int]:
    conf = settings()
    counts = purge_history(job_days=conf.job_retention_days, event_days=conf.event_retention_days,
                           notification_days=conf.notification_retention_days)
    db.session.add(PurgeRun(jobs_deleted=counts["jobs"], events_deleted=counts["events"],
                            notifications_deleted=counts["notifications"],
                            login_failures_deleted=counts["login_failures"]))
    return counts


@hookimpl
def register_jobs() -> list[JobSpec]:
    return [JobSpec("ops.purge", purge_job, timeout=1800, max_attempts=2, label=_l("Purge old job history"))]


@hookimpl
def register_schedules() -> list[ScheduleSpec]:
    return [ScheduleSpec("ops.nightly_purge", "ops.purge", cron=settings().purge_cron)]


@hookimpl
def register_permissions() -> list[PermissionSpec]:
    return [PermissionSpec("job", ("view", "edit"), _l("Background jobs"), scoped=False)]


# --- command line ----------------------------------------------------------------------------------------


@click.group("ops")
def ops_cli() -> None:
    """Operations: job history and housekeeping."""


@ops_cli.command("purge")
@with_appcontext
def purge_command() -> None:
    """Delete old finished jobs, delivered events and read notifications now."""
    counts = purge_job(None)  # the command is one unit of work: the app commits it when it returns
    click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))


@hookimpl
def register_commands() -> list[click.Command]:
    return [ops_cli]


# --- pages -----------------------------------------------------------------------------------------------

bp = Blueprint("ops", __name__, url_prefix="/admin/jobs")


@bp.get("/")
def jobs_page():  # type: ignore[no-untyped-def]
    require(current_user_or_none(), "view", "job")
    # the status filter is one of the known statuses (else 400), and reaches the template as ``shown``: render()'s
    # own ``status`` is the HTTP status, which a query parameter must never set
    shown = param_choice("status", request.args["status"], JOB_STATUSES) \
        if request.args.get("status") else None
    before = param_id("before", request.args.get("before"))
    rows = recent_jobs(limit=50, before_id=before, status=shown)
    runs = db.session.query(PurgeRun).order_by(PurgeRun.id.desc()).limit(5).all()
    return render("ops/jobs.html", "rows", jobs=rows, runs=runs, shown=shown, form=EmptyForm(),
                  more=rows[-1].id if len(rows) == 50 else None)


@bp.post("/<int:record_id>/retry")
def retry(record_id: int):  # type: ignore[no-untyped-def]
    require(current_user_or_none(), "edit", "job")
    if EmptyForm().validate_on_submit():
        try:
            retry_job(current_actor(), record_id)
        except ValidationError as exc:
            db.session.rollback()
            flash(str(exc.message), "danger")
        else:
            flash(_("The job is queued again."), "success")
    return redirect(url_for("ops.jobs_page"))


@hookimpl
def register_blueprints() -> list[Blueprint]:
    return [bp]


@hookimpl
def nav_items(user: object) -> list[NavItem]:
    if not can(user, "view", "job"):  # type: ignore[arg-type]
        return []
    return [NavItem("jobs", _l("Background jobs"), "ops.jobs_page", icon="gear", order=45, section="admin")]


# --- health and events -----------------------------------------------------------------------------------


@hookimpl
def plugin_health() -> HealthStatus:
    conf = settings()
    waiting = waiting_jobs(timedelta(minutes=conf.waiting_alert_minutes))
    failed = failed_jobs_since(timedelta(hours=24))
    if waiting:
        hint = (_("is `mayak worker` running?") if current_app.config.get("REDIS_URL")
                else _("is the app overloaded?"))
        return HealthStatus(False, ngettext("%(num)d job has waited over %(minutes)d min: %(hint)s",
                                            "%(num)d jobs have waited over %(minutes)d min: %(hint)s", waiting,
                                            minutes=conf.waiting_alert_minutes, hint=hint))
    return HealthStatus(True, ngettext("%(num)d job failed in the last 24 hours",
                                       "%(num)d jobs failed in the last 24 hours", failed))


def _job_failed(event: Event) -> None:
    assert isinstance(event, JobFailed)
    notify(
        admin_ids(),
        N_("Background job %(name)s failed: %(error)s"),
        params={"name": event.job_name, "error": event.error[:200]},
        link="/admin/jobs/?status=failed",
        level="danger",
        source="ops",
    )


def _tell_other_admins(event: Event, message: str) -> None:
    assert isinstance(event, UserCreated | UserDeactivated)
    skip = (event.origin.user_id, event.subject_id)
    recipients = [uid for uid in admin_ids() if uid not in skip]
    if recipients:
        notify(recipients, message, params={"email": event.email}, link="/admin/users", source="ops")


def _user_created(event: Event) -> None:
    _tell_other_admins(event, N_("A new user was added: %(email)s"))


def _user_deactivated(event: Event) -> None:
    _tell_other_admins(event, N_("A user was disabled: %(email)s"))


@hookimpl
def register_event_handlers() -> list[EventHandler]:
    return [
        EventHandler("ops.job_failed", (JobFailed.name,), _job_failed),
        EventHandler("ops.user_created", (UserCreated.name,), _user_created),
        EventHandler("ops.user_deactivated", (UserDeactivated.name,), _user_deactivated),
    ]
