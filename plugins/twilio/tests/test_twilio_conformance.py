"""The telephony conformance kit for Twilio Voice, fed an inbound call as Twilio reports it: the voice URL request,
the manager's leg (each status), the number's own status callback and the recording. The kit checks the normalised
events, refusals of wrong and missing signatures, repeats, and the reverse order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

from sqlalchemy import select
from twilio_support import CLIENT, FORM, LINE, T0, TOKEN, leg, recording, sid, voice

from mayak import Activity, Call, CallDirection, CallEvent, CallState, InboxItem, IncomingCall, RecordingRef, Task, db
from mayak.testing import Recorded, TelephonyConformance, wait_for_jobs, written_records
from plugins.twilio.wire import compute_signature

PARENT, CHILD, REC = sid("CA", 0x51), sid("CA", 0x52), sid("RE", 0x53)
CONTEXT = {"dir": "in", "line": LINE}
MANAGER = dict(frm=CLIENT, to="client:olga", direction="outbound-dial", parent=PARENT)


def manager_leg(status: str, seconds: int, seq: int, state: CallState, duration: int | None = None,
                **fields: Any) -> Recorded:
    params = leg(CHILD, status, seconds, seq=seq, duration=duration, **MANAGER)
    event = CallEvent(call_id=PARENT, leg_id=CHILD, state=state, direction=CallDirection.INBOUND,
                      occurred_at=T0 + timedelta(seconds=seconds), from_number=CLIENT, to_number=LINE,
                      line_number=LINE, sequence=seq, event_id=f"{CHILD}:{status}:{seq}",
                      **{"extension": "olga", **fields})
    return Recorded(params, expected=[event], path="status", query=CONTEXT, content_type=FORM)


class TestTwilioConformance(TelephonyConformance):
    plugin = provider_key = "twilio"
    webhook_path = "status"
    secret = TOKEN
    known_numbers: ClassVar = [CLIENT]
    deliveries: ClassVar = [
        Recorded(voice(PARENT, CLIENT), path="voice", content_type=FORM,
                 expected=[IncomingCall(call_id=PARENT, from_number=CLIENT, line_number=LINE)]),
        manager_leg("initiated", 1, 0, CallState.RINGING),
        manager_leg("ringing", 2, 1, CallState.RINGING),
        manager_leg("in-progress", 12, 2, CallState.ANSWERED),
        # the manager's leg is over, the caller's is not (a transfer may follow): the leg was answered, that is all
        manager_leg("completed", 72, 3, CallState.ANSWERED, duration=60, extension=None,
                    answered_at=T0 + timedelta(seconds=12)),
        Recorded(leg(PARENT, "completed", 73, frm=CLIENT, to=LINE, direction="inbound", duration=75), path="status",
                 content_type=FORM, expected=[CallEvent(
                     call_id=PARENT, leg_id=PARENT, state=CallState.ENDED, direction=CallDirection.INBOUND,
                     occurred_at=T0 + timedelta(seconds=73), from_number=CLIENT, to_number=LINE, line_number=LINE,
                     event_id=f"{PARENT}:completed")]),
        Recorded(recording(PARENT, REC, 12, 60), path="recording", query=CONTEXT, content_type=FORM, expected=[
            CallEvent(call_id=PARENT, state=CallState.RINGING, direction=CallDirection.INBOUND,
                      occurred_at=T0 + timedelta(seconds=12), event_id=f"rec:{REC}",
                      recording=RecordingRef(ref=REC, duration=60, content_type="audio/mpeg",
                                             url=recording(PARENT, REC, 12, 60)["RecordingUrl"]))]),
    ]

    def sign(self, delivery: Recorded, secret: str) -> dict[str, str]:
        url = f"http://localhost/webhooks/twilio/{delivery.path or self.webhook_path}"
        if delivery.query:
            url += "?" + urlencode(dict(delivery.query))
        params = {k: [v] for k, v in dict(delivery.body).items()}  # type: ignore[call-overload]
        return {"X-Twilio-Signature": compute_signature(secret, url, params)}

    def state(self, app: Any) -> Any:
        """What the calls came to: the CRM's call (its facts, not its ids), its timeline entry, its inbox item."""
        wait_for_jobs(app)
        facts = ("external_id", "direction", "state", "outcome", "client_number", "line_number", "extension",
                 "started_at", "answered_at", "ended_at", "wait_seconds", "talk_seconds", "reason", "legs",
                 "recording_state")
        with app.app_context():
            calls = [{**{f: getattr(c, f) for f in facts}, "client": c.contact_id is not None,
                      "recording": (c.recording_ref or {}).get("ref")}
                     for c in db.session.scalars(select(Call).where(Call.provider == "twilio"))]
            entries = [{k: v for k, v in a.data.items() if k not in ("call_id", "user_id", "deal_id")}
                       for a in db.session.scalars(select(Activity).where(Activity.kind == "call"))]
            items = [(i.state, i.status, i.phone_e164) for i in db.session.scalars(select(InboxItem))]
            # an end that arrives before the answer makes the call missed for a moment: core then cancels the
            # call-back task it set, so what must agree is that no task is left open
            tasks = len(db.session.scalars(select(Task).where(Task.status == "open")).all())
        return {"calls": calls, "timeline": entries, "inbox": items, "tasks": tasks,
                "written": written_records(app, "twilio")["timeline"]}
