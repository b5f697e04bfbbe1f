"""Core's own hook implementations, registered first as the plugin named ``core``.

Core contributes its navigation and permissions through the same hooks plugins use, and answers
``country_rules`` last (``trylast``) so any localisation plugin overrides the neutral defaults.
"""

from __future__ import annotations

from flask import Blueprint, current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp

import core.services.telephony.calls  # noqa: F401 -- registers the inbox's sorting listener for calls
from core.jobs import JobContext
from core.models import User
from core.plugins import hookimpl
from core.plugins.providers import ChannelSpec, IncomingCall, RouteAnswer, TimelineKindSpec
from core.plugins.types import CountryRules, JobSpec, NavItem, PermissionSpec, ScheduleSpec
from core.services.platform.access import can

CLIENT_ACTIONS = ("view", "create", "edit", "delete", "export", "import", "assign")
CLIENT_DEFAULTS = {
    "manager": {action: "team" for action in CLIENT_ACTIONS},
    "sales": {"view": "own", "create": "own", "edit": "own", "export": "own"},
    "operator": {"view": "all", "create": "all"},
}
TASK_ACTIONS = ("view", "create", "edit", "delete", "assign")
TASK_DEFAULTS = {
    "manager": {action: "team" for action in TASK_ACTIONS},
    "sales": {"view": "own", "create": "own", "edit": "own", "delete": "own"},
    "operator": {"view": "own", "create": "own", "edit": "own", "assign": "all"},
}
CALL_DEFAULTS = {
    "manager": {"view": "team"},
    "sales": {"view": "own"},
    "operator": {"view": "all"},
}
INBOX_DEFAULTS = {
    "manager": {"view": "team", "edit": "team"},
    "sales": {"view": "own", "edit": "own"},
    "operator": {"view": "all", "edit": "all"},
}
LEAD_DEFAULTS = {"contact_centre": {"submit": "own", "view": "own"}, "operator": {"submit": "all"}}


@hookimpl
def register_permissions() -> list[PermissionSpec]:
    return [
        PermissionSpec("contact", CLIENT_ACTIONS, _l("Contacts"), defaults=CLIENT_DEFAULTS),
        PermissionSpec("company", CLIENT_ACTIONS, _l("Companies"), defaults=CLIENT_DEFAULTS),
        PermissionSpec("deal", CLIENT_ACTIONS, _l("Deals"), defaults=CLIENT_DEFAULTS),
        PermissionSpec("pipeline", ("edit",), _l("Pipelines and stages"), scoped=False),
        PermissionSpec("task", TASK_ACTIONS, _l("Tasks"), defaults=TASK_DEFAULTS),
        PermissionSpec("inbox", ("view", "edit"), _l("Incoming requests"), defaults=INBOX_DEFAULTS),
        PermissionSpec("call", ("view",), _l("Calls (the call log and figures)"), defaults=CALL_DEFAULTS),
        PermissionSpec("lead", ("submit", "view"), _l("Submitted leads (contact centres)"),
                       defaults=LEAD_DEFAULTS),
        PermissionSpec("inbox_settings", ("edit",), _l("Lead forms, assignment rules, channels"), scoped=False),
        PermissionSpec("custom_field", ("edit",), _l("Custom fields"), scoped=False),
        PermissionSpec("user", ("view", "create", "edit"), _l("Users"), scoped=False),
        PermissionSpec("team", ("view", "edit"), _l("Teams"), scoped=False),
        PermissionSpec("role", ("view", "edit"), _l("Roles"), scoped=False),
        PermissionSpec("audit", ("view",), _l("Audit log"), scoped=False),
        # view: the plugins pages and "Check connection"; edit: save a plugin's settings (administrators hold both)
        PermissionSpec("plugin", ("view", "edit"), _l("Plugins"), scoped=False),
        PermissionSpec("webhook", ("view", "replay"), _l("Webhooks (deliveries, replay)"), scoped=False),
        PermissionSpec("provider", ("view", "edit"), _l("Providers (telephony, messages, mail)"), scoped=False),
    ]


def _remind_job(ctx: object) -> int:
    from core.services.work import tasks

    return tasks.send_reminders()


def _overdue_job(ctx: object) -> int:
    from core.services.work import tasks

    return tasks.flag_overdue()


def _recurrence_job(ctx: object) -> int:
    from core.services.work import recurrence

    return recurrence.generate()


def _import_job(ctx: JobContext, batch_id: int) -> dict[str, int]:
    from core.services.transfer import imports

    batch = imports.run(batch_id, lambda done, total: ctx.progress(done, total))
    return batch.counts()


