"""Calls folded from a provider's events, and everything the CRM does when one rings, is answered or is missed.

A provider plugin turns each webhook into :class:`CallEvent` items and hands them to :func:`record_events`, in the
caller's unit of work. Events may come twice, late or out of order (webhooks are retried, jobs run in parallel);
folding is built for that:

* one :class:`Call` per ``(provider, call id)`` (or per click-to-call ``reference``), created once even when two
  deliveries race, and read under a row lock so two workers never fold into the same call at once;
* times only move the way time goes: the first ring, the first answer, the last end; the state follows from them
  (ended beats answered beats ringing), so a late "ringing" never reopens an ended call;
* what happens on a transition happens once: the ``call_*`` events, the entry on the client's timeline, the inbox
  item, the "call back" task for a missed call (one per client however many times they tried, closed by the call
  that reaches them).

Whom a call is about: the client's number (E.164) finds the contact, else the company, and the contact's open
deal. Extension-to-extension calls and calls from the company's own numbers are nobody's client and never a lead.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core import jobs
from core.db import db, savepoint
from core.models import Call, Company, Contact, InboxItem, OwnNumber, Phone, Task, utcnow
from core.plugins.events import CallAnswered, CallEnded, CallMissed, CallStarted, Origin
from core.plugins.facades import default_phone_region
from core.plugins.providers import CallDirection, CallEvent, CallState
from core.services.clients import files, phones, timeline
from core.services.platform import events
from core.services.platform.context import Actor
from core.services.platform.text import clean
from core.services.users.directory import by_extension, by_id
from core.services.work import assignment, inbox, tasks

log = logging.getLogger(__name__)

RECORDING_JOB = "core.fetch_recording"
SOURCE = "telephony"  # the timeline's source of a call's entry when no inbox item carries it
CALLBACK_MINUTES = 15  # a missed call's "call back" task is due this soon (an assignment rule may say otherwise)
MATCH_OUTBOUND_SECONDS = 120  # a provider that does not echo our reference names a click-to-call this soon
_EXTENSION = re.compile(r"\d{1,6}")  # what a PBX's internal number looks like: never a client's phone
AUDIO_EXTENSIONS = {"audio/mpeg": ".mp3", "audio/wav": ".wav", "audio/ogg": ".ogg"}
_ORDER = {"dialing": 0, "ringing": 1, "answered": 2, "ended": 3, "missed": 3}


def record_events(provider: str, call_events: Iterable[CallEvent]) -> list[Call]:
    """Fold ``call_events`` from ``provider`` (its key, ``zadarma``) into calls, in the caller's unit of work;
    returns the calls touched. Safe to call again with the same events (a replayed webhook changes nothing)."""
    touched: dict[int, Call] = {}
    usable = [cleaned for cleaned in map(_cleaned, call_events) if cleaned is not None]
    ordered = sorted(usable, key=lambda e: (e.call_id, e.sequence if e.sequence is not None else -1,
                                            _aware(e.occurred_at)))
    for event in ordered:
        call = apply(provider, event)
        touched[call.id] = call
    return list(touched.values())


def _cleaned(event: CallEvent) -> CallEvent | None:
    """The event with its ids and words as the database can keep them (a provider's id with a control character —
    a NUL PostgreSQL refuses — or an over-long one is cut to what it can hold); ``None`` for an event without a
    usable call id, which is skipped and logged rather than failing the whole delivery again and again."""
    call_id = clean(event.call_id, 200)
    if not call_id:
        log.warning("a call event without a usable call id was skipped: %r", event.call_id[:100])
        return None
    return replace(event, call_id=call_id, leg_id=clean(event.leg_id, 100) or None if event.leg_id else None,
                   reference=clean(event.reference, 64) or None if event.reference else None,
                   extension=clean(event.extension, 20) or None if event.extension else None,
                   reason=clean(event.reason, 200) or None if event.reason else None)


def apply(provider: str, event: CallEvent) -> Call:
    """Fold one event into its call (see the module's docstring)."""
    call, created = _call_for(provider, event)
    before = _Facts.of(call)
    _fold(call, event)
    clients = is_clients_call(call)  # one look at the own numbers per event
    _link(call, clients)
    db.session.flush()
    _after(call, before, created, provider, clients)
    return call


class _Facts:
    """What a call knew before an event, to tell which transitions the event made."""

    __slots__ = ("answered", "ended", "outcome", "state", "user_id")

    def __init__(self, state: str, answered: bool, ended: bool, outcome: str, user_id: int | None) -> None:
        self.state, self.answered, self.ended, self.outcome = state, answered, ended, outcome
        self.user_id = user_id

    @classmethod
    def of(cls, call: Call) -> _Facts:
        return cls(call.state, call.answered_at is not None, call.ended_at is not None, call.outcome, call.user_id)


# --- finding the call -----------------------------------------------------------------------------------------


def _call_for(provider: str, event: CallEvent) -> tuple[Call, bool]:
    """The call ``event`` is about, locked for this transaction; created when this is its first event."""
    call = None
    if event.reference:
        call = _locked(select(Call).where(Call.reference == event.reference[:64]))
    if call is None:
        call = _locked(select(Call).where(Call.provider == provider, Call.external_id == event.call_id[:200]))
    if call is None and event.direction == CallDirection.OUTBOUND:
        call = _dialed(provider, event)
    if call is not None:
        if call.external_id.startswith("ref:") and not event.call_id.startswith("ref:"):
            named = db.session.scalar(select(Call.id).where(Call.provider == provider,
                                                            Call.external_id == event.call_id[:200]))
            if named is None:  # the provider named our click-to-call: later events find it by that name
                call.external_id = event.call_id[:200]
        return call, False
    start = _aware(event.started_at) or _aware(event.occurred_at)
    call = Call(provider=provider, external_id=event.call_id[:200], direction=str(event.direction),
                state="ringing", started_at=start, legs={}, answered_by={})
    try:
        with savepoint():
            db.session.add(call)
            db.session.flush()  # the unique key is met here, inside the except, when a twin delivery won the race
    except IntegrityError:  # another delivery of this call stored it a moment ago
        stored = _locked(select(Call).where(Call.provider == provider, Call.external_id == event.call_id[:200]))
        if stored is None:
            raise
        return stored, False
    return call, True


def _locked(stmt: Any) -> Call | None:
    return db.session.scalar(stmt.with_for_update().execution_options(populate_existing=True))


def _dialed(provider: str, event: CallEvent) -> Call | None:
    """A click-to-call we placed that the provider reports without our reference (Zadarma's callback): the newest
    one still unnamed to the same number, placed moments ago."""
    number = _e164(event.to_number)
    if number is None:
        return None
    since = utcnow() - timedelta(seconds=MATCH_OUTBOUND_SECONDS)
    return _locked(select(Call).where(Call.provider == provider, Call.client_number == number,
                                      Call.external_id.startswith("ref:"), Call.created_at >= since)
                   .order_by(Call.id.desc()).limit(1))


# --- folding the facts ------------------------------------------------------------------------------------------


def _fold(call: Call, event: CallEvent) -> None:
    occurred = _aware(event.occurred_at)
    state = CallState(event.state)
    started = _aware(event.started_at) or (occurred if state == CallState.RINGING else None)
    ended = _aware(event.ended_at) or (occurred if state in (CallState.ENDED, CallState.MISSED) else None)
    answered = _aware(event.answered_at) or (occurred if state == CallState.ANSWERED else None)
    if answered is None and ended is not None and state != CallState.MISSED and (event.duration or 0) > 0:
        answered = ended - timedelta(seconds=event.duration or 0)  # talked for `duration`: it was answered
    # a call starts no later than anything known to have happened in it (its first event may be its end)
    earliest = min(t for t in (call.started_at, started, answered, ended) if t is not None)
    if earliest < call.started_at:
        call.started_at = earliest
    if answered is not None and (call.answered_at is None or answered < call.answered_at):
        call.answered_at = answered
    if ended is not None and (call.ended_at is None or ended > call.ended_at):
        call.ended_at = ended
    if event.duration is not None and event.duration >= 0 and state in (CallState.ENDED, CallState.MISSED):
        call.talk_seconds = int(event.duration)
    if event.reason and ended is not None:
        call.reason = event.reason[:200]
    _numbers(call, event)
    _extension(call, event, state)
    if event.leg_id:
        legs = dict(call.legs or {})
        leg = dict(legs.get(event.leg_id) or {})
        if _ORDER[str(state)] >= _ORDER.get(leg.get("state", "dialing"), 0):
            leg["state"] = str(state)
        if event.extension:
            leg["extension"] = event.extension[:20]
        legs[event.leg_id[:100]] = leg
        call.legs = legs
    if event.sequence is not None and (call.last_sequence is None or event.sequence > call.last_sequence):
        call.last_sequence = event.sequence
    if call.last_event_at is None or occurred > call.last_event_at:
        call.last_event_at = occurred
    if event.recording is not None and not call.recording_ref:
        ref = event.recording
        call.recording_ref = {"ref": ref.ref, "url": ref.url, "duration": ref.duration,
                              "content_type": ref.content_type}
        call.recording_state, call.recording_next_at = "pending", utcnow()
    _derive(call)


def _numbers(call: Call, event: CallEvent) -> None:
    inbound = call.direction != CallDirection.OUTBOUND
    raw = (event.from_number if inbound else event.to_number) or ""
    if raw and not call.client_number_raw:
        call.client_number_raw = raw[:60]
        if _EXTENSION.fullmatch(raw.lstrip("+")) and len(raw.lstrip("+")) <= 6:
            call.direction = str(CallDirection.INTERNAL)  # an extension calling: a colleague, not a client
        else:
            call.client_number = _e164(raw)
    line = event.line_number or ((event.to_number if inbound else event.from_number) or "")
    if line and not call.line_number and not _EXTENSION.fullmatch(line.lstrip("+")):
        number = _e164(line)
        call.line_number = (number or line)[:40]
        if number is not None:
            _remember_line(number)


def _extension(call: Call, event: CallEvent, state: CallState) -> None:
    """Who the call is for: the extension that answered last (a transfer moves the call to whoever took it, in
    whatever order the answers are told), else the first one that rang (or dialled)."""
    extension = (event.extension or "").strip()[:20]
    if not extension:
        return
    if state == CallState.ANSWERED:
        at = (_aware(event.answered_at) or _aware(event.occurred_at)).isoformat()
        answers = dict(call.answered_by or {})
        if answers.get(extension, "") >= at:
            return
        answers[extension] = at
        call.answered_by = answers
        extension = max(answers.items(), key=lambda pair: (pair[1], pair[0]))[0]
    elif call.extension:
        return
    if extension != call.extension or call.user_id is None:
        call.extension = extension
        person = by_extension().get(extension)
        if person is not None:
            call.user_id = person.id


def _derive(call: Call) -> None:
    """The state and outcome that follow from the call's times."""
    if call.ended_at is not None:
        if call.answered_at is not None:
            call.outcome = "answered"
            call.talk_seconds = call.talk_seconds if call.talk_seconds is not None else _seconds(
                call.answered_at, call.ended_at)
        elif call.direction == CallDirection.OUTBOUND:
            call.outcome = {"busy": "busy", "failed": "failed", "cancel": "no_answer"}.get(
                _reason_word(call.reason), "no_answer")
        else:
            call.outcome = "missed"
        call.state = "missed" if call.outcome == "missed" else "ended"
        call.wait_seconds = _seconds(call.started_at, call.answered_at or call.ended_at)
    elif call.answered_at is not None:
        call.state = "answered"
        call.wait_seconds = _seconds(call.started_at, call.answered_at)
    elif call.last_event_at is not None:  # a click-to-call stays "dialing" until the PBX tells anything
        call.state = "ringing"


def _reason_word(reason: str) -> str:
    word = (reason or "").lower()
    if "busy" in word:
        return "busy"
    if any(w in word for w in ("fail", "congestion", "unavailable", "error", "chanunavail")):
        return "failed"
    return word


def _seconds(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds()))


