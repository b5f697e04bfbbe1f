"""Documented service entry points for plugins: thin, stable functions over the core services.

A plugin calls these instead of ``core.services.*``: the core may move or reshape its services, these names and
their keyword arguments stay (an argument is deprecated before it goes). They join the caller's unit of work.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from core.models import Company, Contact, Notification, Task, User
from core.plugins.facades import default_phone_region
from core.plugins.providers import CallEvent
from core.services.clients import companies, contacts, phones, timeline
from core.services.platform import access, audit, events, maintenance, notifications
from core.services.platform.context import SYSTEM, Actor
from core.services.telephony import calls
from core.services.work import inbox, tasks

__all__ = [
    "JOB_STATUSES",
    "SYSTEM",
    "AccessDenied",
    "Actor",
    "IncomingItem",
    "KeyReused",
    "ReceiveResult",
    "admin_ids",
    "can",
    "create_task",
    "emit",
    "failed_jobs_since",
    "filter_query",
    "find_client",
    "get_company",
    "get_contact",
    "notify",
    "parse_phone",
    "purge_history",
    "receive_inbox_item",
    "recent_jobs",
    "record_audit",
    "record_call_events",
    "record_timeline_entry",
    "require",
    "retry_job",
    "update_timeline_entry",
    "waiting_jobs",
]

AccessDenied = access.AccessDenied


def can(user: User | None, action: str, entity: str, obj: Any = None) -> bool:
    """Whether ``user`` may do ``action`` ("view", "edit", "delete"...) on ``entity`` (or on the record ``obj``)."""
    return access.can(user, action, entity, obj)


def require(user: User | None, action: str, entity: str, obj: Any = None) -> None:
    """Like :func:`can`, raising :class:`AccessDenied` (a web view answers 403 and the refusal is audited)."""
    access.require(user, action, entity, obj)


def get_company(actor: Actor, company_id: int) -> Company:
    """The live company ``company_id`` when ``actor`` may view it; ``LookupError`` otherwise."""
    return companies.get(actor, company_id)


def get_contact(actor: Actor, contact_id: int) -> Contact:
    """The live contact ``contact_id`` when ``actor`` may view it; ``LookupError`` otherwise (a view answers 404)."""
    return contacts.get(actor, contact_id)


def filter_query(user: User | None, action: str, entity: str, stmt: Any, owner_column: Any) -> Any:
    """Narrow the SELECT ``stmt`` to the rows ``user`` may ``action`` by the role's scope (own, team, all);
    ``owner_column`` is the column holding the owner's user id."""
    return access.filter_query(user, action, entity, stmt, owner_column)


def find_client(*, phone: str = "", email: str = "") -> Contact | None:
    """The live contact with this phone (tried first, as typed or E.164) or email; the oldest when several share
    it, ``None`` when nobody does. Visibility is not checked: check :func:`can` before showing it to a user."""
    e164 = phones.parse(phone, default_phone_region()).e164 if phone.strip() else None
    return inbox.find_client(e164, email.strip())


def record_timeline_entry(*, kind: str, contact_id: int | None = None, company_id: int | None = None,
                          actor: Actor | None = None, **fields: Any) -> Any:
    """Add an entry to a contact's or company's timeline (see :func:`core.services.clients.timeline.record` for
    ``title``, ``body``, ``data``, ``occurred_at``, ``source``, ``external_id``); an entry with the same
    ``(source, external_id)`` is returned instead of a second one. A new entry is audited (``timeline.recorded``)
    as ``actor``, by default the plugin named by ``source``."""
    source, external_id = fields.get("source", "core"), fields.get("external_id")
    known = timeline.find_entry(source, external_id) if external_id is not None else None
    entry = timeline.record(kind=kind, contact_id=contact_id, company_id=company_id, **fields)
    if known is None:
        target, target_id = ("contact", contact_id) if contact_id is not None else ("company", company_id)
        audit.record(actor or _plugin_actor(source), "timeline.recorded", target, target_id,
                     {"activity": entry.id, "kind": kind, "source": source, "external_id": external_id})
    return entry


def update_timeline_entry(*, source: str, external_id: str, actor: Actor | None = None, **changes: Any) -> Any:
    """Change an entry recorded before with ``(source, external_id)`` — a message's delivery status, a call's
    duration once it ended (``title``, ``body``, ``occurred_at`` replace; ``data`` is merged). ``None`` when no
    such entry exists yet. A change is audited (``timeline.updated``) as ``actor``, by default the plugin."""
    def seen(entry: Any) -> Any:
        return None if entry is None else (entry.title, entry.body, dict(entry.data or {}), entry.occurred_at)

    before = seen(timeline.find_entry(source, external_id))
    entry = timeline.update(source, external_id, **changes)
    if entry is not None and seen(entry) != before:  # a repeated status changes nothing and is not audited
        target, target_id = ("contact", entry.contact_id) if entry.contact_id is not None \
            else ("company", entry.company_id)
        audit.record(actor or _plugin_actor(source), "timeline.updated", target, target_id,
                     {"activity": entry.id, "source": source, "external_id": external_id,
                      "changed": sorted(changes)})
    return entry


