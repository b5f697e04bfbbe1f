"""Twilio Voice for Mayak: click-to-call, every call on the client's timeline, missed calls turned into call-back
tasks, a known caller's manager rung first, recordings kept beside the call.

Twilio calls five addresses under ``/webhooks/twilio/``, each form-encoded and signed with ``X-Twilio-Signature``
(refused with a 403 when the signature does not match the address Twilio called, also behind a proxy):

* ``voice`` — the number's "A call comes in" webhook, answered while the caller waits: TwiML that rings the manager
  of a known caller (``route_incoming_call``), else the ``fallback`` setting; a slow answer is replaced by a
  ``<Redirect>`` to ``fallback``, which rings the fallback without asking the CRM;
* ``status`` — every leg's status callback (and the number's "Call status changes" webhook): call events, handed to
  the core in a job;
* ``dial`` — the ``<Dial>``'s action, when the dialled legs are over: the conversation's end, answered with a hang-up;
* ``recording`` — a finished recording, which core downloads through :meth:`TwilioVoice.fetch_recording`.

The wire details (signature, TwiML, which leg means what) are in :mod:`plugins.twilio.wire`.
"""

from __future__ import annotations

from urllib.parse import urlencode

from wtforms import Form

from mayak import (
    TELEPHONY,
    HealthStatus,
    InboundDelivery,
    MalformedBody,
    ProviderSpec,
    WebhookAnswer,
    WebhookEndpoint,
    WebhookRequest,
    hookimpl,
    record_call_events,
    route_incoming_call,
    telephony,
)
from mayak import gettext as _
from mayak import lazy_gettext as _l
from plugins.twilio import wire
from plugins.twilio.provider import TWIML, TwilioVoice
from plugins.twilio.settings_form import NAME, Settings, TwilioForm, current

__all__ = ["Settings", "TwilioVoice"]

FORM = ("application/x-www-form-urlencoded",)
DEADLINE_MS = 1500  # the caller hears silence while Mayak looks the manager up


def _provider() -> TwilioVoice:
    return telephony(key=NAME)  # type: ignore[return-value]


# --- the signature ------------------------------------------------------------------------------------------------


def verify(request: WebhookRequest) -> bool:
    """Twilio's signature over the address it called (as Mayak sees it, or the public address setting with the same
    path and query) and the POST parameters."""
    conf = current()
    urls = [u for u in (request.url, wire.public_variant(conf.public_url, request.path, request.url)) if u]
    params = request.form()
    return wire.signed(conf.auth_token, urls, params, request.header("X-Twilio-Signature")) is not None


def _root(request: WebhookRequest, conf: Settings) -> str:
    """Where this delivery's follow-up callbacks go (``https://crm.example.com/webhooks/twilio``): the public address
    setting, else the address the stored delivery's signature proves Twilio called, else relative to it."""
    if conf.public_url:
        return conf.public_url.rstrip("/") + "/webhooks/twilio"
    query = urlencode(request.query, doseq=True)
    candidates = {base: f"{base}{request.path}" + (f"?{query}" if query else "")
                  for base in wire.stored_bases(request.headers)}
    proven = wire.signed(conf.auth_token, candidates.values(), request.form(), request.header("X-Twilio-Signature"))
    base = next((b for b, url in candidates.items() if url == proven), None)
    return f"{base}/webhooks/twilio" if base else "."


# --- delivery ids: a repeat changes nothing -----------------------------------------------------------------------


def _params(request: WebhookRequest) -> dict[str, str]:
    params = wire.params_of(request.form())
    if not params.get("CallSid"):
        raise MalformedBody("the callback names no CallSid")
    return params


def status_id(request: WebhookRequest) -> str:
    p = _params(request)
    return ":".join(v for v in (p["CallSid"], p.get("CallStatus", ""), p.get("SequenceNumber", "")) if v)


def recording_id(request: WebhookRequest) -> str:
    p = _params(request)
    return f"rec:{p.get('RecordingSid') or p['CallSid']}:{p.get('RecordingStatus', '')}"


def voice_id(request: WebhookRequest) -> str:
    return f"voice:{_params(request)['CallSid']}"


def fallback_id(request: WebhookRequest) -> str:
    return f"fallback:{_params(request)['CallSid']}"


def dial_id(request: WebhookRequest) -> str:
    p = _params(request)
    return f"dial:{p['CallSid']}:{p.get('DialCallSid') or p.get('DialCallStatus', '')}"


# --- handlers -----------------------------------------------------------------------------------------------------


def record(delivery: InboundDelivery) -> None:
    """A status or recording callback (a job; again on replay: the core folds repeats into nothing), dated by
    Twilio's own times, else by when it arrived."""
    events = _provider().events(delivery.request, delivery.received_at)
    if events:
        record_call_events(NAME, events)


def answer_voice(delivery: InboundDelivery) -> WebhookAnswer:
    """Whom a ringing call rings: the CRM's answer (the caller's manager), else the fallback."""
    provider = _provider()
    call = provider.parse_incoming_call(delivery.request)
    if call is None:
        raise MalformedBody("not a voice request")
    return provider.voice_reply(call, route_incoming_call(call), _root(delivery.request, provider.settings))


def answer_fallback(delivery: InboundDelivery) -> WebhookAnswer:
    """The voice URL's answer when the CRM was too slow: the fallback, without asking the CRM again."""
    provider = _provider()
    call = provider.parse_incoming_call(delivery.request)
    if call is None:
        raise MalformedBody("not a voice request")
    return provider.voice_reply(call, None, _root(delivery.request, provider.settings))


def dial_finished(delivery: InboundDelivery) -> WebhookAnswer:
    """The ``<Dial>`` is over: the conversation ends here (Mayak's TwiML has nothing after it)."""
    record(delivery)
    return WebhookAnswer(200, wire.hangup(), TWIML)


# --- hooks --------------------------------------------------------------------------------------------------------


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [ProviderSpec(kind=TELEPHONY, key=NAME, label=_l("Twilio Voice"), factory=TwilioVoice)]


@hookimpl
def register_webhooks() -> list[WebhookEndpoint]:
    def inline(path: str, handle: object, delivery_id: object, fallback: str, label: object) -> WebhookEndpoint:
        return WebhookEndpoint(path=path, verify=verify, delivery_id=delivery_id, handle=handle,  # type: ignore[arg-type]
                               content_types=FORM, inline=True, deadline_ms=DEADLINE_MS,
                               fallback=WebhookAnswer(200, fallback, TWIML), label=label)

    return [
        WebhookEndpoint(path="status", verify=verify, delivery_id=status_id, handle=record, content_types=FORM,
                        label=_l("Call status")),
        WebhookEndpoint(path="recording", verify=verify, delivery_id=recording_id, handle=record,
                        content_types=FORM, label=_l("Call recording")),
        inline("voice", answer_voice, voice_id, wire.redirect("fallback"), _l("Incoming call")),
        inline("fallback", answer_fallback, fallback_id, wire.reject("busy"), _l("Incoming call, fallback")),
        inline("dial", dial_finished, dial_id, wire.hangup(), _l("End of a dialled call")),
    ]


@hookimpl
def plugin_settings_form() -> type[Form]:
    return TwilioForm


@hookimpl
def plugin_health() -> HealthStatus:
    conf = current()
    if not conf.account_sid or not conf.auth_token:
        return HealthStatus(False, _("Set the Account SID and the auth token."))
    if not conf.caller_id:
        return HealthStatus(True, _("Incoming calls only: set your Twilio number for click-to-call."))
    return HealthStatus(True, _("Calls through %(number)s.", number=conf.caller_id))