# --- whom the call is about ---------------------------------------------------------------------------------


def is_clients_call(call: Call) -> bool:
    """A call with a client: not extension to extension, not from or to one of the company's own numbers."""
    if call.direction == CallDirection.INTERNAL:
        return False
    return call.client_number is None or db.session.get(OwnNumber, call.client_number) is None


def _link(call: Call, clients: bool) -> None:
    if call.contact_id or call.company_id or not call.client_number or not clients:
        return
    contact = inbox.find_client(call.client_number, "")
    if contact is not None:
        call.contact_id = contact.id
        deal = inbox.open_deal_of(contact)
        if deal is not None and call.deal_id is None:
            call.deal_id = deal.id
        return
    call.company_id = db.session.scalar(
        select(Company.id).join(Phone, Phone.company_id == Company.id)
        .where(Phone.e164 == call.client_number, Company.deleted_at.is_(None)).order_by(Company.id).limit(1))


def _remember_line(number: str) -> None:
    """Our own line, as the PBX reported it: calls from it are never leads."""
    if db.session.get(OwnNumber, number) is None:
        try:
            with savepoint():
                db.session.add(OwnNumber(number=number, seen_as_line=True))
                db.session.flush()
        except IntegrityError:
            pass


# --- what happens on each transition ----------------------------------------------------------------------------


