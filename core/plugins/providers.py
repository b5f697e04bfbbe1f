"""Provider kinds: what a telephony, messaging or mail plugin gives Mayak, in typed dataclasses.

A provider plugin registers :class:`ProviderSpec` objects through the ``register_providers`` hook. Each spec names
its kind (:data:`TELEPHONY`, :data:`MESSAGING`, :data:`MAIL`), a global ``key`` (``zadarma``, ``smsru``...), a
label, and a ``factory`` that builds the provider from the plugin's settings. Core code and other plugins reach
providers only through the facades (:func:`core.plugins.provider_facades.telephony`, ``messaging("sms")``,
``mail()``), which pick the provider chosen for the team (or the default) and raise
:class:`~core.errors.ProviderNotFound` when there is none.

The provider does the wire work only — signing requests, reading webhooks into normalised events; core does the CRM
work (matching the caller, writing the timeline, creating the task). Every method that talks to the provider raises
:class:`~core.errors.ProviderError` with a translatable message and the provider's own words when the provider
refuses; a network failure may raise :class:`~core.net.FetchError`.

Phone numbers in these dataclasses are E.164 (``+79001234567``) wherever the provider gave a full number; an internal
extension (``101``) goes in the ``extension`` fields, never in a number field. Times are timezone-aware UTC.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from flask_babel import lazy_gettext as _l

from core.plugins.types import HealthStatus

TELEPHONY = "telephony"
MESSAGING = "messaging"
MAIL = "mail"
PROVIDER_KINDS: tuple[str, ...] = (TELEPHONY, MESSAGING, MAIL)

if TYPE_CHECKING:
    from core.plugins.webhooks import WebhookAnswer, WebhookRequest

# What most providers' refusals come down to, translated by core: a plugin passes one to ProviderError with the
# provider's own words (``ProviderError(NO_MONEY, provider_message="201: insufficient funds")``).
NO_MONEY = _l("There is not enough money on the provider account; top it up.")
BAD_CREDENTIALS = _l("The provider does not accept the credentials; check the plugin settings.")
BAD_NUMBER = _l("The provider cannot reach this number; check it.")
REFUSED = _l("The provider refused the request.")
UNAVAILABLE = _l("The provider does not answer; try again later.")


# --- telephony -----------------------------------------------------------------------------------------------


class CallDirection(StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"
    INTERNAL = "internal"


class CallState(StrEnum):
    """A call's state as core tracks it. ``missed`` is an inbound call that ended unanswered; an outbound call that
    nobody answered is ``ended`` with ``answered_at`` empty."""

    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"
    MISSED = "missed"


@dataclass(frozen=True, kw_only=True)
class CallRequest:
    """Place a call (click-to-call): ring the manager's ``extension`` first, then dial ``to``.

    ``reference`` is our own id for the call, echoed back by providers that take one (Mango ``command_id``,
    Asterisk ``ActionID``/channel variables), so the later webhook events can be matched to this request."""

    to: str
    extension: str | None = None
    caller_id: str | None = None
    user_id: int | None = None
    contact_id: int | None = None
    deal_id: int | None = None
    record: bool = True
    timeout: int = 30
    reference: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class CallHandle:
    """What the provider answered to :class:`CallRequest`. ``call_id`` is ``None`` when the provider tells it only
    later, in a webhook event carrying ``reference``."""

    provider: str
    call_id: str | None = None
    reference: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class RecordingRef:
    """Where a call recording can be fetched: ``ref`` is the provider's id (Zadarma ``call_id_with_rec``, Mango
    ``recording_id``, Twilio ``RecordingSid``, an Asterisk file name); ``url`` when the provider gave one."""

    ref: str
    url: str | None = None
    duration: int | None = None
    content_type: str | None = None


@dataclass(frozen=True, kw_only=True)
class CallEvent:
    """One normalised step of a call, made from a provider's webhook.

    ``call_id`` is the conversation's stable id across legs, IVR and transfers (Zadarma ``pbx_call_id``, Mango
    ``entry_id``, Asterisk ``Linkedid``, Twilio's parent ``CallSid``); ``leg_id`` one leg of it (Mango ``call_id``,
    Asterisk ``Uniqueid``, Twilio ``CallSid``). ``sequence`` orders events of one call where the provider numbers
    them (Mango ``seq``, Twilio ``SequenceNumber``); core keeps the latest state whatever order they arrive in.
    ``duration`` is the talk time in seconds. ``event_id`` is the provider's id of this event, if any, for
    de-duplication; ``raw`` keeps every field the provider sent (unknown ones included).
    """

    call_id: str
    state: CallState
    direction: CallDirection
    occurred_at: datetime
    leg_id: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    extension: str | None = None
    line_number: str | None = None
    started_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    duration: int | None = None
    reason: str | None = None
    recording: RecordingRef | None = None
    sequence: int | None = None
    reference: str | None = None
    event_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class IncomingCall:
    """A call the PBX asks us about before it rings anyone (Zadarma ``NOTIFY_START``, Mango ``events/call``
    ``Appeared`` in the IVR): ``from_number`` called ``line_number``."""

    call_id: str
    from_number: str | None
    line_number: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class RouteAnswer:
    """Whom an incoming call should ring: the ``extensions`` in order (the client's manager first), or the
    ``user_ids`` when the caller knows users, not extensions; ``caller_name`` to show on the phone; ``hangup``
    to refuse (a blacklisted number). An empty answer lets the PBX follow its own scenario."""

    extensions: tuple[str, ...] = ()
    user_ids: tuple[int, ...] = ()
    caller_name: str | None = None
    hangup: bool = False


@dataclass(frozen=True, kw_only=True)
class Extension:
    """An internal number of the PBX (``101``), with its name and the user it belongs to when the PBX knows."""

    number: str
    name: str = ""
    email: str | None = None
    active: bool = True


# --- messaging -------------------------------------------------------------------------------------------------


class DeliveryState(StrEnum):
    """A message's state. Gateways' own codes map to these: SMS.ru 100→``queued``, 102→``sent``, 103→``delivered``,
    104-108→``failed``; SMPP ``DELIVRD``→``delivered``, ``UNDELIV``/``EXPIRED``/``REJECTD``→``failed``."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True, kw_only=True)
class OutgoingMessage:
    """A text to send to one recipient (``to`` in E.164 for SMS; a messenger's chat id otherwise). ``reference``
    is our own id, passed to gateways that take one (SMSC ``id``) so statuses can be matched."""

    to: str
    text: str
    channel: str = "sms"
    sender: str | None = None
    reference: str | None = None
    user_id: int | None = None
    contact_id: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class SendResult:
    """The gateway accepted the message: its ``message_id``; ``parts`` billed and ``cost`` when it reports them
    (SMS.ru ``sms``, SMSC ``cnt``/``cost``). A refused message raises :class:`~core.errors.ProviderError`."""

    provider: str
    message_id: str
    state: DeliveryState = DeliveryState.QUEUED
    parts: int | None = None
    cost: Decimal | None = None
    currency: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class DeliveryStatus:
    """A delivery report: message ``message_id`` reached ``state``. ``error`` is the gateway's own text for a
    failure, ``error_code`` its code; statuses may arrive out of order (core keeps the latest by
    ``occurred_at``)."""

    message_id: str
    state: DeliveryState
    occurred_at: datetime
    error_code: str | None = None
    error: str | None = None
    cost: Decimal | None = None
    parts: int | None = None
    event_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class IncomingMessage:
    """A message a client sent us: ``from_address`` is an E.164 number for SMS, a chat or user id otherwise."""

    message_id: str
    from_address: str
    text: str
    received_at: datetime
    channel: str = "sms"
    to_address: str | None = None
    sender_name: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Balance:
    """Money left on the gateway account."""

    amount: Decimal
    currency: str
    credit: Decimal | None = None


# --- mail ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MailAttachment:
    filename: str
    content_type: str
    content: bytes
    content_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class MailMessage:
    """One fetched message. ``uid`` is the provider's stable key of this copy (for IMAP: folder, UIDVALIDITY and
    UID); ``message_id``, ``in_reply_to`` and ``references`` (oldest first) thread it. Addresses are plain
    ``user@example.com``; ``from_name`` the display name."""

    uid: str
    message_id: str | None
    from_address: str
    subject: str
    date: datetime
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    from_name: str = ""
    text: str = ""
    html: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    folder: str = "INBOX"
    outgoing: bool = False
    attachments: tuple[MailAttachment, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class MailBatch:
    """Messages fetched since a cursor. ``cursor`` is opaque to core (the provider's own state, e.g. per-folder
    UIDVALIDITY, last UID and HIGHESTMODSEQ as JSON); core stores it and passes it back. ``more`` says another
    fetch would return more right away."""

    messages: list[MailMessage]
    cursor: str | None
    more: bool = False


@dataclass(frozen=True, kw_only=True)
class OutgoingMail:
    """A message to send. Core sets ``message_id`` before sending (stored first, so replies thread); replies carry
    ``in_reply_to`` and ``references``."""

    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None = None
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    from_address: str | None = None
    from_name: str = ""
    reply_to: str | None = None
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    attachments: tuple[MailAttachment, ...] = ()
    user_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class SentMail:
    provider: str
    message_id: str
    raw: Mapping[str, Any] = field(default_factory=dict)


# --- the provider interfaces -------------------------------------------------------------------------------------


class Provider(ABC):
    """What every provider does. ``key`` is set by the facade to the spec's key, so a provider can name itself in
    the handles and results it returns."""

    key: str = ""

    @abstractmethod
    def check_connection(self) -> HealthStatus:
        """Reach the provider with the current settings and say whether it works (the admin's "Check connection"
        button). ``detail`` is shown to admins: never put a secret in it."""


class TelephonyProvider(Provider):
    """A PBX or telephony service. Methods a provider cannot do raise :class:`NotSupported` (the default)."""

    def place_call(self, request: CallRequest) -> CallHandle:
        """Start a click-to-call: ring ``request.extension``, then connect ``request.to``."""
        raise NotSupported(self.key, "place_call")

    @abstractmethod
    def parse_webhook(self, request: WebhookRequest) -> list[CallEvent]:
        """Turn one webhook delivery into call events (none for a delivery that is not about calls, such as a
        ping). Raise ``ValueError`` for a malformed body."""

    def fetch_recording(self, recording: RecordingRef) -> bytes:
        """The recording's audio. Recordings may become ready some time after the call ended: raise
        :class:`~core.errors.ProviderError` with ``retry=True`` until then."""
        raise NotSupported(self.key, "fetch_recording")

    def list_extensions(self) -> list[Extension]:
        """The PBX's internal numbers, for mapping users to extensions."""
        return []

    def parse_incoming_call(self, request: WebhookRequest) -> IncomingCall | None:
        """The call a routing request is about, or ``None`` when ``request`` is not a routing request."""
        return None

    def listen(self, deliver: Callable[[list[CallEvent]], None], stopping: threading.Event) -> None:
        """For a PBX that pushes events over a connection of its own rather than webhooks (Asterisk's AMI):
        connect, hand every batch of events to ``deliver`` (core folds them into calls and commits) and return
        when the connection drops or ``stopping`` is set; raise on a failure to connect. ``mayak telephony
        listen <key>`` runs it in a process of its own, one active listener per provider however many are
        started, and calls it again with growing pauses after it returns or raises."""
        raise NotSupported(self.key, "listen")

    def route_reply(self, call: IncomingCall, answer: RouteAnswer | None) -> WebhookAnswer:
        """The reply that tells the PBX whom to ring (for Zadarma, ``{"redirect": "101"}``); ``answer`` is
        ``None`` when core has no opinion. By default an empty ``200``: the PBX follows its own scenario."""
        from core.plugins.webhooks import WebhookAnswer

        return WebhookAnswer()


class MessagingProvider(Provider):
    """An SMS gateway or a messenger. ``channels`` on its :class:`ProviderSpec` say what it sends."""

    @abstractmethod
    def send(self, message: OutgoingMessage) -> SendResult:
        """Send one message; raise :class:`~core.errors.ProviderError` when the gateway refuses it."""

    def parse_status(self, request: WebhookRequest) -> list[DeliveryStatus]:
        """Delivery reports in a status callback."""
        return []

    def parse_incoming(self, request: WebhookRequest) -> list[IncomingMessage]:
        """Messages clients sent, in an incoming-message callback."""
        return []

    def balance(self) -> Balance | None:
        """Money left on the account, or ``None`` when the gateway does not tell."""
        return None


class MailProvider(Provider):
    """A mailbox: fetch what arrived since a cursor, send a message."""

    @abstractmethod
    def fetch(self, cursor: str | None, *, limit: int = 100) -> MailBatch:
        """At most ``limit`` messages newer than ``cursor`` (``None``: the provider decides where to start, e.g. the
        last days), oldest first, and the cursor to pass next time."""

    @abstractmethod
    def send(self, mail: OutgoingMail) -> SentMail:
        """Send ``mail`` (and keep a copy in the Sent folder where the server does not)."""


PROVIDER_CLASSES: dict[str, type[Provider]] = {
    TELEPHONY: TelephonyProvider, MESSAGING: MessagingProvider, MAIL: MailProvider,
}


class NotSupported(NotImplementedError):
    """The provider cannot do this (a PBX without click-to-call, a gateway without balance)."""

    def __init__(self, provider: str, method: str) -> None:
        super().__init__(f"provider {provider!r} does not support {method}")
        self.provider, self.method = provider, method


# --- registration -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ProviderSpec:
    """A provider a plugin offers (``register_providers``).

    ``factory(settings)`` builds the provider from the plugin's settings (the object ``plugin_settings()`` gives);
    it is called whenever a facade hands the provider out, so keep it cheap: no connection in it. ``channels`` are
    the messaging channels a :data:`MESSAGING` provider sends on (``sms``, ``whatsapp``...). ``plugin`` is filled
    in by core with the name of the plugin that registered the spec.
    """

    kind: str
    key: str
    label: Any
    factory: Callable[[Any], Provider]
    channels: tuple[str, ...] = ()
    plugin: str = ""

    def scope(self) -> list[str]:
        """The choice scopes this provider can be chosen in: ``telephony``, ``mail``, ``messaging:sms``..."""
        if self.kind == MESSAGING:
            return [choice_scope(MESSAGING, channel) for channel in (self.channels or ("sms",))]
        return [self.kind]


def choice_scope(kind: str, channel: str | None = None) -> str:
    """How a provider choice is stored: the kind, and for messaging the channel (``messaging:sms``)."""
    return f"{kind}:{channel}" if kind == MESSAGING else kind


# --- open registries: inbox channels and timeline kinds --------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ChannelSpec:
    """A way requests reach the inbox (``phone``, ``email``, ``sms``...). ``label`` is translatable (``_l``);
    ``timeline_kind`` is the timeline entry an accepted request of this channel writes. ``key``: at most 20
    lower-case letters, digits or ``_``."""

    key: str
    label: Any
    icon: str = "·"
    timeline_kind: str = "note"
    order: int = 100


@dataclass(frozen=True, kw_only=True)
class TimelineKindSpec:
    """A kind of timeline entry (``call``, ``sms``...). ``template`` renders one entry (it gets ``entry`` and
    ``d`` = ``entry.data``); ``None`` looks for ``<plugin>/timeline/<key>.html`` in the registering plugin's
    templates and falls back to core's row (the label, the title and the body). ``key``: at most 20 characters."""

    key: str
    label: Any
    icon: str = "·"
    template: str | None = None
    order: int = 100


__all__ = [
    "BAD_CREDENTIALS",
    "BAD_NUMBER",
    "MAIL",
    "MESSAGING",
    "NO_MONEY",
    "PROVIDER_KINDS",
    "REFUSED",
    "TELEPHONY",
    "UNAVAILABLE",
    "Balance",
    "CallDirection",
    "CallEvent",
    "CallHandle",
    "CallRequest",
    "CallState",
    "ChannelSpec",
    "DeliveryState",
    "DeliveryStatus",
    "Extension",
    "IncomingCall",
    "IncomingMessage",
    "MailAttachment",
    "MailBatch",
    "MailMessage",
    "MailProvider",
    "MessagingProvider",
    "NotSupported",
    "OutgoingMail",
    "OutgoingMessage",
    "Provider",
    "ProviderSpec",
    "RecordingRef",
    "RouteAnswer",
    "SendResult",
    "SentMail",
    "TelephonyProvider",
    "TimelineKindSpec",
]
