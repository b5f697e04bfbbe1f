"""The audit log said in words in the reader's language: what happened (not ``deal.stage_changed``), on which
record (with a link), and what changed (``Stage: New request → Won``, owners by name, old → new), from the
structured entries the services write."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from core.models import AuditEntry
from core.services.platform.audit_names import KEY_KINDS, names_for

ACTIONS = {
    "access.denied": _l("Access refused"),
    "api.unauthorized": _l("API call with a bad token refused"),
    "api.scope_denied": _l("API call outside the token's scope refused"),
    "api.refusals_suppressed": _l("Further API refusals not recorded"),
    "api_token.created": _l("API token created"),
    "api_token.revoked": _l("API token revoked"),
    "assignment_rule.deleted": _l("Assignment rule deleted"),
    "assignment_rule.saved": _l("Assignment rule saved"),
    "assignment_rule.switched": _l("Assignment rule switched on or off"),
    "auth.failed": _l("Sign-in failed"),
    "auth.login": _l("Signed in"),
    "auth.logout": _l("Signed out"),
    "auth.throttled": _l("Sign-in blocked after too many attempts"),
    "company.created": _l("Company created"),
    "company.updated": _l("Company changed"),
    "company.deleted": _l("Companies deleted"),
    "company.restored": _l("Companies restored"),
    "company.merged": _l("Companies merged"),
    "company.merge_undone": _l("Merge of companies undone"),
    "company.reassigned": _l("Companies given to another owner"),
    "company.tagged": _l("Tags added to companies"),
    "contact.created": _l("Contact created"),
    "contact.updated": _l("Contact changed"),
    "contact.deleted": _l("Contacts deleted"),
    "contact.restored": _l("Contacts restored"),
    "contact.merged": _l("Contacts merged"),
    "contact.merge_undone": _l("Merge of contacts undone"),
    "contact.reassigned": _l("Contacts given to another owner"),
    "contact.tagged": _l("Tags added to contacts"),
    "custom_field.created": _l("Custom field created"),
    "custom_field.updated": _l("Custom field changed"),
    "custom_field.enabled": _l("Custom field switched on"),
    "custom_field.disabled": _l("Custom field switched off"),
    "deal.created": _l("Deal created"),
    "deal.updated": _l("Deal changed"),
    "deal.stage_changed": _l("Deal moved to another stage"),
    "deal.item_added": _l("Product added to a deal"),
    "deal.item_removed": _l("Product removed from a deal"),
    "deal.payment_added": _l("Payment recorded"),
    "file.uploaded": _l("File uploaded"),
    "call.noted": _l("Call note saved"),
    "import.uploaded": _l("File uploaded for import"),
    "import.finished": _l("Import finished"),
    "import.undone": _l("Import undone"),
    "import.profile_saved": _l("Import mapping saved"),
    "inbox.accepted": _l("Incoming request accepted"),
    "inbox.rejected": _l("Incoming request rejected"),
    "inbox.auto_accept": _l("Automatic acceptance changed"),
    "inbox.attached": _l("Incoming request attached to a deal"),
    "inbox.updated": _l("Incoming request updated"),
    "timeline.recorded": _l("Timeline entry added"),
    "timeline.updated": _l("Timeline entry changed"),
    "job.retried": _l("Background job restarted"),
    "lead_form.saved": _l("Lead form saved"),
    "note.created": _l("Note added"),
    "pipeline.saved": _l("Pipeline saved"),
    "role.created": _l("Role created"),
    "role.updated": _l("Role changed"),
    "role.deleted": _l("Role deleted"),
    "task.created": _l("Task created"),
    "task.updated": _l("Task changed"),
    "task.deleted": _l("Task deleted"),
    "task.done": _l("Task completed"),
    "task.open": _l("Task reopened"),
    "task.cancelled": _l("Task cancelled"),
    "task.commented": _l("Task commented on"),
    "task.recurrence_created": _l("Repeating task created"),
    "task.recurrence_stopped": _l("Repeating task stopped"),
    "team.created": _l("Team created"),
    "team.updated": _l("Team changed"),
    "team.deleted": _l("Team deleted"),
    "user.created": _l("User created"),
    "user.updated": _l("User changed"),
    "user.enabled": _l("User enabled"),
    "user.disabled": _l("User disabled"),
    "user.password_changed": _l("Password changed"),
    "user.preferences": _l("Personal settings changed"),
    "user.plugin_settings": _l("Plugin settings of a user changed"),
    "plugin.settings_saved": _l("Plugin settings changed"),
    "provider.chosen": _l("Provider chosen"),
    "view.saved": _l("List view saved"),
    "view.deleted": _l("List view deleted"),
    "work.reassigned": _l("Work handed over to a colleague"),
    "work.reassign_undone": _l("Handover undone"),
    "webhook.replayed": _l("Webhook delivery replayed"),
}

TARGETS = {"contact": _l("Contact"), "company": _l("Company"), "deal": _l("Deal"), "task": _l("Task"),
           "user": _l("User"), "team": _l("Team"), "role": _l("Role"), "pipeline": _l("Pipeline"),
           "import_batch": _l("Import"), "custom_field": _l("Custom field"), "saved_view": _l("List view"),
           "job": _l("Background job"), "inbox": _l("Incoming request"), "inbox_settings": _l("Inbox settings"),
           "api_token": _l("API token"), "email": _l("Email"), "plugin": _l("Plugin"),
           "webhook_delivery": _l("Webhook delivery")}
LINKS = {"contact": ("contacts.card", "contact_id"), "company": ("companies.card", "company_id"),
         "deal": ("deals.card", "deal_id"), "task": ("tasks.show", "task_id"), "user": ("admin.user_edit", "user_id"),
         "webhook_delivery": ("webhooks_admin.detail", "delivery_id")}

FIELDS = {
    "first_name": _l("First name"), "last_name": _l("Last name"), "middle_name": _l("Middle name"),
    "job_title": _l("Job title"), "city": _l("City"), "region": _l("Region"), "source": _l("Source"),
    "notes": _l("Notes"), "birthday": _l("Birthday"), "owner_id": _l("Owner"), "team_id": _l("Team"),
    "phones": _l("Phones"), "emails": _l("Emails"), "tags": _l("Tags"), "companies": _l("Companies"),
    "custom": _l("Custom fields"), "name": _l("Name"), "industry": _l("Industry"), "website": _l("Website"),
    "title": _l("Title"), "stage": _l("Stage"), "stage_id": _l("Stage"), "pipeline_id": _l("Pipeline"),
    "amount": _l("Amount"), "currency": _l("Currency"), "to": _l("To"), "from": _l("From"),
    "reason": _l("Reason"), "ids": _l("Records"), "file": _l("File"), "size": _l("Size"), "deal_id": _l("Deal"),
    "contact_id": _l("Contact"), "company_id": _l("Company"), "status": _l("Status"), "priority": _l("Priority"),
    "due_at": _l("Due"), "action": _l("Action"), "path": _l("Address"), "password": _l("Password"),
    "email": _l("Email"), "full_name": _l("Full name"), "is_admin": _l("Administrator"),
    "is_active": _l("Active"), "roles": _l("Roles"), "teams": _l("Teams"), "rrule": _l("Repeats"),
    "lost_reason": _l("Lost reason"), "comment": _l("Comment"), "price": _l("Price"), "quantity": _l("Quantity"),
    "undo_of": _l("Undoes entry"), "merged": _l("Merged records"), "shared": _l("Shared"),
    "expected_close": _l("Expected close"), "channel": _l("Channel"), "probability": _l("Probability"),
    "locale": _l("Language"), "timezone": _l("Time zone"), "label": _l("Label"), "type": _l("Type"),
    "tasks": _l("Tasks"), "deals": _l("Deals"), "contacts": _l("Contacts"),
    "scope": _l("Used for"),
}
# actions whose changes are {field: [old, new]}
PAIRS = {"contact.updated", "company.updated", "user.updated", "user.preferences", "deal.stage_changed",
         "plugin.settings_saved", "user.plugin_settings"}
LIMIT = 200  # characters of one shown value


@dataclass
class AuditLine:
    entry: AuditEntry
    action: str
    target: str
    target_url: str | None
    changes: list[tuple[str, str]] = field(default_factory=list)


def action_label(code: str) -> str:
    label = ACTIONS.get(code)
    return str(label) if label is not None else code


def action_choices() -> list[tuple[str, str]]:
    """(code, label) of every known action, by label, for the log's filter."""
    return sorted(((code, str(label)) for code, label in ACTIONS.items()), key=lambda pair: pair[1].lower())