def _after(call: Call, before: _Facts, created: bool, provider: str, clients: bool) -> None:
    origin = Origin("provider", detail=provider)
    if clients and call.direction == CallDirection.INBOUND:
        _through_inbox(call, provider)
    if created:
        events.emit(CallStarted(subject_id=call.id, origin=origin, direction=call.direction, provider=provider,
                                client_number=call.client_number, user_id=call.user_id, extension=call.extension,
                                contact_id=call.contact_id, company_id=call.company_id, deal_id=call.deal_id))
    if call.answered_at is not None and not before.answered:
        events.emit(CallAnswered(subject_id=call.id, origin=origin, direction=call.direction, user_id=call.user_id,
                                 extension=call.extension, contact_id=call.contact_id,
                                 wait_seconds=call.wait_seconds))
        if clients and call.client_number:
            _called_back(call)
        if before.outcome == "missed":
            _unmiss(call)
    if call.ended_at is not None and not before.ended:
        events.emit(CallEnded(subject_id=call.id, origin=origin, direction=call.direction, outcome=call.outcome,
                              user_id=call.user_id, contact_id=call.contact_id, company_id=call.company_id,
                              deal_id=call.deal_id, wait_seconds=call.wait_seconds, talk_seconds=call.talk_seconds))
        if call.outcome == "missed" and clients:
            task_id = _call_back_task(call, provider)
            events.emit(CallMissed(subject_id=call.id, origin=origin, client_number=call.client_number,
                                   user_id=call.user_id, contact_id=call.contact_id, task_id=task_id))
    _toast(call, before, created)
    if call.recording_state == "pending" and call.recording_attempts == 0:
        jobs.enqueue(RECORDING_JOB, unique_key=f"recording:{call.id}:0", call_id=call.id)
    sync_timeline(call)


