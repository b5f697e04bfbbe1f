"""The Twilio Voice provider: click-to-call through the REST API, callbacks read into call events, the TwiML that
rings a caller's manager, recordings, and the account check behind *Check connection*."""

from __future__ import annotations

from datetime import datetime

from flask import has_request_context, request

from mayak import (
    BAD_NUMBER,
    REFUSED,
    CallEvent,
    CallHandle,
    CallRequest,
    FetchRefused,
    HealthStatus,
    IncomingCall,
    ProviderError,
    RecordingRef,
    RouteAnswer,
    TelephonyProvider,
    WebhookAnswer,
    WebhookRequest,
)
from mayak import gettext as _
from mayak import lazy_gettext as _l
from plugins.twilio import wire
from plugins.twilio.api import KEY, TwilioApi
from plugins.twilio.settings_form import Settings

TWIML = "text/xml; charset=utf-8"
NO_EXTENSION = _l("Twilio cannot ring this extension: use a Twilio client name, a number such as +79161234567, or "
                  "digits with the SIP domain set in the twilio plugin's settings.")
NO_CALLER_ID = _l("Set your Twilio number in the twilio plugin's settings: clients see it when Mayak calls them.")
NO_PUBLIC_URL = _l("Set Mayak's public address in the twilio plugin's settings: Twilio reports the call's progress "
                   "there.")


