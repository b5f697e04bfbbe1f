"""Mango Office as a :class:`TelephonyProvider`: click-to-call (``commands/callback``), routing a call waiting in
the voice menu (``commands/route``), recordings (``queries/recording/post``), the PBX's employees
(``config/users/request``) and Mango's notifications read into :class:`CallEvent` items (:mod:`.notices`)."""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Any

from mayak import (
    CallEvent,
    CallHandle,
    CallRequest,
    Extension,
    FetchError,
    HealthStatus,
    IncomingCall,
    ProviderError,
    RecordingRef,
    RouteAnswer,
    TelephonyProvider,
    User,
    WebhookAnswer,
    WebhookRequest,
    db,
    ngettext,
)
from mayak import lazy_gettext as _l
from plugins.mango import notices, wire
from plugins.mango.api import MangoApi, answer_json, refusal

log = logging.getLogger(__name__)

KEY = "mango"
ROUTE_TIMEOUT_SECONDS = 1.2  # the call waits in the voice menu meanwhile; later, its scenario goes on
RECORDING_TIMEOUT_SECONDS = 60.0
RECORDING_MAX_BYTES = 200 * 1024 * 1024  # three hours of MP3, as the core keeps at most
NO_EXTENSION = _l("Mango Office rings the manager's extension first, and yours is not set: ask your "
                  "administrator to enter it.")
AUDIO_TYPES = ("audio/", "application/octet-stream", "binary/octet-stream")


class MangoPbx(TelephonyProvider):
    """Built from the plugin's settings (``api_url``, ``api_key``, ``api_salt``) whenever the core asks."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.api = MangoApi(getattr(settings, "api_url", "") or wire.API_URL, getattr(settings, "api_key", "") or "",
                            getattr(settings, "api_salt", "") or "", KEY)

    # --- notifications ---------------------------------------------------------------------------------------

    def parse_webhook(self, request: WebhookRequest) -> list[CallEvent]:
        """The core's events in one notification, by its path: ``events/call``, ``events/summary``,
        ``events/recording``, ``result/callback``; none for ``ping`` and anything else."""
        kind = notification_kind(request)
        if kind is None or kind == "ping":
            return []
        data = wire.payload(request)
        if kind == "events/call":
            event = notices.call_event(notices.read_call(data))
        elif kind == "events/summary":
            event = notices.summary_event(data)
        elif kind == "events/recording":
            event = notices.recording_event(data)
        else:
            event = notices.callback_event(data)
        return [event] if event is not None else []

    def parse_incoming_call(self, request: WebhookRequest) -> IncomingCall | None:
        """An inbound call that has just appeared in the voice menu: the moment the CRM may say whom it rings."""
        if notification_kind(request) != "events/call":
            return None
        return notices.incoming_call(notices.read_call(wire.payload(request)))

    def route_reply(self, call: IncomingCall, answer: RouteAnswer | None) -> WebhookAnswer:
        """Mango asks nothing and waits for no answer: the CRM routes a call in the voice menu with a command of
        its own (``commands/route`` to the first extension, ``commands/call/hangup`` to refuse). Without an
        answer nothing is sent and the PBX follows its scenario. The notification itself is always answered with
        an empty 200. Raises :class:`ProviderError` or ``FetchError`` when Mango refuses or cannot be reached."""
        leg = wire.text(call.raw, "call_id")
        if answer is None or leg is None:
            return WebhookAnswer()
        command_id = wire.ROUTE_PREFIX + hashlib.sha256(leg.encode()).hexdigest()[:16]
        if answer.hangup:
            self.api.command("commands/call/hangup", {"command_id": command_id, "call_id": leg},
                             timeout=ROUTE_TIMEOUT_SECONDS)
            return WebhookAnswer()
        target = next(iter(answer.extensions), None) or _extension_of(answer.user_ids)
        if target:
            self.api.command("commands/route", {"command_id": command_id, "call_id": leg, "to_number": target},
                             timeout=ROUTE_TIMEOUT_SECONDS)
        return WebhookAnswer()

    # --- commands --------------------------------------------------------------------------------------------

    def place_call(self, request: CallRequest) -> CallHandle:
        """Mango rings the manager's extension, then dials ``to``. Our ``reference`` travels as ``command_id``,
        which Mango echoes in the call's notifications, so they find the call the core stored."""
        if not request.extension:
            raise ProviderError(NO_EXTENSION, provider=self.key)
        command_id = request.reference or f"mayak-{secrets.token_hex(12)}"
        payload: dict[str, Any] = {"command_id": command_id, "from": {"extension": request.extension},
                                   "to_number": wire.dial_number(request.to)}
        if request.caller_id:
            payload["line_number"] = wire.dial_number(request.caller_id)
        answer = self.api.command("commands/callback", payload)
        return CallHandle(provider=self.key, call_id=None, reference=command_id, raw=answer)

    def fetch_recording(self, recording: RecordingRef) -> bytes:
        """The recording's audio: Mango answers ``queries/recording/post`` with a redirect to a temporary link,
        which the outbound guard follows. A recording Mango has not prepared yet is asked for again later."""
        response = self.api.post("queries/recording/post", {"recording_id": recording.ref, "action": "download"},
                                 timeout=RECORDING_TIMEOUT_SECONDS, max_bytes=RECORDING_MAX_BYTES)
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if response.status == 200 and response.body and (not kind or kind.startswith(AUDIO_TYPES)):
            return response.body
        raise refusal(response.status, wire.number(answer_json(response), "result"), self.key, not_ready=True)

    def list_extensions(self) -> list[Extension]:
        """The PBX's employees with an internal number, name and email (``config/users/request``)."""
        answer = self.api.command("config/users/request", {})
        users = answer.get("users")
        if not isinstance(users, list):
            raise refusal(200, wire.number(answer, "result"), self.key)
        found = []
        for user in users:
            if not isinstance(user, dict):
                continue
            general, phone = wire.party(user, "general"), wire.party(user, "telephony")
            number = wire.extension(phone.get("extension"))
            if number is None:
                continue
            found.append(Extension(number=number, name=wire.text(general, "name", limit=200) or "",
                                   email=wire.text(general, "email", limit=254), active=True))
        return found

    def check_connection(self) -> HealthStatus:
        """Ask Mango for the employees with the current key and salt (``detail`` never holds either)."""
        if not self.api.configured:
            return HealthStatus(False, str(_l("Not set up: enter the API key and salt of Mango Office's API "
                                              "connector.")))
        try:
            count = len(self.list_extensions())
        except FetchError as exc:
            raise ProviderError(_l("Mango Office does not answer; check the API address."), str(exc),
                                provider=self.key) from exc
        return HealthStatus(True, ngettext("Mango Office answers: %(num)d employee has an extension.",
                                           "Mango Office answers: %(num)d employees have an extension.", count))


def notification_kind(request: WebhookRequest) -> str | None:
    """Which of Mango's notifications a request is, by the end of its path."""
    path = request.path.rstrip("/")
    for kind in ("events/call", "events/summary", "events/recording", "result/callback", "ping"):
        if path == kind or path.endswith("/" + kind):
            return kind
    return None


def _extension_of(user_ids: tuple[int, ...]) -> str | None:
    """The first active user's extension among ``user_ids`` (a router that names users, not extensions)."""
    for user_id in user_ids:
        user = db.session.get(User, user_id)
        if user is not None and user.is_active and user.extension:
            return str(user.extension)
    return None