def _toast(call: Call, before: _Facts, created: bool) -> None:
    """The caller's card goes on the screen of the manager whose extension rings (and moves to whoever answers);
    it goes away by itself when the call ends unanswered, or when the manager dismisses it or saves the note."""
    if call.direction != CallDirection.INBOUND or call.user_id is None:
        return
    if call.ended_at is not None and call.answered_at is None:
        call.toast_open = False
    elif (created or before.user_id != call.user_id) and call.ended_at is None:
        call.toast_open = True


def _through_inbox(call: Call, provider: str) -> None:
    """An incoming client's call is incoming work: attached to the client's open deal, or a lead to sort."""
    contact = db.session.get(Contact, call.contact_id) if call.contact_id else None
    result = inbox.receive(inbox.IncomingItem(
        channel="phone", source=provider, external_id=_inbox_key(call),
        name=contact.display_name if contact is not None else "",
        phone=call.client_number or call.client_number_raw, state=call.state,
        occurred_at=call.last_event_at, body=""))
    item = result.item
    call.inbox_item_id = item.id
    if item.deal_id and call.deal_id is None:
        call.deal_id = item.deal_id


def _inbox_key(call: Call) -> str:
    """The inbox item's key: the provider's call id, or ours when that id is not printable text."""
    return call.external_id if call.external_id.isprintable() and call.external_id.strip() else f"call:{call.id}"


