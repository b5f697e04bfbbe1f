"""Call recordings brought into the CRM's own file storage.

A provider's recording link may expire and needs the provider's credentials, so users never see it: a job fetches
the audio through the provider (:meth:`TelephonyProvider.fetch_recording`) and keeps it beside the call's timeline
entry, where the card plays it with the card's own access checks. A recording the provider has not finished yet
(``ProviderError(retry=True)``) or an unreachable provider is tried again with growing pauses — 30 s, 1 min,
2 min... at most an hour apart — for a day after the call; then it is marked failed with the last error.
"""

from __future__ import annotations

import io
import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from core.db import db
from core.errors import ProviderError, ProviderNotFound
from core.models import Call, utcnow
from core.net import FetchError
from core.plugins import provider_facades
from core.plugins.events import Origin, RecordingReady
from core.plugins.providers import NotSupported, RecordingRef
from core.services.clients import files
from core.services.platform import events
from core.services.telephony import calls

log = logging.getLogger(__name__)

FIRST_PAUSE = timedelta(seconds=30)
LONGEST_PAUSE = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(days=1)
MAX_BYTES = 200 * 1024 * 1024  # three hours of MP3 at 128 kbit/s


def pause_after(attempts: int) -> timedelta:
    """How long to wait after ``attempts`` failed tries: doubling from 30 s, at most an hour."""
    return min(FIRST_PAUSE * (2 ** max(0, attempts - 1)), LONGEST_PAUSE)


def fetch(call_id: int, now: datetime | None = None) -> str:
    """Try to bring one call's recording in, in the caller's unit of work; says what happened (``ready``,
    ``waiting``, ``failed``, ``skipped``)."""
    now = now or utcnow()
    call = db.session.scalar(select(Call).where(Call.id == call_id).with_for_update())
    if call is None or call.recording_state != "pending" or not call.recording_ref:
        return "skipped"
    ref = call.recording_ref
    call.recording_attempts += 1
    try:
        provider = provider_facades.telephony(key=call.provider)
        audio = provider.fetch_recording(RecordingRef(ref=str(ref.get("ref") or ""), url=ref.get("url"),
                                                      duration=ref.get("duration"),
                                                      content_type=ref.get("content_type")))
        blob = files.write_blob(io.BytesIO(audio), limit=MAX_BYTES)
    except (ProviderError, FetchError, ProviderNotFound, NotSupported, OSError, ValueError) as exc:
        return _not_yet(call, exc, now)
    call.recording_ref = {**ref, "url": None, "sha256": blob.sha256, "size": blob.size,
                          "content_type": blob.content_type}
    call.recording_state, call.recording_next_at, call.recording_error = "ready", None, ""
    db.session.flush()
    calls.sync_timeline(call)
    events.emit(RecordingReady(subject_id=call.id, origin=Origin("system", detail="telephony"),
                               attachment_id=call.recording_attachment_id or 0, contact_id=call.contact_id,
                               company_id=call.company_id, duration=ref.get("duration")))
    return "ready"


def _not_yet(call: Call, exc: BaseException, now: datetime) -> str:
    message = str(exc)[:500]
    retry = not isinstance(exc, ProviderError) or exc.retry
    started = call.ended_at or call.started_at
    if not retry or now - started > GIVE_UP_AFTER:
        call.recording_state, call.recording_next_at, call.recording_error = "failed", None, message
        log.warning("recording of call %s given up after %s tries: %s", call.id, call.recording_attempts, message)
        return "failed"
    call.recording_next_at = now + pause_after(call.recording_attempts)
    call.recording_error = message
    return "waiting"


def due(now: datetime | None = None, limit: int = 50) -> list[int]:
    """Calls whose recording should be tried now, oldest first."""
    now = now or utcnow()
    return list(db.session.scalars(select(Call.id).where(Call.recording_state == "pending",
                                                         Call.recording_next_at <= now)
                                   .order_by(Call.recording_next_at).limit(limit)))


def fetch_due(now: datetime | None = None, limit: int = 50) -> dict[str, int]:
    """The scheduled sweep: every due recording tried, each in its own transaction (one slow provider or a broken
    file never holds back the rest)."""
    outcome: dict[str, int] = {}
    for call_id in due(now, limit):
        try:
            result = fetch(call_id, now)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("recording of call %s", call_id)
            result = "error"
        outcome[result] = outcome.get(result, 0) + 1
    return outcome