class TwilioVoice(TelephonyProvider):
    """Built from the plugin's current settings each time a facade hands it out: no connection is made here."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.key = KEY

    def api(self) -> TwilioApi:
        conf = self.settings
        return TwilioApi(conf.api_url, conf.account_sid, conf.auth_token)

    # -- the account ------------------------------------------------------------------------------------------

    def check_connection(self) -> HealthStatus:
        try:
            account = self.api().account()
        except FetchRefused as exc:
            return HealthStatus(False, str(exc.message))
        status = str(account.get("status") or "")
        name = str(account.get("friendly_name") or self.settings.account_sid)
        if status != "active":
            return HealthStatus(False, _("Twilio account %(name)s is %(status)s.", name=name, status=status or "?"))
        return HealthStatus(True, _("Twilio account %(name)s is active.", name=name))

    # -- click-to-call ------------------------------------------------------------------------------------------

    def place_call(self, request: CallRequest) -> CallHandle:
        """Ring the manager's extension first (a REST call to it); when they answer, its TwiML dials the client.
        Both legs report to ``/webhooks/twilio/status`` with our reference in the address, so their events find
        the call core made for this request."""
        conf = self.settings
        manager = wire.target(request.extension or "", conf.sip_domain)
        if manager is None:
            raise ProviderError(NO_EXTENSION, provider=KEY)
        caller_id = request.caller_id or conf.caller_id
        if not caller_id:
            raise ProviderError(NO_CALLER_ID, provider=KEY)
        # the client's number, or a colleague's extension (an internal call through Twilio)
        to = (request.to or "").strip()
        callee = None if to.startswith("+") and not wire.E164.fullmatch(to) else wire.target(to, conf.sip_domain)
        if callee is None:
            raise ProviderError(BAD_NUMBER, request.to, provider=KEY)
        root = self.webhook_root()
        context = {"dir": "out", "line": caller_id, "client": to, "ref": request.reference}
        status_url = wire.callback_url(root, "status", **context)
        plan = wire.DialPlan(targets=[callee], status_url=status_url,
                             timeout=max(5, min(request.timeout, 120)), record=request.record and conf.record,
                             recording_url=wire.callback_url(root, "recording", **context), caller_id=caller_id)
        answer = self.api().create_call({
            "To": manager.address, "From": caller_id, "Twiml": wire.dial(plan), "Timeout": str(conf.ring_seconds),
            "StatusCallback": status_url, "StatusCallbackMethod": "POST",
            "StatusCallbackEvent": list(wire.CALL_EVENTS),
        })
        sid = answer.get("sid")
        if not isinstance(sid, str) or not wire.SID.fullmatch(sid):
            raise ProviderError(REFUSED, "the answer names no call", provider=KEY)
        return CallHandle(provider=KEY, call_id=sid, reference=request.reference,
                          raw={k: v for k, v in answer.items() if k in ("sid", "status", "to", "from", "direction")})

    def webhook_root(self) -> str:
        """``https://crm.example.com/webhooks/twilio`` for the addresses Twilio calls back: the public address
        setting, else the address of the page the user clicked on."""
        base = self.settings.public_url or (request.host_url if has_request_context() else "")
        if not base:
            raise ProviderError(NO_PUBLIC_URL, provider=KEY)
        return base.rstrip("/") + "/webhooks/twilio"

    # -- callbacks ----------------------------------------------------------------------------------------------

    def parse_webhook(self, request: WebhookRequest) -> list[CallEvent]:
        """A status, ``<Dial>`` action or recording callback as call events; the voice request gives none (it
        asks whom to ring: :meth:`parse_incoming_call`)."""
        return self.events(request)

    def events(self, request: WebhookRequest, received: datetime | None = None) -> list[CallEvent]:
        """The call events of one callback; ``received``: when it arrived, the moment of what Twilio sends
        undated (the ``<Dial>`` action), so a delivery replayed later still tells when it happened."""
        endpoint = request.path.rstrip("/").rsplit("/", 1)[-1]
        reader = {"status": wire.status_events, "dial": wire.dial_end_events,
                  "recording": wire.recording_events}.get(endpoint)
        if reader is None:
            return []
        return reader(wire.params_of(request.form()), wire.context_of(request.query), received)

    def parse_incoming_call(self, request: WebhookRequest) -> IncomingCall | None:
        if request.path.rstrip("/").rsplit("/", 1)[-1] not in ("voice", "fallback"):
            return None
        return wire.incoming_call(wire.params_of(request.form()))

    def route_reply(self, call: IncomingCall, answer: RouteAnswer | None) -> WebhookAnswer:
        """The TwiML for a ringing call; callbacks relative to the voice address unless the public one is set."""
        root = self.settings.public_url.rstrip("/") + "/webhooks/twilio" if self.settings.public_url else "."
        return self.voice_reply(call, answer, root)

    def voice_reply(self, call: IncomingCall, answer: RouteAnswer | None, root: str) -> WebhookAnswer:
        """Ring the caller's manager (their extensions, at once), or whoever ``fallback`` names when the CRM has no
        one; refuse a caller the CRM hangs up on. Every leg reports to ``status``; the ``<Dial>``'s end to
        ``dial``; the recording to ``recording``."""
        conf = self.settings
        if answer is not None and answer.hangup:
            return WebhookAnswer(200, wire.reject("rejected"), TWIML)
        targets = [t for t in (wire.target(e, conf.sip_domain) for e in (answer.extensions if answer else ()))
                   if t is not None]
        if not targets:
            fallback = wire.target(conf.fallback, conf.sip_domain)
            if fallback is None:
                return WebhookAnswer(200, wire.reject("busy"), TWIML)
            targets = [fallback]
        context = {"dir": "in", "line": call.line_number if wire.E164.fullmatch(call.line_number or "") else None}
        plan = wire.DialPlan(targets=targets, status_url=wire.callback_url(root, "status", **context),
                             action_url=wire.callback_url(root, "dial", **context), timeout=conf.ring_seconds,
                             record=conf.record, recording_url=wire.callback_url(root, "recording", **context),
                             caller_name=answer.caller_name if answer else None)
        return WebhookAnswer(200, wire.dial(plan), TWIML)

    # -- recordings ---------------------------------------------------------------------------------------------

    def fetch_recording(self, recording: RecordingRef) -> bytes:
        """``Recordings/<RecordingSid>.mp3`` of our account (never the address a callback named, so the
        credentials go nowhere else); 404 while Twilio is still processing it: ``retry``."""
        return self.api().recording(recording.ref)