def _timeline_key(call: Call) -> tuple[str, str]:
    """A call that came through the inbox shares the inbox's timeline entry (sorting it writes no second one)."""
    if call.inbox_item_id:
        return "inbox", f"inbox:{call.inbox_item_id}"
    return SOURCE, f"call:{call.id}"


def summary(call: Call) -> dict[str, Any]:
    """The facts a call's timeline entry keeps (the entry says them in the reader's language)."""
    return {"call_id": call.id, "direction": call.direction, "outcome": call.outcome or None,
            "missed": True if call.outcome == "missed" else None, "duration": call.talk_seconds or None,
            "wait": call.wait_seconds, "user_id": call.user_id, "manager": _name_of(call.user_id),
            "extension": call.extension or None,
            "number": call.client_number or call.client_number_raw or None, "deal_id": call.deal_id,
            "note_outcome": call.note_outcome or None, "state": call.state}


def sync_timeline(call: Call) -> None:
    """Write or refresh the call's entry on its client's timeline (none until the client is known)."""
    if not (call.contact_id or call.company_id):
        return
    source, external_id = _timeline_key(call)
    data = summary(call)
    entry = timeline.update(source, external_id, data=data, body=call.note if call.note else None)
    if entry is None:
        entry = timeline.record(kind="call", contact_id=call.contact_id,
                                company_id=None if call.contact_id else call.company_id, author_id=call.user_id,
                                data={k: v for k, v in data.items() if v is not None}, body=call.note,
                                occurred_at=call.started_at, source=source, external_id=external_id)
    if call.recording_state == "ready" and call.recording_attachment_id is None and call.recording_ref:
        ref = call.recording_ref
        blob = files.Blob(str(ref["sha256"]), int(ref["size"]), str(ref["content_type"]))
        extension = AUDIO_EXTENSIONS.get(blob.content_type, "")
        call.recording_attachment_id = files.attach_blob(entry.id, blob, f"call-{call.id}{extension}").id


def item_sorted(item: InboxItem) -> None:
    """An operator (or a rule) sorted a call's inbox item: the call now knows its client and deal, and its
    call-back task follows the lead's manager."""
    call = db.session.scalar(select(Call).where(Call.inbox_item_id == item.id))
    if call is None:
        return
    call.contact_id = call.contact_id or item.contact_id
    call.deal_id = call.deal_id or item.deal_id
    if call.callback_task_id:
        task = db.session.get(Task, call.callback_task_id)
        if task is not None and task.status == "open":
            task.contact_id = task.contact_id or item.contact_id
            task.deal_id = task.deal_id or item.deal_id
            if item.owner_id and task.owner_id is None:
                task.owner_id = item.owner_id
    db.session.flush()
    sync_timeline(call)