def _plain(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if value == "***":
        return _("changed (not shown)")
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_plain(v)}" for k, v in value.items()) or "—"
    text = str(value)
    return text if len(text) <= LIMIT else text[:LIMIT] + "…"


def _named(key: str, value: Any, names: dict[str, dict[int, str]]) -> str:
    kind = KEY_KINDS.get(key)
    if kind is None or isinstance(value, bool):
        return _plain(value)
    if isinstance(value, list | tuple):
        return ", ".join(_named(key, v, names) for v in value) or "—"
    ident = int(value) if isinstance(value, int) or (isinstance(value, str) and value.isdigit()
                                                         and len(value) < 19) else None
    if ident is None:
        return _plain(value)
    return names.get(kind, {}).get(ident) or f"#{ident}"


def _change(action: str, key: str, value: Any, names: dict[str, dict[int, str]]) -> str:
    if key == "ids" and isinstance(value, list):
        return ngettext("%(num)d record", "%(num)d records", len(value))
    if action in PAIRS and isinstance(value, list) and len(value) == 2:
        return f"{_named(key, value[0], names)} → {_named(key, value[1], names)}"
    return _named(key, value, names)


def describe(entries: list[AuditEntry]) -> list[AuditLine]:
    """The entries of one log page in words (names read once for the whole page)."""
    names = names_for(entries)
    lines = []
    for entry in entries:
        kind = entry.target_type or ""
        ident = str(entry.target_id or "")
        target = str(TARGETS.get(kind, kind))
        url = None
        if ident.isdigit() and len(ident) < 19:
            name = names.get(kind, {}).get(int(ident))
            target = f"{target}: {name}" if name else f"{target} #{ident}"
            if kind in LINKS and name:
                endpoint, arg = LINKS[kind]
                url = url_for(endpoint, **{arg: int(ident)})
        elif ident:
            target = f"{target}: {ident if len(ident) <= 80 else ident[:80] + '…'}"
        changes = [(str(FIELDS.get(k, k)), _change(entry.action, k, v, names))
                   for k, v in (entry.changes or {}).items()]
        lines.append(AuditLine(entry, action_label(entry.action), target, url, changes))
    return lines
