"""The telephony conformance kit, fed notifications as Zadarma posts them (form-encoded, signed over the fields its
SDK names) and the call events each must give; the expected events are written out here, not computed by the
plugin's code."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from flask import Flask

from mayak import CallDirection, CallEvent, CallState, IncomingCall, RecordingRef
from mayak.testing import Recorded, TelephonyConformance
from plugins.zadarma.tests.support import calls, settle
from plugins.zadarma.tests.zadarma_fake import notification_signature, zd_time

T0 = (datetime.now(UTC) - timedelta(minutes=10)).replace(microsecond=0)  # recent: its recording is still wanted
CLIENT, LINE, OTHER = "+79001234567", "+74951112233", "+79169998877"
FORM = "application/x-www-form-urlencoded"


def zd(**fields: str) -> dict[str, str]:
    return {"call_start": zd_time(T0), **fields}


def inbound(call_id: str, caller: str = CLIENT, **fields: Any) -> dict[str, Any]:
    return {"call_id": call_id, "direction": CallDirection.INBOUND, "from_number": caller, "to_number": LINE,
            "line_number": LINE, "started_at": T0, **fields}


def delivery(body: dict[str, str], *expected: Any) -> Recorded:
    return Recorded(body, expected=list(expected), content_type=FORM)


ANSWERED = "in_c1a7e0"
MISSED = "in_m20b44"
OUT = "out_o3d51f"


class TestZadarmaConformance(TelephonyConformance):
    plugin = provider_key = "zadarma"
    webhook_path = "calls"
    secret = "SECRET456"
    known_numbers = (CLIENT,)
    deliveries: ClassVar[list[Recorded]] = [
        delivery(zd(event="NOTIFY_START", pbx_call_id=ANSWERED, caller_id="79001234567", called_did="74951112233"),
                 CallEvent(state=CallState.RINGING, occurred_at=T0, **inbound(ANSWERED)),
                 IncomingCall(call_id=ANSWERED, from_number=CLIENT, line_number=LINE)),
        delivery(zd(event="NOTIFY_INTERNAL", pbx_call_id=ANSWERED, caller_id="79001234567",
                    called_did="74951112233", internal="101"),
                 CallEvent(state=CallState.RINGING, occurred_at=T0, extension="101", leg_id="101",
                           **inbound(ANSWERED))),
        delivery(zd(event="NOTIFY_ANSWER", pbx_call_id=ANSWERED, caller_id="79001234567",
                    destination="74951112233", internal="101"),
                 CallEvent(state=CallState.ANSWERED, occurred_at=T0, answered_at=T0, extension="101",
                           **inbound(ANSWERED))),
        delivery(zd(event="NOTIFY_END", pbx_call_id=ANSWERED, caller_id="79001234567", called_did="74951112233",
                    internal="101", duration="42", disposition="answered", status_code="16", is_recorded="1",
                    call_id_with_rec="1704110400.123456"),
                 CallEvent(state=CallState.ENDED, occurred_at=T0 + timedelta(seconds=42), answered_at=T0,
                           ended_at=T0 + timedelta(seconds=42), duration=42, extension="101",
                           recording=RecordingRef(ref="1704110400.123456", duration=42, content_type="audio/mpeg"),
                           **inbound(ANSWERED))),
        delivery(zd(event="NOTIFY_START", pbx_call_id=MISSED, caller_id="79169998877", called_did="74951112233"),
                 CallEvent(state=CallState.RINGING, occurred_at=T0, **inbound(MISSED, OTHER)),
                 IncomingCall(call_id=MISSED, from_number=OTHER, line_number=LINE)),
        delivery(zd(event="NOTIFY_END", pbx_call_id=MISSED, caller_id="79169998877", called_did="74951112233",
                    internal="", duration="0", disposition="no answer", status_code="19", is_recorded="0",
                    call_id_with_rec=""),
                 CallEvent(state=CallState.MISSED, occurred_at=T0, ended_at=T0, duration=0, reason="no answer (19)",
                           **inbound(MISSED, OTHER))),
        delivery(zd(event="NOTIFY_OUT_START", pbx_call_id=OUT, internal="101", destination="79001234567"),
                 CallEvent(call_id=OUT, state=CallState.RINGING, direction=CallDirection.OUTBOUND, occurred_at=T0,
                           started_at=T0, to_number=CLIENT, extension="101")),
        delivery(zd(event="NOTIFY_OUT_END", pbx_call_id=OUT, caller_id="74951112233", internal="101",
                    destination="79001234567", duration="0", disposition="busy", status_code="17", is_recorded="0",
                    call_id_with_rec=""),
                 CallEvent(call_id=OUT, state=CallState.ENDED, direction=CallDirection.OUTBOUND, occurred_at=T0,
                           started_at=T0, ended_at=T0, duration=0, reason="busy (17)", from_number=LINE,
                           to_number=CLIENT, line_number=LINE, extension="101")),
    ]

    def post_all(self, app: Flask, deliveries: Sequence[Recorded]) -> None:
        super().post_all(app, deliveries)
        settle(app)  # the events are recorded by a job queued when each answer was given

    def sign(self, delivery: Recorded, secret: str) -> dict[str, str]:
        return {"Signature": notification_signature(dict(delivery.body), secret)}  # type: ignore[arg-type]

    def state(self, app: Flask) -> Any:
        """The inbox items and timeline entries, and the calls' facts (not their ids or the moments deliveries
        arrived)."""
        written = super().state(app)
        facts = sorted((c.external_id, c.direction, c.state, c.outcome, c.client_number, c.line_number,
                        c.extension, c.talk_seconds, c.reason, (c.recording_ref or {}).get("ref"),
                        c.callback_task_id is not None, c.contact_id is not None) for c in calls(app))
        return {**written, "calls": facts}


def test_the_kit_sees_every_event_kind():
    kinds = {dict(d.body)["event"] for d in TestZadarmaConformance.deliveries}  # type: ignore[arg-type]
    assert kinds >= {"NOTIFY_START", "NOTIFY_INTERNAL", "NOTIFY_ANSWER", "NOTIFY_END", "NOTIFY_OUT_START",
                     "NOTIFY_OUT_END"}
