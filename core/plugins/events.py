"""The event contract: typed events, where they came from, the catalogue plugins extend, and their handlers.

A service emits an instance of an :class:`Event` subclass (``core.services.platform.events.emit``); the row joins
the caller's transaction in the outbox and, after the commit, every :class:`EventHandler` subscribed to its name
receives it once (see :mod:`core.jobs.dispatch`). Each event class names itself (``name``), its schema version
(``version``, raised when a field changes meaning or goes; adding a field keeps it) and what it is about
(``subject_type`` with the instance's ``subject_id``). Every event carries an :class:`Origin` so a handler can tell
a manager's change from an import, demo data, an API token, an automation or a provider.

Plugins add their own events through ``register_events()`` (``call_missed``, ``message_delivered``...) and
subscribe through ``register_event_handlers()``. ``docs/events.md`` documents every event (a test keeps them in
step).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from flask_babel import lazy_gettext as _l

from core.models import utcnow

ORIGIN_KINDS: tuple[str, ...] = ("user", "api", "import", "demo", "automation", "provider", "system")
"""Where a change came from: a person in the web app, an API token, an import, ``mayak demo-data``, an
automation (a rule, a recurring task), a provider plugin (a call, a message), or the system itself (a scheduled
job, the command line)."""

ALL = "*"


@dataclass(frozen=True)
class Origin:
    """Where an event came from: ``kind`` (one of :data:`ORIGIN_KINDS`), the acting user if any, and a ``detail``
    such as the API token id, the plugin name or the import batch id."""

    kind: str
    user_id: int | None = None
    detail: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ORIGIN_KINDS:
            raise ValueError(f"unknown origin {self.kind!r}; choose from {', '.join(ORIGIN_KINDS)}")

    def to_payload(self) -> dict[str, Any]:
        return {"kind": self.kind, "user_id": self.user_id, "detail": self.detail}

    @classmethod
    def from_payload(cls, data: Mapping[str, Any] | None) -> Origin:
        data = data or {}
        return cls(kind=str(data.get("kind") or "system"), user_id=data.get("user_id"),
                   detail=str(data.get("detail") or ""))


SYSTEM_ORIGIN = Origin("system")


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every event. Subclasses set the class variables and add their typed fields.

    Field types a payload can carry: ``int``, ``str``, ``bool``, ``Decimal`` (sent as a string), ``datetime``
    and ``date`` (ISO 8601), ``tuple[str, ...]``/``tuple[int, ...]`` (a JSON list), each optionally ``| None``.
    """

    name: ClassVar[str] = ""
    version: ClassVar[int] = 1
    subject_type: ClassVar[str] = ""
    description: ClassVar[Any] = ""

    subject_id: int | None
    origin: Origin
    id: int | None = None
    occurred_at: datetime = field(default_factory=utcnow)

    BASE_FIELDS: ClassVar[tuple[str, ...]] = ("subject_id", "origin", "id", "occurred_at")

    @classmethod
    def fields(cls) -> list[tuple[str, Any]]:
        """The event's own typed fields, ``(name, type)``, in declaration order (not the base ones)."""
        hints = typing.get_type_hints(cls)
        return [(f.name, hints[f.name]) for f in dataclasses.fields(cls) if f.name not in cls.BASE_FIELDS]

    def data(self) -> dict[str, Any]:
        """The own fields as JSON values."""
        return {name: _to_json(getattr(self, name)) for name, _type in self.fields()}

    def to_payload(self) -> dict[str, Any]:
        """What the outbox row stores beside the name: version, subject, origin, time and the fields."""
        return {"version": self.version, "subject_type": self.subject_type, "subject_id": self.subject_id,
                "origin": self.origin.to_payload(), "occurred_at": self.occurred_at.isoformat(),
                "data": self.data()}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], *, id: int | None = None) -> Event:
        """Rebuild the event from an outbox payload; fields the payload lacks (an older version) take their
        defaults, fields it has that the class does not know are ignored."""
        values = payload.get("data") or {}
        kwargs: dict[str, Any] = {}
        for name, kind in cls.fields():
            if name in values:
                kwargs[name] = _from_json(values[name], kind)
        occurred = payload.get("occurred_at")
        return cls(subject_id=payload.get("subject_id"), origin=Origin.from_payload(payload.get("origin")),
                   id=id, occurred_at=datetime.fromisoformat(occurred) if occurred else utcnow(), **kwargs)


