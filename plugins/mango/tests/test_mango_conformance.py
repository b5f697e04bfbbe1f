"""Mango against Mayak's telephony conformance kit: a whole inbound call's notifications (the voice menu, the
manager's leg, the summary, the recording) give the expected events, are refused when forged or unsigned, change
nothing when repeated, and give one result in reverse order."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from mango_support import CLIENT, KEY, LINE, T0, calls, inbound_call

from mayak import CallDirection, CallEvent, CallState, IncomingCall, RecordingRef
from mayak.testing import Recorded, TelephonyConformance, wait_for_jobs, written_records

FORM = "application/x-www-form-urlencoded"
NOTES = inbound_call("C1")  # the same notifications the webhook tests post
EXT = "101"


def moment(seconds: int) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


def recorded(index: int, *expected: Any) -> Recorded:
    """One of :data:`NOTES` as Mango posts it (the form without its ``sign``: the kit signs it, see ``post``)."""
    path, payload = NOTES[index]
    json_text = __import__("json").dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return Recorded({"vpbx_api_key": KEY, "json": json_text}, path=path, content_type=FORM, expected=expected)


def leg_event(index: int, state: CallState, seconds: int, leg: str, seq: int, **fields: Any) -> CallEvent:
    return CallEvent(call_id="C1", leg_id=leg, state=state, direction=CallDirection.INBOUND,
                     occurred_at=moment(seconds), from_number=f"+{CLIENT}", line_number=f"+{LINE}", sequence=seq,
                     event_id=f"call:C1:{leg}:{seq}", **fields)


class TestMangoConformance(TelephonyConformance):
    plugin = provider_key = "mango"
    webhook_path = "events/call"
    secret = "mangosalt"
    known_numbers = (f"+{CLIENT}",)
    deliveries = (
        recorded(0, leg_event(0, CallState.RINGING, 0, "C1-ivr", 1, to_number=f"+{LINE}"),
                 IncomingCall(call_id="C1", from_number=f"+{CLIENT}", line_number=f"+{LINE}")),
        recorded(1, leg_event(1, CallState.RINGING, 3, "C1-101", 1, extension=EXT)),
        recorded(2, leg_event(2, CallState.ENDED, 3, "C1-ivr", 2, to_number=f"+{LINE}",
                              reason="1183 passed to another operator")),
        recorded(3, leg_event(3, CallState.ANSWERED, 12, "C1-101", 2, extension=EXT)),
        recorded(4, leg_event(4, CallState.ENDED, 72, "C1-101", 3, extension=EXT, reason="1110 caller hung up")),
        recorded(5, CallEvent(call_id="C1", state=CallState.ENDED, direction=CallDirection.INBOUND,
                              occurred_at=moment(72), started_at=moment(0), answered_at=moment(12),
                              ended_at=moment(72), duration=60, from_number=f"+{CLIENT}", extension=EXT,
                              line_number=f"+{LINE}", reason="1110 caller hung up", event_id="summary:C1")),
        recorded(6, CallEvent(call_id="C1", leg_id="C1-101", state=CallState.RINGING,
                              direction=CallDirection.INBOUND, occurred_at=moment(73), extension=EXT,
                              recording=RecordingRef(ref="rec-C1"), event_id="recording:rec-C1")),
    )

    def sign(self, delivery: Recorded, secret: str) -> dict[str, str]:
        return {}  # Mango signs inside the form, not in a header: ``post`` adds the ``sign`` field

    def post(self, app: Any, delivery: Recorded, *, secret: str | None = None, signed: bool = True) -> Any:
        fields = dict(delivery.body)  # type: ignore[arg-type]
        if signed:
            fields["sign"] = hashlib.sha256(
                (fields["vpbx_api_key"] + fields["json"] + (secret or self.secret)).encode()).hexdigest()
        return app.test_client().post(f"/webhooks/{self.plugin}/{delivery.path or self.webhook_path}",
                                      data=urlencode(fields), content_type=FORM)

    def state(self, app: Any) -> Any:
        """The inbox items the plugin's calls made, and the calls themselves (without ids)."""
        wait_for_jobs(app)
        found = [{k: (v is not None if k.endswith("_id") else v) for k, v in row.items()} for row in calls(app)]
        return {"records": written_records(app, self.plugin), "calls": found}