def _import_files_job(ctx: object) -> int:
    from core.services.transfer import imports

    return imports.purge_files()


def _export_job(ctx: JobContext, **kwargs: object) -> dict[str, object]:
    from core.services.transfer import export

    return export.run_job(ctx, **kwargs)  # type: ignore[arg-type]


def _webhook_job(ctx: object, delivery_id: int, replay: bool = False) -> dict[str, object]:
    from core.services.platform import webhooks

    return webhooks.run_job(delivery_id, replay)


def _webhook_purge_job(ctx: object) -> dict[str, int]:
    from core.services.platform import webhooks

    return webhooks.purge_job(ctx)


def _recording_job(ctx: object, call_id: int) -> dict[str, str]:
    from core.services.telephony import recordings

    return {"result": recordings.fetch(call_id)}


def _recordings_job(ctx: object) -> dict[str, int]:
    from core.services.telephony import recordings

    return recordings.fetch_due()


@hookimpl
def register_jobs() -> list[JobSpec]:
    return [
        JobSpec("core.task_reminders", _remind_job, timeout=300, max_attempts=2, label=_l("Send task reminders")),
        JobSpec("core.task_overdue", _overdue_job, timeout=300, max_attempts=2, label=_l("Flag overdue tasks")),
        JobSpec("core.task_recurrence", _recurrence_job, timeout=600, max_attempts=3,
                label=_l("Create recurring tasks")),
        # resumable: each attempt goes on from the last committed chunk
        JobSpec("core.import", _import_job, timeout=6 * 3600, max_attempts=5, label=_l("Import a file")),
        JobSpec("core.export", _export_job, timeout=6 * 3600, max_attempts=2, label=_l("Export to a file")),
        JobSpec("core.import_files", _import_files_job, timeout=600, max_attempts=2,
                label=_l("Delete old import files")),
        # the handler's own failure is recorded on the delivery (replayable); attempts are for a dead worker
        JobSpec("core.webhook", _webhook_job, timeout=300, max_attempts=3, label=_l("Handle a webhook delivery")),
        JobSpec("core.webhook_purge", _webhook_purge_job, timeout=1800, max_attempts=2,
                label=_l("Delete old webhook deliveries")),
        # a recording not ready yet is retried by the sweep below, with growing pauses, not by job attempts
        JobSpec("core.fetch_recording", _recording_job, timeout=600, max_attempts=1,
                label=_l("Download a call recording")),
        JobSpec("core.recordings", _recordings_job, timeout=1800, max_attempts=1,
                label=_l("Download call recordings that were not ready")),
    ]


@hookimpl
def register_schedules() -> list[ScheduleSpec]:
    return [
        ScheduleSpec("core.task_reminders", "core.task_reminders", every=60),
        ScheduleSpec("core.task_overdue", "core.task_overdue", every=120),
        ScheduleSpec("core.task_recurrence", "core.task_recurrence", every=600),
        ScheduleSpec("core.import_files", "core.import_files", every=6 * 3600),
        ScheduleSpec("core.webhook_purge", "core.webhook_purge", every=6 * 3600),
        ScheduleSpec("core.recordings", "core.recordings", every=30),
    ]


def _telephony_enabled() -> bool:
    from core.plugins.provider_facades import providers

    return bool(providers("telephony"))


