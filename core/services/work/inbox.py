"""The inbox of incoming work: the one service telephony, mail, messenger and form plugins call.

:func:`receive` stores an item once per ``(source, idempotency_key)`` and matches it by normalised phone and
email: a client with an open deal gets the item on that deal's timeline at once and the deal's owner is told; a
known client without an open deal gets a new deal proposed for their owner; anyone else becomes a proposed lead.
Operators then :func:`accept` (create or attach), attach it to another deal, or :func:`reject` it with a reason.
Channels set to auto-accept skip the waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.db import db, savepoint
from core.models import ChannelSetting, Contact, Deal, Email, InboxItem, Phone, Pipeline, Stage, User, utcnow
from core.plugins import provider_facades
from core.plugins.events import (
    ContactCreated,
    InboxItemAccepted,
    InboxItemReceived,
    InboxItemRejected,
    InboxItemUpdated,
    LeadAssigned,
    Origin,
)
from core.plugins.facades import default_phone_region
from core.services.clients import client_fields, phones, timeline
from core.services.platform import audit, emails, events, notifications
from core.services.platform.access import (
    AccessDenied,
    as_submitter,
    can,
    filter_query,
    filter_submitted,
    require,
    scope_for,
)
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.services.platform.text import N_, clean
from core.services.work import assignment, deals

ENTITY = "inbox"
DEFAULT_FOLLOW_UP_MINUTES = 15
MAX_KEY = 200  # the idempotency_key column
SORTED_LISTENERS: list[Callable[[InboxItem], None]] = []
"""Called with an item once it is attached to a deal or accepted as a lead, in the same transaction, before the
new lead's follow-up task is set: services above the inbox that own the thing behind an item (telephony's call)
link it to the client and deal sorting found. Registered at import by those services."""


def timeline_kind_of(channel: str) -> str:
    """The timeline kind an accepted request of ``channel`` writes (its :class:`ChannelSpec` says)."""
    spec = provider_facades.channel(channel)
    return spec.timeline_kind if spec is not None else "note"


SUBMITTER = "lead"  # the entity of external contact centres: leads they submitted, seen as submitted


@dataclass(frozen=True)
class SubmittedItem:
    """An inbox item as its external submitter sees it: what was sent, nothing learned after.

    Matching tells whether the phone belongs to a client, who manages them and whether a deal is open, so a
    contact centre that saw the sorted item could probe the client base with made-up leads. The fields that
    come from sorting exist here only as blanks, so any page, partial or API body built from this shows none.
    """

    id: int
    channel: str
    name: str
    phone: str
    email: str
    subject: str
    body: str
    utm: dict[str, Any]
    received_at: datetime
    status: str = "submitted"
    proposal: str = ""
    reject_reason: str = ""
    contact_id: None = None
    deal_id: None = None
    owner_id: None = None
    form_id: None = None


def as_submitted(item: InboxItem) -> SubmittedItem:
    return SubmittedItem(id=item.id, channel=item.channel, name=item.name, phone=item.phone, email=item.email,
                         subject=item.subject, body=item.body, utm=dict(item.utm or {}),
                         received_at=item.received_at)


def present(actor: Actor, item: InboxItem) -> InboxItem | SubmittedItem:
    """``item`` as ``actor`` may see it: whole for those who sort the inbox, as submitted for its submitter."""
    return as_submitted(item) if as_submitter(actor.user, ENTITY, SUBMITTER, item) else item


@dataclass(frozen=True, kw_only=True)
class IncomingItem:
    """One incoming call, message, mail or form post, as a provider or a form hands it to :func:`receive`.

    ``external_id`` is the sender's id of the thing (a call id, a message id) or an ``Idempotency-Key``: unique per
    ``source``. ``state`` (the provider's word: ``ringing``, ``answered``, ``ended``, ``recording``, ``delivered``...)
    and ``occurred_at`` (when that happened, by the provider's clock) make it an *event* about the thing: later
    events with the same ``(source, external_id)`` update the same item instead of being refused as repeats.
    """

    channel: str
    source: str = "core"
    external_id: str | None = None
    name: str = ""
    phone: str = ""
    email: str = ""
    subject: str = ""
    body: str = ""
    utm: Mapping[str, Any] = field(default_factory=dict)
    fields: Mapping[str, Any] = field(default_factory=dict)
    pipeline_id: int | None = None
    form_id: int | None = None
    ip: str | None = None
    submitted_by_id: int | None = None
    rejected_reason: str = ""
    state: str = ""
    occurred_at: datetime | None = None

    @property
    def is_event(self) -> bool:
        return bool(self.state) or self.occurred_at is not None


class ReceiveResult(NamedTuple):
    """What :func:`receive` did: the item, whether this delivery stored it, whether it changed a stored one."""

    item: InboxItem
    created: bool
    updated: bool = False


def receive(incoming: IncomingItem) -> ReceiveResult:
    """Store an incoming call/email/form post/message and sort it, in the caller's unit of work.

    Once per ``(source, external_id)``:

    * a first delivery stores the item and sorts it (``created``); ``rejected_reason`` keeps a refused submission
      (spam) visible with its reason instead of dropping it;
    * a repeat of a plain submission (no ``state``, no ``occurred_at``) returns the stored item unchanged, and
      :class:`KeyReused` when the same key came with something else;
    * a later *event* updates the stored item (``updated``), in whatever order the events arrive. The rules: the
      item's ``state`` is the state of the newest fact by ``occurred_at`` (a late "ringing" never overwrites
      "ended"; at the same moment the later arrival wins); name, phone, email, subject and body only fill in
      what is still blank; a ``fields`` or ``utm`` key fills in when missing and is replaced only by a newer
      fact; the item's ``occurred_at`` is the newest fact's. An item still waiting to be sorted is matched again
      when an event brings the phone or email it lacked. Each update is audited.

    A delivery racing another one with the same key meets it at the unique key inside a SAVEPOINT: the loser
    merges into the winner's item and nothing else of the caller's unit of work is undone.
    """
    if incoming.channel not in provider_facades.channel_keys():
        raise ValueError(f"unknown channel {incoming.channel!r}; "
                         f"use one of {', '.join(provider_facades.channel_keys())}")
    key = idempotency_key_of(incoming.external_id)
    source = incoming.source[:60]
    submitted = submitted_content(name=incoming.name, phone=incoming.phone, email=incoming.email,
                                  subject=incoming.subject, body=incoming.body, fields=dict(incoming.fields))
    if key is not None:
        stored = existing(source, key)
        if stored is not None:
            return _again(stored, incoming, submitted)
    parsed_phone = phones.parse(incoming.phone, default_phone_region()) if incoming.phone.strip() else None
    item = InboxItem(channel=incoming.channel, source=source, idempotency_key=key, **submitted,
                     phone_e164=parsed_phone.e164 if parsed_phone else None, utm=dict(incoming.utm),
                     pipeline_id=incoming.pipeline_id or _default_pipeline_id(), form_id=incoming.form_id,
                     ip=incoming.ip, submitted_by_id=incoming.submitted_by_id, state=clean(incoming.state, 40),
                     occurred_at=_aware(incoming.occurred_at) or (utcnow() if incoming.is_event else None))
    try:
        with savepoint():
            db.session.add(item)
    except IntegrityError:  # the same delivery was stored by another worker a moment ago
        stored = existing(source, key) if key is not None else None
        if stored is None:
            raise
        return _again(stored, incoming, submitted)
    source, submitted_by_id = incoming.source, incoming.submitted_by_id
    if incoming.rejected_reason:
        item.status, item.reject_reason = "rejected", clean(incoming.rejected_reason, 200)
        item.decided_at = utcnow()
    else:
        _match(item, sorter(incoming))
    events.emit(InboxItemReceived(subject_id=item.id, origin=origin_of(source, submitted_by_id),
                                  channel=item.channel, source=item.source, status=item.status,
                                  proposal=item.proposal or "", contact_id=item.contact_id, deal_id=item.deal_id))
    if item.status == "new" and auto_accepts(item.channel):
        actor = sorter(incoming)
        _accept(actor, item, None)
        audit.record(actor, "inbox.accepted", ENTITY, item.id,
                     {"deal_id": item.deal_id, "status": item.status, "automatic": True, "source": item.source})
        events.emit(InboxItemAccepted(subject_id=item.id, origin=actor.origin, status=item.status,
                                      contact_id=item.contact_id, deal_id=item.deal_id))
    db.session.flush()
    return ReceiveResult(item, True, False)


def _aware(moment: datetime | None) -> datetime | None:
    """A provider's time without a zone is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def sorter(incoming: IncomingItem) -> Actor:
    """Who sorts an item automatically (matching, attaching, auto-accepting): the provider or form that sent it,
    as the audit log names it."""
    return Actor(user=None, ip=incoming.ip, via="provider", detail=incoming.source[:60])


def _again(item: InboxItem, incoming: IncomingItem, submitted: dict[str, Any]) -> ReceiveResult:
    """A delivery for an item stored before: a plain repeat, or an event that updates it (see :func:`receive`)."""
    if not incoming.is_event:
        stored = {name: getattr(item, name) for name in submitted}
        stored["fields"] = dict(stored["fields"] or {})
        if stored != submitted:
            raise KeyReused
        return ReceiveResult(item, False, False)
    return ReceiveResult(item, False, _merge(item, incoming, submitted))


def _merge(item: InboxItem, incoming: IncomingItem, submitted: dict[str, Any]) -> bool:
    occurred = _aware(incoming.occurred_at) or utcnow()
    newer = item.occurred_at is None or occurred >= item.occurred_at
    changes: dict[str, Any] = {}
    for name in ("name", "phone", "email", "subject", "body"):
        if submitted[name] and not getattr(item, name):
            changes[name] = [getattr(item, name), submitted[name]]
            setattr(item, name, submitted[name])
    for name, incoming_map in (("fields", submitted["fields"]), ("utm", dict(incoming.utm))):
        merged = dict(getattr(item, name) or {})
        for key_, value in incoming_map.items():
            if key_ not in merged or (newer and merged[key_] != value):
                merged[key_] = value
        if merged != (getattr(item, name) or {}):
            changes[name] = True
            setattr(item, name, merged)
    state = clean(incoming.state, 40)
    if state and newer and state != item.state:
        changes["state"] = [item.state, state]
        item.state = state
    if newer and occurred != item.occurred_at:
        item.occurred_at = occurred
    if "phone" in changes:
        parsed = phones.parse(item.phone, default_phone_region())
        item.phone_e164 = parsed.e164 if parsed else None
    if not changes:
        return False
    actor = sorter(incoming)
    if item.status == "new" and item.contact_id is None and ("phone" in changes or "email" in changes):
        _match(item, actor)
    audit.record(actor, "inbox.updated", ENTITY, item.id, {"source": item.source, **changes})
    events.emit(InboxItemUpdated(subject_id=item.id, origin=origin_of(incoming.source, incoming.submitted_by_id),
                                 state=item.state, changed=tuple(sorted(changes)), status=item.status,
                                 contact_id=item.contact_id, deal_id=item.deal_id))
    db.session.flush()
    return True


def origin_of(source: str, submitted_by_id: int | None) -> Origin:
    """Where an inbox item came from, by its source: ``api:<user>`` an API token, ``manual:<user>`` a person typing
    it in, anything else (a website's lead form ``form:<id>``, a telephony or mail plugin) from outside."""
    prefix = source.partition(":")[0]
    if prefix == "api":
        return Origin("api", user_id=submitted_by_id, detail=source)
    if prefix == "manual" or (submitted_by_id is not None and prefix == "form"):
        return Origin("user", user_id=submitted_by_id, detail=source)
    return Origin("provider", detail=source)


def idempotency_key_of(value: Any) -> str | None:
    """The delivery's key exactly as sent (``None`` when blank). A key is never cut: two deliveries whose keys share
    their first 200 characters are different deliveries, so a longer key, one that is not text or one with control
    characters is refused (:class:`InvalidInput`) instead of merging them."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_KEY or not value.isprintable() or not value.strip():
        raise InvalidInput({"idempotency_key": _l("Send the Idempotency-Key as text of 1 to %(n)d printable "
                                                  "characters.", n=MAX_KEY)})
    return value


class KeyReused(ValueError):
    """The Idempotency-Key of an earlier delivery came with a different request: answering with the earlier item
    would silently drop this lead, storing it would break the key's promise, so the sender must use a new key."""

    def __init__(self) -> None:
        super().__init__(str(KEY_REUSED))
        self.message = KEY_REUSED


KEY_REUSED = _l("This Idempotency-Key was used for a different request; use a new key.")


def submitted_content(*, name: str = "", phone: str = "", email: str = "", subject: str = "", body: str = "",
               fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a delivery submitted, as the item stores it: what a repeat of the same key is compared with."""
    parsed_email = emails.parse(email) if email.strip() else None
    return {"name": clean(name, 300), "phone": clean(phone, 60),
            "email": parsed_email.normalized if parsed_email and parsed_email.valid else clean(email, 254),
            "subject": clean(subject, 300), "body": str(body or "")[:20000], "fields": dict(fields or {})}


def repeat_of(source: str, key: str, submitted: dict[str, Any]) -> InboxItem | None:
    """The item an earlier delivery with this ``(source, key)`` stored when this one submits the same (see
    :func:`_submitted`); ``None`` for a new key; :class:`KeyReused` when the key came with something else."""
    earlier = existing(source, key)
    if earlier is None:
        return None
    stored = {name: getattr(earlier, name) for name in submitted}
    stored["fields"] = dict(stored["fields"] or {})
    if stored != submitted:
        raise KeyReused
    return earlier


def existing(source: str, key: str) -> InboxItem | None:
    """The item an earlier delivery with this ``(source, key)`` stored, if any."""
    return db.session.scalar(select(InboxItem).where(InboxItem.source == source[:60],
                                                     InboxItem.idempotency_key == key))


def _default_pipeline_id() -> int | None:
    return db.session.scalar(select(Pipeline.id).where(Pipeline.archived.is_(False))
                             .order_by(Pipeline.position, Pipeline.id).limit(1))


def find_client(phone_e164: str | None, email: str) -> Contact | None:
    """The live contact with this phone (first) or email, the oldest when several share it."""
    if phone_e164:
        contact = db.session.scalar(select(Contact).join(Phone, Phone.contact_id == Contact.id)
                                    .where(Phone.e164 == phone_e164, Contact.deleted_at.is_(None))
                                    .order_by(Contact.id).limit(1))
        if contact is not None:
            return contact
    if email:
        return db.session.scalar(select(Contact).join(Email, Email.contact_id == Contact.id)
                                 .where(Email.normalized == email.lower(), Contact.deleted_at.is_(None))
                                 .order_by(Contact.id).limit(1))
    return None


def open_deal_of(contact: Contact) -> Deal | None:
    return db.session.scalar(select(Deal).join(Stage, Stage.id == Deal.stage_id)
                             .where(Deal.contact_id == contact.id, Deal.deleted_at.is_(None), Stage.kind == "open")
                             .order_by(Deal.updated_at.desc(), Deal.id.desc()).limit(1))


def _match(item: InboxItem, actor: Actor) -> None:
    contact = find_client(item.phone_e164, item.email)
    if contact is None:
        item.proposal = "new_lead"
        return
    item.contact_id = contact.id
    deal = open_deal_of(contact)
    if deal is None:
        item.proposal, item.owner_id = "new_deal", contact.owner_id
        return
    item.proposal = "attach"
    _attach(actor, item, deal)
    audit.record(actor, "inbox.attached", ENTITY, item.id,
                 {"deal_id": deal.id, "contact_id": item.contact_id, "automatic": True, "source": item.source})


def _attach(actor: Actor, item: InboxItem, deal: Deal) -> None:
    item.status, item.deal_id, item.owner_id = "attached", deal.id, deal.owner_id
    item.contact_id = item.contact_id or deal.contact_id
    item.decided_by_id, item.decided_at = actor.user_id, utcnow()
    if deal.contact_id or deal.company_id:
        timeline.record(kind=timeline_kind_of(item.channel), contact_id=deal.contact_id,
                        company_id=deal.company_id, title=item.subject or item.name,
                        body=item.body, data={"inbox_item_id": item.id, "deal_id": deal.id, "channel": item.channel},
                        source="inbox", external_id=f"inbox:{item.id}")
    _sorted(item)
    if deal.owner_id:
        notifications.notify([deal.owner_id], N_("New request from your client on the deal %(title)s"),
                             params={"title": deal.title}, link=f"/deals/{deal.id}")


def auto_accepts(channel: str) -> bool:
    setting = db.session.get(ChannelSetting, channel)
    return bool(setting and setting.auto_accept)


def set_auto_accept(actor: Actor, channel: str, value: bool) -> None:
    require(actor.user, "edit", "inbox_settings")
    if channel not in provider_facades.channel_keys():
        raise InvalidInput({"channel": _l("Choose how the request came in.")})
    setting = db.session.get(ChannelSetting, channel) or ChannelSetting(channel=channel)
    setting.auto_accept = value
    db.session.add(setting)
    audit.record(actor, "inbox.auto_accept", "inbox_settings", channel, {"auto_accept": value})
    db.session.flush()


def may_view(actor: Actor) -> bool:
    """Sorters see the inbox (``inbox``), contact centres what they submitted (``lead``)."""
    return (can(actor.user, "view", ENTITY) or can(actor.user, "view", SUBMITTER)
            or can(actor.user, "submit", SUBMITTER))


def require_view(actor: Actor) -> None:
    if not may_view(actor):
        require(actor.user, "view", ENTITY)


def get(actor: Actor, item_id: int, action: str = "edit") -> InboxItem:
    """The item to sort (``action`` on the inbox itself); submitters read theirs through :func:`view`."""
    item = db.session.get(InboxItem, item_id)
    if item is None:
        raise LookupError(item_id)
    require(actor.user, action, ENTITY, item)
    return item


def view(actor: Actor, item_id: int) -> InboxItem | SubmittedItem:
    """One item as ``actor`` may see it (:func:`present`); :class:`LookupError` when missing, ``AccessDenied``
    when neither sorted by nor submitted by them."""
    item = db.session.get(InboxItem, item_id)
    if item is None:
        raise LookupError(item_id)
    if as_submitter(actor.user, ENTITY, SUBMITTER, item):
        return as_submitted(item)
    require(actor.user, "view", ENTITY, item)
    return item


def shows_as_submitted(actor: Actor) -> bool:
    """Does ``actor`` see the inbox only as the list of what they submitted (no statuses, no sorting)?"""
    return as_submitter(actor.user, ENTITY, SUBMITTER)


def listing(actor: Actor, status: str = "new", *, before_id: int | None = None,
            limit: int = 50) -> list[InboxItem] | list[SubmittedItem]:
    """Inbox items with ``status`` the actor may see, newest first. An external contact centre gets what it
    submitted, as submitted, whatever ``status`` asks (the status is what sorting learned); anyone else nothing."""
    stmt = select(InboxItem)
    if before_id:
        stmt = stmt.where(InboxItem.id < before_id)
    if not can(actor.user, "view", ENTITY):
        stmt = filter_submitted(actor.user, SUBMITTER, stmt, InboxItem.submitted_by_id)
        return [as_submitted(i) for i in db.session.scalars(stmt.order_by(InboxItem.id.desc()).limit(limit))]
    stmt = _visible(actor, stmt.where(InboxItem.status == status))
    return list(db.session.scalars(stmt.order_by(InboxItem.id.desc()).limit(limit)))


def _visible(actor: Actor, stmt: Any) -> Any:
    """Items proposed to someone follow the owner's scope; unassigned ones are for those who sort for a team or
    everyone (a salesperson with the own scope sees only what is proposed to them)."""
    from sqlalchemy import or_

    scope = scope_for(actor.user, "view", ENTITY)
    if scope == "all":
        return stmt
    scoped = filter_query(actor.user, "view", ENTITY, select(InboxItem.id), InboxItem.owner_id)
    if scope == "team":
        return stmt.where(or_(InboxItem.owner_id.is_(None), InboxItem.id.in_(scoped)))
    return stmt.where(InboxItem.id.in_(scoped))



def accept(actor: Actor, item: InboxItem, *, deal_id: int | None = None) -> InboxItem:
    """Sort an item: attach it to ``deal_id`` (merge into that deal) or the client's open deal, or create the
    proposed deal or lead and assign it."""
    require(actor.user, "edit", ENTITY, item)
    if item.status != "new":
        raise InvalidInput({"status": _l("This request is already sorted.")})
    target = None
    if deal_id is not None:
        try:
            target = deals.get(actor, int(deal_id))
        except (LookupError, ValueError, TypeError, AccessDenied):  # a deal the actor may not see is no deal
            raise InvalidInput({"deal_id": _l("Choose a deal you can see.")}) from None
    _accept(actor, item, target)
    audit.record(actor, "inbox.accepted", ENTITY, item.id, {"deal_id": item.deal_id, "status": item.status})
    events.emit(InboxItemAccepted(subject_id=item.id, origin=actor.origin, status=item.status,
                                  contact_id=item.contact_id, deal_id=item.deal_id))
    db.session.flush()
    return item


def _accept(actor: Actor, item: InboxItem, target: Deal | None) -> None:
    if target is not None:
        _attach(actor, item, target)
        return
    contact = db.session.get(Contact, item.contact_id) if item.contact_id else None
    if contact is not None and contact.deleted_at is None:
        deal = open_deal_of(contact)
        if deal is not None:
            _attach(actor, item, deal)
            return
    rule = None
    owner_id = contact.owner_id if contact is not None else None
    if owner_id is None or not _active(owner_id):
        rule = assignment.matching_rule(item.pipeline_id, item.channel)
        owner_id = assignment.pick(rule) if rule is not None else None
    if owner_id is None and actor.user is not None:
        owner_id = actor.user_id  # no rule applies: whoever sorted it takes it
    if contact is None:
        contact = _new_contact(item, owner_id)
        events.emit(ContactCreated(subject_id=contact.id, origin=actor.origin, owner_id=owner_id))
        audit.record(actor, "contact.created", "contact", contact.id,
                     {"first_name": contact.first_name, "last_name": contact.last_name, "owner_id": owner_id,
                      "inbox_item": item.id})
    deal = _new_deal(item, contact, owner_id, actor)
    item.status, item.deal_id, item.contact_id, item.owner_id = "accepted", deal.id, contact.id, owner_id
    item.decided_by_id, item.decided_at = actor.user_id, utcnow()
    if contact is not None:
        timeline.record(kind=timeline_kind_of(item.channel), contact_id=contact.id,
                        title=item.subject or item.name, body=item.body,
                        data={"inbox_item_id": item.id, "deal_id": deal.id, "channel": item.channel},
                        source="inbox", external_id=f"inbox:{item.id}")
    _sorted(item)
    task_id = None
    minutes = rule.follow_up_minutes if rule is not None else DEFAULT_FOLLOW_UP_MINUTES
    if owner_id is not None and minutes and not _open_task_for(deal.id):
        from core.services.work.tasks import create_system_task

        task = create_system_task(title=str(_l("Call back: %(name)s", name=item.name or item.phone or item.email)),
                                  owner_id=owner_id, due_at=utcnow() + timedelta(minutes=minutes),
                                  contact_id=contact.id, deal_id=deal.id, actor=actor)
        task_id = task.id
    if owner_id is not None:
        notifications.notify([owner_id], N_("A new lead is yours: %(title)s"), params={"title": deal.title},
                             link=f"/deals/{deal.id}", level="success")
    events.emit(LeadAssigned(subject_id=deal.id, origin=actor.origin, item_id=item.id, contact_id=contact.id,
                             owner_id=owner_id, rule_id=rule.id if rule is not None else None, task_id=task_id))


def _sorted(item: InboxItem) -> None:
    db.session.flush()
    for listener in SORTED_LISTENERS:
        listener(item)


def _open_task_for(deal_id: int) -> bool:
    """Whether the new deal already has an open task (a missed call's "call back", linked to it by a sorting
    listener): no second follow-up then."""
    from core.models import Task

    return db.session.scalar(select(Task.id).where(Task.deal_id == deal_id, Task.status == "open",
                                                   Task.deleted_at.is_(None)).limit(1)) is not None


def _active(user_id: int) -> bool:
    user = db.session.get(User, user_id)
    return user is not None and user.is_active


def _new_contact(item: InboxItem, owner_id: int | None) -> Contact:
    from core.services.clients.contacts import refresh_search_keys

    errors: dict[str, Any] = {}
    first, _, last = (item.name or "").partition(" ")
    contact = Contact(first_name=clean(first, 100), last_name=clean(last, 100), owner_id=owner_id,
                      team_id=client_fields.team_of(owner_id),
                      source=str(item.utm.get("utm_source") or item.channel)[:120])
    contact.phones = client_fields.build_phones([{"raw": item.phone}], errors, keep_unparsed=True)
    contact.emails = [e for e in client_fields.build_emails([{"address": item.email}], errors) if e.valid]
    refresh_search_keys(contact)
    db.session.add(contact)
    db.session.flush()
    return contact


def _new_deal(item: InboxItem, contact: Contact, owner_id: int | None, actor: Actor) -> Deal:
    pipeline = db.session.get(Pipeline, item.pipeline_id) if item.pipeline_id else None
    if pipeline is None or not pipeline.stages:
        pipeline = deals.ensure_default_pipeline()
    who = item.name or contact.first_name or item.phone or item.email
    title = item.subject or str(_l("Request from %(name)s", name=who))
    deal = Deal(title=clean(title, 300), pipeline_id=pipeline.id, stage_id=pipeline.stages[0].id,
                currency=pipeline.currency, contact_id=contact.id, owner_id=owner_id,
                team_id=client_fields.team_of(owner_id), channel=item.channel,
                source=str(item.utm.get("utm_campaign") or item.utm.get("utm_source") or "")[:120],
                utm=item.utm, notes=item.body)
    db.session.add(deal)
    db.session.flush()
    deals.record_created(actor, deal)
    return deal


def reject(actor: Actor, item: InboxItem, reason: str) -> InboxItem:
    require(actor.user, "edit", ENTITY, item)
    why = clean(reason, 200)
    if not why:
        raise InvalidInput({"reason": _l("Say why the request is rejected, such as 'spam'.")})
    if item.status != "new":
        raise InvalidInput({"status": _l("This request is already sorted.")})
    item.status, item.reject_reason = "rejected", why
    item.decided_by_id, item.decided_at = actor.user_id, utcnow()
    audit.record(actor, "inbox.rejected", ENTITY, item.id, {"reason": why})
    events.emit(InboxItemRejected(subject_id=item.id, origin=actor.origin, reason=why))
    db.session.flush()
    return item