def _to_json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    return value


def _from_json(value: Any, kind: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (types.UnionType, typing.Union):
        inner = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return _from_json(value, inner[0]) if len(inner) == 1 else value
    if origin is tuple:
        args = typing.get_args(kind)
        return tuple(_from_json(v, args[0]) for v in value) if args else tuple(value)
    if kind is Decimal:
        return Decimal(str(value))
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    return value


def type_label(kind: Any) -> str:
    """A type as docs/events.md and the admin page write it: ``int | None``, ``tuple[str, ...]``, ``Decimal``."""
    if typing.get_origin(kind) in (types.UnionType, typing.Union):
        return " | ".join(type_label(arg) for arg in typing.get_args(kind))
    if typing.get_origin(kind) is tuple:
        return f"tuple[{type_label(typing.get_args(kind)[0])}, ...]"
    if kind is type(None):
        return "None"
    return getattr(kind, "__name__", str(kind))


@dataclass(frozen=True)
class EventHandler:
    """A subscription: ``handle(event)`` runs once per event named in ``events`` (``("*",)``: every event).

    ``key`` identifies the handler for at-most-once delivery (prefix it with the plugin name:
    ``"webhooks.forward"``); never change it, or events already delivered are delivered again. ``origins``, when
    given, limits the handler to events of those origin kinds (``("user", "api")`` skips imports, demo data,
    automations...). The handler runs in a job after the change was committed; its database writes commit with
    its delivery record. Keep it quick and enqueue a job for slow work.
    """

    key: str
    events: tuple[str, ...]
    handle: Callable[[Event], None]
    origins: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("an event handler needs a key, e.g. 'myplugin.forward'")
        if isinstance(self.events, str):
            raise ValueError(f"handler {self.key!r}: events must be a tuple of names, not one string")
        unknown = sorted(set(self.origins or ()) - set(ORIGIN_KINDS))
        if unknown:
            raise ValueError(f"handler {self.key!r}: unknown origins {', '.join(unknown)}")

    def wants(self, event: Event) -> bool:
        return ((ALL in self.events or event.name in self.events)
                and (self.origins is None or event.origin.kind in self.origins))


# --- the core events -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class UserCreated(Event):
    name = "user_created"
    subject_type = "user"
    description = _l("A user account was created.")
    email: str


@dataclass(frozen=True, kw_only=True)
class UserDeactivated(Event):
    name = "user_deactivated"
    subject_type = "user"
    description = _l("A user account was disabled; its sessions have already ended.")
    email: str


@dataclass(frozen=True, kw_only=True)
class JobFailed(Event):
    name = "job_failed"
    subject_type = "job"
    description = _l("A background job failed for good after its last attempt.")
    job_name: str
    error: str


@dataclass(frozen=True, kw_only=True)
class ContactCreated(Event):
    name = "contact_created"
    subject_type = "contact"
    description = _l("A contact was created (by hand, the API or the inbox; imports report import_finished).")
    owner_id: int | None = None
    company_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class ContactUpdated(Event):
    name = "contact_updated"
    subject_type = "contact"
    description = _l("A contact's fields changed; changed names the fields.")
    changed: tuple[str, ...] = ()
    owner_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class ContactDeleted(Event):
    name = "contact_deleted"
    subject_type = "contact"
    description = _l("A contact went to the trash (it can be restored).")


@dataclass(frozen=True, kw_only=True)
class ContactRestored(Event):
    name = "contact_restored"
    subject_type = "contact"
    description = _l("A contact came back from the trash.")


@dataclass(frozen=True, kw_only=True)
class ContactMerged(Event):
    name = "contact_merged"
    subject_type = "contact"
    description = _l("Duplicates were merged into this contact; merged_ids went to the trash.")
    merged_ids: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ContactUnmerged(Event):
    name = "contact_unmerged"
    subject_type = "contact"
    description = _l("A merge into this contact was undone; restored_ids are back.")
    restored_ids: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ContactReassigned(Event):
    name = "contact_reassigned"
    subject_type = "contact"
    description = _l("A contact got another owner.")
    from_owner_id: int | None = None
    to_owner_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class ContactTagged(Event):
    name = "contact_tagged"
    subject_type = "contact"
    description = _l("Tags were added to a contact.")
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CompanyCreated(Event):
    name = "company_created"
    subject_type = "company"
    description = _l("A company was created.")
    owner_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class CompanyUpdated(Event):
    name = "company_updated"
    subject_type = "company"
    description = _l("A company's fields changed; changed names the fields.")
    changed: tuple[str, ...] = ()
    owner_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class CompanyDeleted(Event):
    name = "company_deleted"
    subject_type = "company"
    description = _l("A company went to the trash.")


@dataclass(frozen=True, kw_only=True)
class CompanyRestored(Event):
    name = "company_restored"
    subject_type = "company"
    description = _l("A company came back from the trash.")


@dataclass(frozen=True, kw_only=True)
class CompanyMerged(Event):
    name = "company_merged"
    subject_type = "company"
    description = _l("Duplicates were merged into this company; merged_ids went to the trash.")
    merged_ids: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CompanyUnmerged(Event):
    name = "company_unmerged"
    subject_type = "company"
    description = _l("A merge into this company was undone; restored_ids are back.")
    restored_ids: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CompanyReassigned(Event):
    name = "company_reassigned"
    subject_type = "company"
    description = _l("A company got another owner.")
    from_owner_id: int | None = None
    to_owner_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class CompanyTagged(Event):
    name = "company_tagged"
    subject_type = "company"
    description = _l("Tags were added to a company.")
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class NoteAdded(Event):
    name = "note_added"
    subject_type = "activity"
    description = _l("A note was written on a contact's or a company's timeline.")
    contact_id: int | None = None
    company_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class DealCreated(Event):
    name = "deal_created"
    subject_type = "deal"
    description = _l("A deal was created (by hand, the API or from the inbox).")
    pipeline_id: int
    stage_id: int
    owner_id: int | None = None
    contact_id: int | None = None
    company_id: int | None = None
    amount: Decimal | None = None
    currency: str = ""


@dataclass(frozen=True, kw_only=True)
class DealUpdated(Event):
    name = "deal_updated"
    subject_type = "deal"
    description = _l("A deal's fields, items or payments changed; changed names them.")
    changed: tuple[str, ...] = ()
    owner_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class DealReassigned(Event):
    name = "deal_reassigned"
    subject_type = "deal"
    description = _l("A deal got another owner.")
    from_owner_id: int | None = None
    to_owner_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class DealStageChanged(Event):
    name = "deal_stage_changed"
    subject_type = "deal"
    description = _l("A deal moved to another stage (also when a move is undone).")
    from_stage_id: int | None = None
    to_stage_id: int
    owner_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class DealWon(Event):
    name = "deal_won"
    subject_type = "deal"
    description = _l("A deal reached a won stage.")
    from_stage_id: int | None = None
    to_stage_id: int
    contact_id: int | None = None
    company_id: int | None = None
    amount: Decimal
    currency: str
    owner_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class DealLost(Event):
    name = "deal_lost"
    subject_type = "deal"
    description = _l("A deal reached a lost stage.")
    from_stage_id: int | None = None
    to_stage_id: int
    contact_id: int | None = None
    company_id: int | None = None
    lost_reason: str = ""
    owner_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class TaskCreated(Event):
    name = "task_created"
    subject_type = "task"
    description = _l("A task was set (also follow-ups and occurrences of recurring tasks).")
    owner_id: int | None = None
    due_at: datetime | None = None
    deal_id: int | None = None
    contact_id: int | None = None
    company_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class TaskUpdated(Event):
    name = "task_updated"
    subject_type = "task"
    description = _l("A task's fields changed, or it was reopened or cancelled; changed names the fields.")
    changed: tuple[str, ...] = ()
    owner_id: int | None = None
    status: str = ""


@dataclass(frozen=True, kw_only=True)
class TaskReassigned(Event):
    name = "task_reassigned"
    subject_type = "task"
    description = _l("A task got another owner.")
    from_owner_id: int | None = None
    to_owner_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class TaskCompleted(Event):
    name = "task_completed"
    subject_type = "task"
    description = _l("A task was done.")
    owner_id: int | None = None
    deal_id: int | None = None
    contact_id: int | None = None
    company_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class TaskDeleted(Event):
    name = "task_deleted"
    subject_type = "task"
    description = _l("A task was deleted.")
    owner_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class TaskOverdue(Event):
    name = "task_overdue"
    subject_type = "task"
    description = _l("An open task passed its due time (once per task, by a scheduled job).")
    owner_id: int | None = None
    due_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class InboxItemReceived(Event):
    name = "inbox_item_received"
    subject_type = "inbox_item"
    description = _l("A call, email, form post or message arrived in the inbox.")
    channel: str
    source: str = ""
    status: str = ""
    proposal: str = ""
    contact_id: int | None = None
    deal_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class InboxItemAccepted(Event):
    name = "inbox_item_accepted"
    subject_type = "inbox_item"
    description = _l("An inbox item was taken into work: attached to a deal or made a new lead.")
    status: str = ""
    contact_id: int | None = None
    deal_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class InboxItemUpdated(Event):
    name = "inbox_item_updated"
    subject_type = "inbox_item"
    description = _l("A later event about an inbox item changed it (a call answered, ended, recorded).")
    state: str = ""
    changed: tuple[str, ...] = ()
    status: str = ""
    contact_id: int | None = None
    deal_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class InboxItemRejected(Event):
    name = "inbox_item_rejected"
    subject_type = "inbox_item"
    description = _l("An inbox item was rejected (spam, a mistake...).")
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class LeadAssigned(Event):
    name = "lead_assigned"
    subject_type = "deal"
    description = _l("A new lead or deal from the inbox got its manager.")
    item_id: int
    contact_id: int | None = None
    owner_id: int | None = None
    rule_id: int | None = None
    task_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class CallStarted(Event):
    name = "call_started"
    subject_type = "call"
    description = _l("A call began to ring: a client calling in, or a manager's click-to-call.")
    direction: str
    provider: str = ""
    client_number: str | None = None
    user_id: int | None = None
    extension: str = ""
    contact_id: int | None = None
    company_id: int | None = None
    deal_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class CallAnswered(Event):
    name = "call_answered"
    subject_type = "call"
    description = _l("Somebody answered a call: the manager for an incoming call, the client for an outgoing one.")
    direction: str
    user_id: int | None = None
    extension: str = ""
    contact_id: int | None = None
    wait_seconds: int | None = None


@dataclass(frozen=True, kw_only=True)
class CallEnded(Event):
    name = "call_ended"
    subject_type = "call"
    description = _l("A call ended, with its outcome (answered, missed, no_answer, busy, failed) and talk time.")
    direction: str
    outcome: str
    user_id: int | None = None
    contact_id: int | None = None
    company_id: int | None = None
    deal_id: int | None = None
    wait_seconds: int | None = None
    talk_seconds: int | None = None


@dataclass(frozen=True, kw_only=True)
class CallMissed(Event):
    name = "call_missed"
    subject_type = "call"
    description = _l("An incoming call from a client ended unanswered; the call-back task is named when one was set.")
    client_number: str | None = None
    user_id: int | None = None
    contact_id: int | None = None
    task_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class RecordingReady(Event):
    name = "recording_ready"
    subject_type = "call"
    description = _l("A call's recording was downloaded into the CRM's file storage.")
    attachment_id: int
    contact_id: int | None = None
    company_id: int | None = None
    duration: int | None = None


@dataclass(frozen=True, kw_only=True)
class ImportFinished(Event):
    name = "import_finished"
    subject_type = "import_batch"
    description = _l("An import batch finished (once per batch; its rows emit no events of their own).")
    rows: int = 0
    created: int = 0
    updated: int = 0
    merged: int = 0
    skipped: int = 0
    failed: int = 0
    flagged: int = 0


@dataclass(frozen=True, kw_only=True)
class ImportUndone(Event):
    name = "import_undone"
    subject_type = "import_batch"
    description = _l("An import batch was undone: its new contacts went to the trash, its updates were reverted.")
    deleted: int = 0
    restored: int = 0
    deleted_companies: int = 0


CORE_EVENTS: tuple[type[Event], ...] = (
    UserCreated, UserDeactivated, JobFailed,
    ContactCreated, ContactUpdated, ContactDeleted, ContactRestored, ContactMerged, ContactUnmerged,
    ContactReassigned, ContactTagged,
    CompanyCreated, CompanyUpdated, CompanyDeleted, CompanyRestored, CompanyMerged, CompanyUnmerged,
    CompanyReassigned, CompanyTagged,
    NoteAdded,
    DealCreated, DealUpdated, DealReassigned, DealStageChanged, DealWon, DealLost,
    TaskCreated, TaskUpdated, TaskReassigned, TaskCompleted, TaskDeleted, TaskOverdue,
    InboxItemReceived, InboxItemUpdated, InboxItemAccepted, InboxItemRejected, LeadAssigned,
    CallStarted, CallAnswered, CallEnded, CallMissed, RecordingReady,
    ImportFinished, ImportUndone,
)

EVENTS: dict[str, type[Event]] = {cls.name: cls for cls in CORE_EVENTS}
"""The core catalogue, name → class. The app's catalogue adds the plugins' events
(``core.plugins.facades.event_catalogue()``)."""


def build_catalogue(extra: Iterable[Any]) -> dict[str, type[Event]]:
    """The core catalogue plus the events plugins register; raises ``ValueError`` for a class that is not an
    event, has no name, or takes a name already in use."""
    catalogue = dict(EVENTS)
    for cls in extra:
        if not (isinstance(cls, type) and issubclass(cls, Event) and dataclasses.is_dataclass(cls)):
            raise ValueError(f"{cls!r} is not an Event dataclass (subclass Event, decorate with @dataclass)")
        if not cls.name or not cls.subject_type:
            raise ValueError(f"{cls.__name__} needs the class variables name and subject_type")
        if cls.name in catalogue and catalogue[cls.name] is not cls:
            raise ValueError(f"event {cls.name!r} is declared twice ({catalogue[cls.name].__name__}, {cls.__name__})")
        catalogue[cls.name] = cls
    return catalogue


__all__ = [
    "ALL",
    "CORE_EVENTS",
    "EVENTS",
    "ORIGIN_KINDS",
    "SYSTEM_ORIGIN",
    "CallAnswered",
    "CallEnded",
    "CallMissed",
    "CallStarted",
    "CompanyCreated",
    "CompanyDeleted",
    "CompanyMerged",
    "CompanyReassigned",
    "CompanyRestored",
    "CompanyTagged",
    "CompanyUnmerged",
    "CompanyUpdated",
    "ContactCreated",
    "ContactDeleted",
    "ContactMerged",
    "ContactReassigned",
    "ContactRestored",
    "ContactTagged",
    "ContactUnmerged",
    "ContactUpdated",
    "DealCreated",
    "DealLost",
    "DealReassigned",
    "DealStageChanged",
    "DealUpdated",
    "DealWon",
    "Event",
    "EventHandler",
    "ImportFinished",
    "ImportUndone",
    "InboxItemAccepted",
    "InboxItemReceived",
    "InboxItemRejected",
    "InboxItemUpdated",
    "JobFailed",
    "LeadAssigned",
    "NoteAdded",
    "Origin",
    "RecordingReady",
    "TaskCompleted",
    "TaskCreated",
    "TaskDeleted",
    "TaskOverdue",
    "TaskReassigned",
    "TaskUpdated",
    "UserCreated",
    "UserDeactivated",
    "build_catalogue",
    "type_label",
]
