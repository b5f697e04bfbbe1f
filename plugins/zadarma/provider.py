"""The Zadarma PBX as Mayak's telephony provider: click-to-call, call notifications read into call events, the
routing answer to NOTIFY_START, recordings, extensions and the connection check."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from mayak import (
    BAD_NUMBER,
    REFUSED,
    CallEvent,
    CallHandle,
    CallRequest,
    Extension,
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
    gettext,
)
from mayak import lazy_gettext as _l
from plugins.zadarma import events, wire
from plugins.zadarma.api import ZadarmaApi
from plugins.zadarma.config import NAME, Settings, parse_zone, zone_of

RECORDING_LINK_SECONDS = 180  # the shortest link Zadarma gives: it is used at once
MAX_RECORDING = 200 * 1024 * 1024
NAMED_EXTENSIONS = 50  # extensions whose names are asked one by one (the API allows 100 requests a minute)
_PBX_EXTENSION = re.compile(r"\d{3,5}")
_CALLER_NAME_MAX = 60

NO_EXTENSION = _l("Zadarma rings the manager's extension first, and none is set: enter the manager's extension "
                  "in Mayak and try again.")
NOT_READY = _l("The recording is not ready yet; Mayak will try again.")
UNEXPECTED = _l("Zadarma answered in a way this plugin does not understand.")


class ZadarmaProvider(TelephonyProvider):
    """One Zadarma (or Novofon) account, built from the plugin's current settings; cheap, no connection."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.api = ZadarmaApi(settings)

    # --- calls ---------------------------------------------------------------------------------------------------

    def place_call(self, request: CallRequest) -> CallHandle:
        """``GET /v1/request/callback/``: Zadarma rings ``from`` (the manager's extension) and, when it answers,
        dials ``to``. It echoes no reference of ours: the core matches the call's notifications by the number."""
        ext = (request.extension or "").strip()
        if not ext:
            raise ProviderError(NO_EXTENSION, provider=NAME, code="no_extension")
        to = "".join(c for c in request.to if c.isdigit())
        if not (len(to) == 5 or 7 <= len(to) <= 15):  # a number, or a 5-digit SIP account, as the API takes
            raise ProviderError(BAD_NUMBER, request.to, provider=NAME, code="bad_number")
        params: dict[str, object] = {"from": ext, "to": to}
        if _PBX_EXTENSION.fullmatch(ext) and len(ext) in (3, 5):
            params["sip"] = ext  # the extension's caller id, recording and prefixes apply
        answer = self.api.get("/v1/request/callback/", params)
        return CallHandle(provider=self.key or NAME, call_id=None, reference=request.reference,
                          raw={k: v for k, v in answer.items() if k in ("status", "from", "to", "time")})

    def parse_webhook(self, request: WebhookRequest) -> list[CallEvent]:
        if request.method == "GET":
            return []  # the zd_echo check of the address
        return self.events(wire.read_fields(request))

    def events(self, fields: dict[str, str], received: datetime | None = None) -> list[CallEvent]:
        """The call events of one notification's fields; ``received``: when it arrived, to date answers and ends."""
        return events.call_events(fields, zone_of(self.settings), received)

    def parse_incoming_call(self, request: WebhookRequest) -> IncomingCall | None:
        if request.method == "GET":
            return None
        return events.incoming_call(wire.read_fields(request))

    def route_reply(self, call: IncomingCall, answer: RouteAnswer | None) -> WebhookAnswer:
        """NOTIFY_START's answer: ``{"redirect": "101", "return_timeout": 20, "caller_name": "..."}``, ``{"hangup":
        1}``, or an empty 200 (the PBX follows its own scenario)."""
        if answer is None:
            return WebhookAnswer()
        body: dict[str, Any] = {}
        if answer.hangup:
            body["hangup"] = 1
        else:
            target = next((e for e in answer.extensions if _PBX_EXTENSION.fullmatch(str(e or ""))), None) \
                or next((e for e in self._extensions_of(answer.user_ids) if _PBX_EXTENSION.fullmatch(e)), None)
            if target is not None:
                body["redirect"] = str(target)
                body["return_timeout"] = self.settings.return_timeout
            name = " ".join((answer.caller_name or "").split())[:_CALLER_NAME_MAX]
            if name:
                body["caller_name"] = name
        if not body:
            return WebhookAnswer()
        return WebhookAnswer(200, json.dumps(body, ensure_ascii=False), "application/json")

    def _extensions_of(self, user_ids: tuple[int, ...]) -> list[str]:
        """The extensions of users a router named without extensions (each user's extension is set in Mayak)."""
        found = []
        for user_id in user_ids[:5]:
            user = db.session.get(User, user_id)
            if user is not None and user.is_active and getattr(user, "extension", None):
                found.append(str(user.extension))
        return found

    # --- recordings and extensions ---------------------------------------------------------------------------------

    def fetch_recording(self, recording: RecordingRef) -> bytes:
        """``/v1/pbx/record/request/?call_id=`` gives a short-lived link; the file behind it. Zadarma stores a
        recording some time after the call: until then, and for any refusal, the core is told to try later (it
        gives up a day after the call)."""
        try:
            answer = self.api.get("/v1/pbx/record/request/", {"call_id": recording.ref,
                                                              "lifetime": RECORDING_LINK_SECONDS})
        except ProviderError as exc:
            raise ProviderError(NOT_READY if exc.code not in ("401", "403") else exc.message,
                                exc.provider_message, provider=NAME, code=exc.code, retry=True) from exc
        links = answer.get("links") if isinstance(answer.get("links"), list) else []
        link = answer.get("link") or (links[0] if links else None)
        if not isinstance(link, str) or not self._ours(link):
            raise ProviderError(UNEXPECTED, str(link)[:200] if link else "no link", provider=NAME, code="link",
                                retry=True)
        status, body, _type = self.api.download(link, max_bytes=MAX_RECORDING)
        if status == 404 or status == 429 or status >= 500:
            raise ProviderError(NOT_READY, f"HTTP {status}", provider=NAME, code=str(status), retry=True)
        if status != 200 or not body:
            raise ProviderError(REFUSED, f"HTTP {status}", provider=NAME, code=str(status), retry=True)
        return body

    def _ours(self, link: str) -> bool:
        """Whether a recording link leads to the API's own site (its host, or another host of its domain)."""
        api = urlsplit(self.settings.api_url).hostname or ""
        try:
            parts = urlsplit(link)
            host = parts.hostname or ""
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not host:
            return False
        domain = api.split(".", 1)[1] if api.count(".") >= 2 and not api.replace(".", "").isdigit() else api
        return host in (api, domain) or host.endswith("." + domain)

    def list_extensions(self) -> list[Extension]:
        """``/v1/pbx/internal/`` lists the numbers; each one's name comes from ``/v1/pbx/internal/<n>/info/`` (the
        first :data:`NAMED_EXTENSIONS`; Zadarma knows no e-mail of an extension)."""
        answer = self.api.get("/v1/pbx/internal/")
        numbers = [str(n) for n in answer.get("numbers") or [] if str(n).isdigit()]
        found = []
        for index, num in enumerate(numbers):
            name = ""
            if index < NAMED_EXTENSIONS:
                try:
                    info = self.api.get(f"/v1/pbx/internal/{num}/info/")
                    name = str(info.get("name") or "")[:200]
                except ProviderError as exc:
                    if exc.retry:  # the rate limit: the rest stay unnamed
                        return [*found, *(Extension(number=n) for n in numbers[index:])]
            found.append(Extension(number=num, name=name))
        return found

    def check_connection(self) -> HealthStatus:
        """The balance (``/v1/info/balance/``) proves the key and secret; the account's time zone
        (``/v1/info/timezone/``) is compared with the one call times are read in."""
        balance = self.api.get("/v1/info/balance/")
        detail = gettext("Balance: %(amount)s %(currency)s", amount=balance.get("balance", "?"),
                         currency=balance.get("currency", ""))
        try:
            account_zone = str(self.api.get("/v1/info/timezone/").get("timezone") or "")
        except ProviderError:
            return HealthStatus(True, detail)
        mismatch = self._zone_mismatch(account_zone)
        if mismatch:
            return HealthStatus(False, f"{detail}. {mismatch}")
        return HealthStatus(True, detail)

    def _zone_mismatch(self, account_zone: str) -> str:
        try:
            theirs = parse_zone(account_zone)
        except ValueError:
            return ""
        now = datetime.now(UTC)
        ours = zone_of(self.settings)
        if now.astimezone(theirs).utcoffset() == now.astimezone(ours).utcoffset():
            return ""
        return gettext("The Zadarma account shows times in %(theirs)s, but the plugin reads call times as "
                       "%(ours)s: set the plugin's time zone to %(theirs)s.", theirs=account_zone,
                       ours=self.settings.timezone or str(ours))