@hookimpl
def nav_items(user: User) -> list[NavItem]:
    items = [
        NavItem("home", _l("Home"), "home.index", icon="house", order=0),
        *([NavItem("contacts", _l("Contacts"), "contacts.index", icon="person", order=10)]
          if can(user, "view", "contact") else []),
        *([NavItem("companies", _l("Companies"), "companies.index", icon="building", order=20)]
          if can(user, "view", "company") else []),
        *([NavItem("deals", _l("Deals"), "deals.index", icon="kanban", order=30)]
          if can(user, "view", "deal") else []),
        *([NavItem("tasks", _l("Tasks"), "tasks.index", icon="check2-square", order=25)]
          if can(user, "view", "task") else []),
        *([NavItem("inbox", _l("Inbox"), "inbox.index", icon="inbox", order=5)]
          if can(user, "view", "inbox") or can(user, "submit", "lead") else []),
        *([NavItem("calls", _l("Calls"), "calls.index", icon="telephone", order=27)]
          if can(user, "view", "call") and _telephony_enabled() else []),
        *([NavItem("colleagues", _l("Colleagues"), "calls.colleagues", icon="people", order=800)]
          if can(user, "view", "call") and _telephony_enabled() else []),
        NavItem("notifications", _l("Notifications"), "home.notifications", icon="bell", order=900),
    ]
    admin = [
        ("users", _l("Users"), "admin.users", "user", 10),
        ("teams", _l("Teams"), "admin.teams", "team", 20),
        ("roles", _l("Roles"), "admin.roles", "role", 30),
        ("plugins", _l("Plugins"), "admin.plugins", "plugin", 40),
        ("events", _l("Events"), "events_admin.index", "plugin", 42),
        ("providers", _l("Providers"), "providers.index", "provider", 41),
        ("audit", _l("Audit log"), "admin.audit", "audit", 50),
        ("webhooks", _l("Webhooks"), "webhooks_admin.index", "webhook", 45),
        ("custom_fields", _l("Custom fields"), "admin.custom_fields", "custom_field", 35),
        ("pipelines", _l("Pipelines"), "pipelines.index", "pipeline", 34),
        ("lead_forms", _l("Lead forms"), "intake.forms", "inbox_settings", 36),
        ("assignment", _l("Assignment rules"), "intake.rules", "inbox_settings", 37),
    ]
    items += [
        NavItem(key, label, endpoint, icon=key, order=order, section="admin")
        for key, label, endpoint, entity, order in admin
        if can(user, "edit" if entity in ("custom_field", "inbox_settings", "pipeline") else "view", entity)
    ]
    return items


@hookimpl
def register_blueprints() -> list[Blueprint]:
    from core.web import providers  # Administration → Providers (imported late: the web layer sits above this module)

    return [providers.bp]


@hookimpl
def register_timeline_kinds() -> list[TimelineKindSpec]:
    """Core's own kinds of timeline entries (rendered by ``_timeline_entry.html``)."""
    return [
        TimelineKindSpec(key="note", label=_l("Notes"), icon="✎", order=10),
        TimelineKindSpec(key="task", label=_l("Tasks"), icon="☐", order=20),
        TimelineKindSpec(key="deal", label=_l("Deals"), icon="◆", order=30),
        TimelineKindSpec(key="stage", label=_l("Stage changes"), icon="→", order=40),
        TimelineKindSpec(key="call", label=_l("Calls"), icon="☎", order=50),
        TimelineKindSpec(key="email", label=_lp("timeline", "Emails"), icon="✉", order=60),
        TimelineKindSpec(key="sms", label=_l("SMS"), icon="✆", order=70),
        TimelineKindSpec(key="meeting", label=_l("Meetings"), icon="◷", order=80),
        TimelineKindSpec(key="file", label=_l("Files"), icon="⎙", order=90),
        TimelineKindSpec(key="purchase", label=_l("Purchases"), icon="₽", order=100),
        TimelineKindSpec(key="payment", label=_l("Payments"), icon="₽", order=110),
        TimelineKindSpec(key="owner", label=_l("Owner changes"), icon="⇄", order=120),
        TimelineKindSpec(key="merge", label=_l("Merges"), icon="⊕", order=130),
        TimelineKindSpec(key="system", label=_l("System"), icon="·", order=140),
    ]


@hookimpl
def register_channels() -> list[ChannelSpec]:
    """Core's own inbox channels and the timeline entry an accepted request of each writes."""
    return [
        ChannelSpec(key="phone", label=_l("phone call"), icon="☎", timeline_kind="call", order=10),
        ChannelSpec(key="email", label=_l("email"), icon="✉", timeline_kind="email", order=20),
        ChannelSpec(key="web_form", label=_l("web form"), icon="⌨", timeline_kind="note", order=30),
        ChannelSpec(key="messenger", label=_l("messenger"), icon="✆", timeline_kind="sms", order=40),
        ChannelSpec(key="visit", label=_l("visit"), icon="◷", timeline_kind="meeting", order=50),
        ChannelSpec(key="other", label=_l("other"), icon="·", timeline_kind="note", order=1000),
    ]


@hookimpl(trylast=True)
def route_call(call: IncomingCall) -> RouteAnswer | None:
    """A known caller rings the manager who owns them first (their extension, and their user id for PBXs that
    route by user); an unknown caller, or one whose manager is away, is left to the PBX's scenario."""
    from core.services.telephony import routing

    return routing.owner_first(call)


@hookimpl(trylast=True)
def country_rules() -> CountryRules:
    settings = current_app.extensions["mayak.settings"]
    return CountryRules(country="US", phone_region=settings.default_phone_region or "US", currency="USD")