def _plugin_actor(source: str) -> Actor:
    """Who the audit log names for a plugin's own write: the provider (plugin) that sent it, no user."""
    return Actor(user=None, via="provider", detail=source[:60])


IncomingItem = inbox.IncomingItem
ReceiveResult = inbox.ReceiveResult
KeyReused = inbox.KeyReused


def receive_inbox_item(item: IncomingItem) -> ReceiveResult:
    """Store an incoming call, message, mail or form post in the inbox and sort it (matched to a client, a deal
    proposed), in the caller's unit of work; returns ``(item, created, updated)``. A repeat of the same
    ``(source, external_id)`` is not stored twice; a later event about it (``state``, ``occurred_at``) updates the
    same item (see :func:`core.services.work.inbox.receive` for the rules)."""
    return inbox.receive(item)


def create_task(*, title: str, owner_id: int | None, due_at: datetime, contact_id: int | None = None,
                company_id: int | None = None, deal_id: int | None = None, notes: str = "",
                priority: str = "normal", actor: Actor | None = None) -> Task:
    """A task the system sets for ``owner_id`` (a call-back after a missed call), without permission checks."""
    return tasks.create_system_task(title=title, owner_id=owner_id, due_at=due_at, contact_id=contact_id,
                                    company_id=company_id, deal_id=deal_id, notes=notes, priority=priority,
                                    actor=actor)


def notify(user_ids: Iterable[int], message: str, *, params: dict[str, Any] | None = None, link: str | None = None,
           level: str = "info", source: str = "core", domain: str = "messages") -> list[Notification]:
    """Tell users something in the notifications area; ``message`` is an English msgid marked with ``N_``,
    translated for each reader (from the plugin's catalogue ``domain``) when shown."""
    return notifications.notify(user_ids, message, params=params, link=link, level=level, source=source,
                                domain=domain)


def record_audit(actor: Actor, action: str, target_type: str | None = None, target_id: object | None = None,
                 changes: dict[str, Any] | None = None) -> Any:
    """Add a line to the audit log (``action`` such as ``"zadarma.call_linked"``), in the caller's unit of work:
    every write a plugin makes to client data is audited like the core's."""
    return audit.record(actor, action, target_type, target_id, changes)


def parse_phone(raw: str, region: str | None = None) -> Any:
    """A phone number as typed, understood: ``.e164`` (``None`` when it is not a number), ``.valid``, ``.raw``;
    ``region`` defaults to :func:`default_phone_region`."""
    return phones.parse(raw, region or default_phone_region())


def emit(event: Any) -> Any:
    """Add ``event`` (an instance of an :class:`Event` class in the catalogue: the core's, or the plugin's own from
    ``register_events``) to the outbox in the caller's unit of work; handlers get it after the commit."""
    return events.emit(event)


def admin_ids() -> list[int]:
    """The ids of the active administrators (whom operational notifications go to)."""
    return notifications.admin_ids()


def recent_jobs(*, limit: int = 50, before_id: int | None = None, status: str | None = None) -> list[Any]:
    """The latest background jobs, newest first (``status``: one of :data:`JOB_STATUSES`; ``before_id`` pages)."""
    return maintenance.recent_jobs(limit=limit, before_id=before_id, status=status)


def waiting_jobs(older_than: timedelta) -> int:
    """How many jobs have waited longer than ``older_than`` (no worker running?)."""
    return maintenance.waiting_jobs(older_than)


def failed_jobs_since(since: timedelta) -> int:
    """How many jobs failed within ``since``."""
    return maintenance.failed_since(since)


def retry_job(actor: Actor, job_id: int) -> Any:
    """Run a failed job again (audited; raises :class:`ValidationError` when the job cannot be retried)."""
    return maintenance.retry_job(actor, job_id)


def purge_history(*, job_days: int, event_days: int, notification_days: int) -> dict[str, int]:
    """Delete finished jobs, delivered events and read notifications older than the given days; counts per kind."""
    return maintenance.purge(job_days, event_days, notification_days)


JOB_STATUSES = maintenance.JOB_STATUSES


def record_call_events(provider: str, events: Iterable[CallEvent]) -> list[int]:
    """Hand a telephony provider's normalised events to the core (``provider``: the provider's key). The core folds
    them into one call per conversation — in any order, a repeat changing nothing — links the client and deal,
    writes the timeline entry, passes an incoming client's call through the inbox, sets the "call back" task for a
    missed call, queues the recording's download and emits ``call_started``, ``call_answered``, ``call_ended``
    and ``call_missed``. Returns the ids of the calls touched. Joins the caller's unit of work."""
    return [call.id for call in calls.record_events(provider, events)]
