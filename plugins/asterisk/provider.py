"""The Asterisk PBX as Mayak's telephony provider: events from the AMI stream (:meth:`AsteriskPbx.listen`),
click-to-call through ``Originate``, recordings from the PBX's monitor folder, extensions from its endpoints, and
the plain-text answer of the dialplan's routing lookup."""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import phonenumbers

from mayak import (
    BAD_CREDENTIALS,
    BAD_NUMBER,
    REFUSED,
    UNAVAILABLE,
    AllowList,
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
    WebhookAnswer,
    WebhookRequest,
    default_phone_region,
    gettext,
)
from mayak import lazy_gettext as _l
from plugins.asterisk import recordings
from plugins.asterisk.ami import AmiConnection, AmiError, AmiRefused, LoginRefused
from plugins.asterisk.events import REF_PREFIX, REFERENCE_VARIABLE, Translator
from plugins.asterisk.settings_form import Settings

log = logging.getLogger("mayak.telephony.asterisk")

NO_EXTENSION = _l("The manager's extension is missing or malformed, so the PBX does not know which phone to ring.")
TEXT = "text/plain; charset=utf-8"
HANGUP = "hangup"  # the routing answer that tells the dialplan to refuse the call
_SAFE_EXTENSION = re.compile(r"[A-Za-z0-9_.+-]{1,20}")
_REFERENCE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_DIALLABLE = re.compile(r"\+?\d{3,20}")
_TRANSLATORS: OrderedDict[tuple[Any, ...], Translator] = OrderedDict()
_TRANSLATORS_LOCK = threading.Lock()