inbox.SORTED_LISTENERS.append(item_sorted)


# --- missed calls and calling back ------------------------------------------------------------------------------


def _call_back_task(call: Call, provider: str) -> int | None:
    """One open "call back" task per client number, for the client's manager (else the one the assignment rules
    give new calls to, else whoever's extension rang); this call joins it when one is open."""
    if call.callback_task_id:
        return call.callback_task_id
    if call.client_number is None:
        return None  # a hidden number cannot be called back
    open_task = db.session.scalar(
        select(Call.callback_task_id).join(Task, Task.id == Call.callback_task_id)
        .where(Call.client_number == call.client_number, Call.id != call.id, Task.status == "open",
               Task.deleted_at.is_(None)).limit(1))
    if open_task is not None:
        call.callback_task_id = open_task
        return open_task
    contact = db.session.get(Contact, call.contact_id) if call.contact_id else None
    owner_id = contact.owner_id if contact is not None else None
    minutes = CALLBACK_MINUTES
    if owner_id is None or not _active(owner_id):
        rule = assignment.matching_rule(None, "phone")
        owner_id = assignment.pick(rule) if rule is not None else None
        minutes = rule.follow_up_minutes or CALLBACK_MINUTES if rule is not None else CALLBACK_MINUTES
    if owner_id is None and call.user_id is not None and _active(call.user_id):
        owner_id = call.user_id
    who = (contact.display_name if contact is not None
           else phones.display(call.client_number, call.client_number_raw, default_phone_region()))
    task = tasks.create_system_task(
        title=str(_l("Call back: %(name)s", name=who)), owner_id=owner_id,
        due_at=utcnow() + timedelta(minutes=minutes), contact_id=call.contact_id,  # from now: a PBX's clock may be off
        company_id=None if call.contact_id else call.company_id, deal_id=call.deal_id,
        actor=Actor(user=None, via="provider", detail=provider[:60]))
    call.callback_task_id = task.id
    return task.id


def _called_back(call: Call) -> None:
    """A conversation with a client settles their missed calls before it: marked called back, the call-back task
    done."""
    moment = call.answered_at or utcnow()
    missed = list(db.session.scalars(
        select(Call).where(Call.client_number == call.client_number, Call.outcome == "missed",
                           Call.called_back_at.is_(None), Call.started_at <= moment, Call.id != call.id)))
    for earlier in missed:
        earlier.called_back_at = moment
        _close_task(earlier.callback_task_id)


def _unmiss(call: Call) -> None:
    """A late "answered" turned a missed call into a talk: its call-back task goes unless other misses share it."""
    task_id, call.callback_task_id = call.callback_task_id, None
    if task_id is None:
        return
    others = db.session.scalar(select(Call.id).where(Call.callback_task_id == task_id, Call.id != call.id).limit(1))
    if others is None:
        task = db.session.get(Task, task_id)
        if task is not None and task.status == "open":
            tasks.change_status(Actor(user=None, via="provider", detail=call.provider[:60]), task, "cancelled")


def _close_task(task_id: int | None) -> None:
    task = db.session.get(Task, task_id) if task_id else None
    if task is not None and task.status == "open" and task.deleted_at is None:
        tasks.change_status(Actor(user=None, via="system", detail="telephony"), task, "done")


def _name_of(user_id: int | None) -> str | None:
    """The manager's name as the timeline shows it (kept in the entry, as task entries keep their owner's)."""
    person = by_id().get(user_id) if user_id is not None else None
    return person.display_name if person is not None else None


def _active(user_id: int) -> bool:
    return user_id in by_id()


# --- small helpers --------------------------------------------------------------------------------------------


def _e164(raw: str | None) -> str | None:
    if not raw or not raw.strip():
        return None
    return phones.parse(raw, default_phone_region()).e164


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
