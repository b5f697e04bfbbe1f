"""Notifications as Mango sends them (signed here, independently of the plugin's own code), and the call they
leave behind, for the plugin's tests."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select

KEY, SALT = "mangokey", "mangosalt"
T0 = int(time.time()) - 600  # ten minutes ago: recent, so the core still fetches recordings
CLIENT, LINE = "79161234567", "74951112233"  # as Mango writes numbers: international digits, no plus

FACTS = ("provider", "external_id", "direction", "state", "outcome", "client_number", "line_number", "extension",
         "user_id", "contact_id", "started_at", "answered_at", "ended_at", "wait_seconds", "talk_seconds", "reason",
         "recording_state", "reference")


def signed_form(payload: dict[str, Any] | str, *, key: str = KEY, salt: str = SALT, sign: str | None = None) -> str:
    json_text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False,
                                                                    separators=(",", ":"))
    digest = sign if sign is not None else hashlib.sha256((key + json_text + salt).encode()).hexdigest()
    return urlencode({"vpbx_api_key": key, "sign": digest, "json": json_text})


def notify(app: Any, path: str, payload: dict[str, Any] | str, **signing: Any) -> Any:
    """POST one notification to the app's ``/webhooks/mango/<path>``, as Mango does."""
    return app.test_client().post(f"/webhooks/mango/{path}", data=signed_form(payload, **signing),
                                  content_type="application/x-www-form-urlencoded")


def post_all(app: Any, notes: list[tuple[str, dict[str, Any]]]) -> None:
    for path, payload in notes:
        response = notify(app, path, payload)
        assert response.status_code == 200, (path, payload, response.status_code, response.get_data(as_text=True))


# --- notifications -------------------------------------------------------------------------------------------------


def call(entry: str, leg: str, seq: int, state: str, at: int, *, location: str = "abonent",
         frm: dict[str, Any] | None = None, to: dict[str, Any] | None = None, reason: int | None = None,
         command_id: str | None = None) -> tuple[str, dict[str, Any]]:
    body: dict[str, Any] = {"entry_id": entry, "call_id": leg, "timestamp": at, "seq": seq, "call_state": state,
                            "location": location, "from": frm or {"number": CLIENT},
                            "to": to if to is not None else {"number": LINE, "line_number": LINE}}
    if reason is not None:
        body["disconnect_reason"] = reason
    if command_id is not None:
        body["command_id"] = command_id
    return "events/call", body


def abonent(extension: str) -> dict[str, Any]:
    return {"extension": extension, "number": f"sip:{extension}@vpbx.mangosip.ru", "line_number": LINE}


def summary(entry: str, *, direction: int = 1, create: int, end: int, talk: int = 0, forward: int = 0,
            result: int | None = None, frm: dict[str, Any] | None = None, to: dict[str, Any] | None = None,
            reason: int = 1110, command_id: str | None = None) -> tuple[str, dict[str, Any]]:
    body: dict[str, Any] = {"entry_id": entry, "call_direction": direction, "from": frm or {"number": CLIENT},
                            "to": to or {"number": LINE}, "line_number": LINE, "create_time": create,
                            "forward_time": forward, "talk_time": talk, "end_time": end,
                            "entry_result": result if result is not None else int(talk > 0),
                            "disconnect_reason": reason}
    if command_id is not None:
        body["command_id"] = command_id
    return "events/summary", body


def recording(entry: str, leg: str, recording_id: str, at: int, *, state: str = "Completed",
              extension: str = "101") -> tuple[str, dict[str, Any]]:
    return "events/recording", {"recording_id": recording_id, "recording_state": state, "entry_id": entry,
                                "call_id": leg, "extension": extension, "timestamp": at, "seq": 1,
                                "completion_code": 1000}


def inbound_call(entry: str, extension: str = "101", start: int = T0) -> list[tuple[str, dict[str, Any]]]:
    """A client's call as Mango reports it: it appears in the voice menu (leg ``-ivr``), is put through to
    ``extension`` (its own leg, taken from the first), answered 12 s after it came in, talked on for 60 s; then the
    summary and the recording."""
    ivr, own = f"{entry}-ivr", f"{entry}-{extension}"
    return [
        call(entry, ivr, 1, "Appeared", start, location="ivr"),
        call(entry, own, 1, "Appeared", start + 3, frm={"number": CLIENT, "taken_from_call_id": ivr},
             to=abonent(extension)),
        call(entry, ivr, 2, "Disconnected", start + 3, location="ivr", reason=1183),
        call(entry, own, 2, "Connected", start + 12, to=abonent(extension)),
        call(entry, own, 3, "Disconnected", start + 72, to=abonent(extension), reason=1110),
        summary(entry, create=start, forward=start + 3, talk=start + 12, end=start + 72, to=abonent(extension)),
        recording(entry, own, f"rec-{entry}", start + 73, extension=extension),
    ]


# --- what it left behind ----------------------------------------------------------------------------------------


def calls(app: Any) -> list[dict[str, Any]]:
    """Every call's facts, oldest first."""
    from mayak import Call, db

    with app.app_context():
        return [{name: getattr(row, name) for name in FACTS}
                for row in db.session.scalars(select(Call).order_by(Call.id))]