class AsteriskPbx(TelephonyProvider):
    # where the AMI connection may go: None is the installation's MAYAK_FETCH_ALLOW (a PBX on the office network is
    # reached once the administrator lists its address there); the tests give loopback
    allow: AllowList | None = None

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.internal = re.compile(settings.internal_pattern)

    # -- the AMI session ------------------------------------------------------------------------------------

    def session(self, *, events: bool) -> AmiConnection:
        """A logged-in AMI session; :class:`ProviderError` when the PBX cannot be reached or refuses the login."""
        conf = self.settings
        ami = AmiConnection(conf.host, conf.port, timeout=conf.timeout, allow=self.allow)
        try:
            ami.open()
            ami.login(conf.username, conf.secret, events=events)
        except LoginRefused as exc:
            ami.close()
            raise ProviderError(BAD_CREDENTIALS, provider_message=exc.message[:200], provider=self.key) from None
        except AmiError as exc:
            ami.close()
            raise ProviderError(UNAVAILABLE, provider_message=str(exc)[:200], provider=self.key, retry=True) from None
        return ami

    def check_connection(self) -> HealthStatus:
        with self.session(events=False) as ami:
            try:
                ami.request("Ping")
            except AmiRefused as exc:
                raise ProviderError(REFUSED, provider_message=exc.message[:200], provider=self.key) from None
            except AmiError as exc:
                raise ProviderError(UNAVAILABLE, provider_message=str(exc)[:200], provider=self.key) from None
            version = ami.version
        return HealthStatus(True, gettext("The Asterisk manager interface %(version)s at %(host)s:%(port)s answers.",
                                          version=version, host=self.settings.host, port=self.settings.port))

    # -- events ---------------------------------------------------------------------------------------------

    def listen(self, deliver: Callable[[list[CallEvent]], None], stopping: threading.Event) -> None:
        """Read the AMI event stream and hand each batch's call events to ``deliver``. Returns when the PBX closes
        the connection, sends ``Shutdown``, stays silent through two keep-alive ``Ping``\\ s, or ``stopping`` is
        set; raises :class:`ProviderError` when it cannot connect or log in."""
        conf = self.settings
        translator = self.translator()
        poll = min(0.25, conf.keepalive)
        with self.session(events=True) as ami:
            log.info("AMI %s at %s:%s: listening", ami.version, conf.host, conf.port)
            heard = pinged = time.monotonic()
            while not stopping.is_set():
                batch = ami.receive(poll)
                now = time.monotonic()
                if batch is None:
                    log.warning("AMI at %s:%s closed the connection", conf.host, conf.port)
                    return
                if batch:
                    heard = now
                    found = [event for message in batch for event in translator.feed(message)]
                    if found:
                        deliver(found)
                    if any(message.event.lower() == "shutdown" for message in batch):
                        log.warning("Asterisk at %s:%s is shutting down", conf.host, conf.port)
                        return
                    continue
                if now - heard >= 2 * conf.keepalive + conf.timeout:
                    log.warning("AMI at %s:%s is silent and does not answer Ping", conf.host, conf.port)
                    return
                if now - heard >= conf.keepalive and now - pinged >= conf.keepalive:
                    try:
                        ami.send("Ping")
                    except AmiError:
                        return
                    pinged = now

    def translator(self) -> Translator:
        """The translator of this PBX, kept across reconnections of this process, so a call that was going on
        when the connection dropped still ends well."""
        conf = self.settings
        key = (self.key, conf.host, conf.port, conf.internal_pattern, conf.context)
        with _TRANSLATORS_LOCK:
            found = _TRANSLATORS.get(key)
            if found is None:
                found = _TRANSLATORS[key] = Translator(conf.internal_pattern, internal_context=conf.context)
                while len(_TRANSLATORS) > 8:
                    _TRANSLATORS.popitem(last=False)
        found.region = _region()
        found.recordings = bool(conf.recordings_url or conf.recordings_dir)
        return found

    def parse_webhook(self, request: WebhookRequest) -> list[CallEvent]:
        """Asterisk reports calls over the AMI (:meth:`listen`); its only webhook is the routing lookup."""
        return []

    # -- click-to-call ---------------------------------------------------------------------------------------

    def place_call(self, request: CallRequest) -> CallHandle:
        """``Originate``: ring the manager's phone (``channel`` with their extension), and once they pick up,
        dial the client through ``context``. Our reference travels as the ``ActionID`` (``mayak-<reference>``)
        and the channel variable ``MAYAK_REF``, so the events of the call find the click that placed it."""
        conf = self.settings
        extension = (request.extension or "").strip()
        if not _SAFE_EXTENSION.fullmatch(extension):
            raise ProviderError(NO_EXTENSION, provider=self.key)
        number = self.dial_number(request.to)
        reference = request.reference or secrets.token_hex(12)
        if not _REFERENCE.fullmatch(reference):
            raise ProviderError(REFUSED, provider_message="the call's reference has characters AMI cannot carry",
                                provider=self.key)
        shown = re.sub(r"[^0-9+]", "", request.to or "")[:20]  # what the manager's phone shows while it rings
        fields = [("Channel", conf.channel.replace("{extension}", extension)), ("Context", conf.context),
                  ("Exten", number), ("Priority", "1"), ("CallerID", f'"{shown}" <{extension}>'),
                  ("Timeout", str(max(5, min(int(request.timeout or 30), 120)) * 1000)), ("Async", "true"),
                  ("Variable", f"{REFERENCE_VARIABLE}={reference}"),
                  ("Variable", f"MAYAK_RECORD={'1' if request.record else '0'}")]
        with self.session(events=False) as ami:
            try:
                answer = ami.request("Originate", fields, action_id=REF_PREFIX + reference)
            except AmiRefused as exc:
                raise ProviderError(_refusal(exc.message), provider_message=exc.message[:200],
                                    provider=self.key) from None
            except AmiError as exc:
                raise ProviderError(UNAVAILABLE, provider_message=str(exc)[:200], provider=self.key) from None
        return CallHandle(provider=self.key, call_id=None, reference=reference, raw=answer.as_dict())

    def dial_number(self, to: str) -> str:
        """``to`` as the dialplan dials it: a colleague's extension as it is; a client's number in ``dial_format``
        after ``dial_prefix``. :class:`ProviderError` (``BAD_NUMBER``) for anything else."""
        text = re.sub(r"[ ()\-.]", "", to or "")  # a line break stays, and fails the checks below
        if self.internal.fullmatch(text) and _SAFE_EXTENSION.fullmatch(text):
            return text
        if not _DIALLABLE.fullmatch(text):
            raise ProviderError(BAD_NUMBER, provider_message=(to or "")[:40], provider=self.key)
        conf = self.settings
        digits = text.lstrip("+")
        if conf.dial_format == "e164":
            return conf.dial_prefix + ("+" + digits if text.startswith("+") else digits)
        if conf.dial_format == "national":
            region = _region() or "RU"
            try:
                parsed = phonenumbers.parse(text, region)
            except phonenumbers.NumberParseException:
                raise ProviderError(BAD_NUMBER, provider_message=text, provider=self.key) from None
            local = phonenumbers.format_out_of_country_calling_number(parsed, region)
            return conf.dial_prefix + re.sub(r"\D", "", local)
        return conf.dial_prefix + digits

    # -- recordings and extensions ----------------------------------------------------------------------------

    def fetch_recording(self, recording: RecordingRef) -> bytes:
        return recordings.read(self.settings, recording, self.key)

    def list_extensions(self) -> list[Extension]:
        """The phones the PBX knows (``PJSIPShowEndpoints``, else chan_sip's ``SIPpeers``) whose names look like
        extensions, with the name and email of their voicemail box where one exists (``VoicemailUsersList``)."""
        with self.session(events=False) as ami:
            numbers = self._endpoints(ami)
            try:
                boxes = {m.get("VoiceMailbox"): m for m in ami.collect("VoicemailUsersList")}
            except AmiError:
                boxes = {}  # no voicemail module, or no right to list it: numbers alone
        found = []
        for number in sorted(numbers, key=lambda n: (len(n), n)):
            box = boxes.get(number)
            email = box.get("Email") if box is not None else ""
            found.append(Extension(number=number, name=(box.get("Fullname") if box is not None else "")[:200],
                                   email=email if "@" in email else None))
        return found

    def _endpoints(self, ami: AmiConnection) -> set[str]:
        refusals = []
        for action in ("PJSIPShowEndpoints", "SIPpeers"):
            try:
                items = ami.collect(action)
            except AmiRefused as exc:
                refusals.append(exc.message)
                continue
            except AmiError as exc:
                raise ProviderError(UNAVAILABLE, provider_message=str(exc)[:200], provider=self.key) from None
            return {m.get("ObjectName") for m in items if self._is_extension(m.get("ObjectName"))}
        if any("no endpoints" in message.lower() for message in refusals):
            return set()
        raise ProviderError(REFUSED, provider_message="; ".join(refusals)[:200], provider=self.key)

    def _is_extension(self, text: str) -> bool:
        return bool(text) and len(text) <= 20 and self.internal.fullmatch(text) is not None

    # -- the routing lookup ------------------------------------------------------------------------------------

    def parse_incoming_call(self, request: WebhookRequest) -> IncomingCall | None:
        """The dialplan's lookup ``GET /webhooks/asterisk/route?caller=…&did=…[&uniqueid=…]``."""
        if not request.path.rstrip("/").endswith("/route"):
            return None
        caller = _clean(request.arg("caller"))
        did = _clean(request.arg("did"))
        uniqueid = _clean(request.arg("uniqueid"))
        return IncomingCall(call_id=uniqueid or f"lookup:{caller}", from_number=caller or None,
                            line_number=did or None, raw={"caller": caller, "did": did, "uniqueid": uniqueid})

    def route_reply(self, call: IncomingCall, answer: RouteAnswer | None) -> WebhookAnswer:
        """Plain text for the dialplan's ``CURL()``: the extension to ring, ``hangup`` to refuse the call, or
        nothing (the dialplan goes on with its own rules)."""
        if answer is None:
            return WebhookAnswer(200, "", TEXT)
        if answer.hangup:
            return WebhookAnswer(200, HANGUP, TEXT)
        extension = next((e for e in answer.extensions if _SAFE_EXTENSION.fullmatch(e or "")), "")
        return WebhookAnswer(200, extension, TEXT)


def forget_calls_in_progress() -> None:
    """Drop what the listeners of this process remember about calls in progress (tests, which reuse Linkedids and
    may get a port number again)."""
    with _TRANSLATORS_LOCK:
        _TRANSLATORS.clear()


def _refusal(message: str) -> Any:
    """Our words for Asterisk's refusal of an ``Originate``."""
    text = (message or "").lower()
    if "permission denied" in text:
        return BAD_CREDENTIALS  # the AMI user lacks write = originate
    if "does not exist" in text or "invalid extension" in text:
        return BAD_NUMBER
    return REFUSED


def _region() -> str | None:
    try:
        return default_phone_region()
    except RuntimeError:  # outside an application context
        return None


def _clean(value: str | None) -> str:
    """A query value of the lookup: the characters a number or an id is made of, at most 80."""
    return re.sub(r"[^0-9A-Za-z+*#._-]", "", value or "")[:80]

