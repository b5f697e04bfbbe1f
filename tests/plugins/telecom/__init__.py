"""A test plugin with provider kinds: two SMS gateways, a PBX, an inbox channel and a timeline kind it renders.

The providers keep what they sent in :data:`SENT` (in-process fakes of the gateways' behaviour: no wire format is
exercised here; the provider plugins' own tests speak the real protocols to loopback servers)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l

from mayak import (
    MESSAGING,
    NO_MONEY,
    REFUSED,
    TELEPHONY,
    UNAVAILABLE,
    Balance,
    CallDirection,
    CallEvent,
    CallHandle,
    CallRequest,
    CallState,
    ChannelSpec,
    DeliveryState,
    DeliveryStatus,
    Extension,
    HealthStatus,
    InboundDelivery,
    IncomingCall,
    MessagingProvider,
    OutgoingMessage,
    ProviderError,
    ProviderSpec,
    RecordingRef,
    RouteAnswer,
    SendResult,
    TelephonyProvider,
    TimelineKindSpec,
    WebhookAnswer,
    WebhookEndpoint,
    WebhookRequest,
    hmac_hex,
    hookimpl,
    record_call_events,
    signature_matches,
)

SENT: list[tuple[str, OutgoingMessage]] = []
PLACED: list[CallRequest] = []  # click-to-calls the "PBX" was asked to place
RECORDINGS: dict[str, bytes] = {}  # recording ref -> audio the "PBX" holds; a ref not here is "not ready yet"


class FakeSms(MessagingProvider):
    def __init__(self, settings: object) -> None:
        self.settings = settings

    def check_connection(self) -> HealthStatus:
        return HealthStatus(True, f"{self.key} answers")

    def send(self, message: OutgoingMessage) -> SendResult:
        if message.text == "no money":
            raise ProviderError(NO_MONEY, provider_message="201: insufficient funds", provider=self.key, code="201")
        SENT.append((self.key, message))
        return SendResult(provider=self.key, message_id=f"{self.key}-{len(SENT)}", parts=1, cost=Decimal("2.50"),
                          currency="RUB")

    def parse_status(self, request: WebhookRequest) -> list[DeliveryStatus]:
        form = request.form()
        states = {"103": DeliveryState.DELIVERED, "104": DeliveryState.FAILED}
        return [DeliveryStatus(message_id=form["id"][0], state=states.get(form["code"][0], DeliveryState.UNKNOWN),
                               occurred_at=datetime.fromtimestamp(int(form["time"][0]), UTC))]

    def balance(self) -> Balance | None:
        return Balance(amount=Decimal("100.00"), currency="RUB")


class FakePbx(TelephonyProvider):
    def __init__(self, settings: object) -> None:
        self.settings = settings

    def check_connection(self) -> HealthStatus:
        return HealthStatus(False, "the PBX does not answer")

    def parse_webhook(self, request: WebhookRequest) -> list[CallEvent]:
        body = request.json()
        state = {"start": CallState.RINGING, "answer": CallState.ANSWERED, "end": CallState.ENDED}[body["event"]]
        recording = RecordingRef(ref=body["recording"]) if body.get("recording") else None
        return [CallEvent(call_id=body["pbx_call_id"], state=state, direction=CallDirection.INBOUND,
                          occurred_at=datetime.fromtimestamp(body["time"], UTC), from_number=body["caller"],
                          extension=body.get("internal"), duration=body.get("duration"), recording=recording,
                          raw=body)]

    def place_call(self, request: CallRequest) -> CallHandle:
        if request.to.endswith("0000000"):
            raise ProviderError(NO_MONEY, provider_message="201: insufficient funds", provider=self.key, code="201")
        PLACED.append(request)
        return CallHandle(provider=self.key, call_id=f"pbx-{len(PLACED)}", reference=request.reference)

    def list_extensions(self) -> list[Extension]:
        return [Extension(number="101", name="Анна", email="anna@example.com"),
                Extension(number="102", name="Борис", email="BORIS@example.com"),
                Extension(number="150", name="Ресепшн")]

    def fetch_recording(self, recording: RecordingRef) -> bytes:
        if recording.ref.startswith("gone"):
            raise ProviderError(REFUSED, provider_message="404: no such recording", provider=self.key)
        if recording.ref not in RECORDINGS:
            raise ProviderError(UNAVAILABLE, provider_message="recording is being prepared", provider=self.key,
                                retry=True)
        return RECORDINGS[recording.ref]

    def parse_incoming_call(self, request: WebhookRequest) -> IncomingCall | None:
        body = request.json()
        return IncomingCall(call_id=body["pbx_call_id"], from_number=body["caller"])

    def route_reply(self, call: IncomingCall, answer: RouteAnswer | None) -> WebhookAnswer:
        return WebhookAnswer.of({"redirect": answer.extensions[0]} if answer and answer.extensions else {})


@hookimpl
def register_providers() -> list[ProviderSpec]:
    return [
        ProviderSpec(kind=MESSAGING, key="fakesms", label="Fake SMS", factory=FakeSms, channels=("sms",)),
        ProviderSpec(kind=MESSAGING, key="othersms", label="Other SMS", factory=FakeSms),
        ProviderSpec(kind=TELEPHONY, key="fakepbx", label="Fake PBX", factory=FakePbx),
    ]


@hookimpl
def register_timeline_kinds() -> list[TimelineKindSpec]:
    # rendered by templates/telecom/timeline/sms_out.html, found by its conventional name
    return [TimelineKindSpec(key="sms_out", label=_l("SMS sent"), icon="✉")]


@hookimpl
def register_channels() -> list[ChannelSpec]:
    return [ChannelSpec(key="sms", label=_l("SMS"), icon="✉", timeline_kind="sms_out", order=45)]


@hookimpl
def route_call(call: IncomingCall) -> RouteAnswer | None:
    return RouteAnswer(extensions=("101",)) if call.from_number == "+79001234567" else None


WEBHOOK_SECRET = "telecom-secret"


def _verify(request: WebhookRequest) -> bool:
    return signature_matches(hmac_hex(WEBHOOK_SECRET, request.body), request.header("x-signature"))


def _handle(delivery: InboundDelivery) -> None:
    record_call_events("fakepbx", FakePbx(None).parse_webhook(delivery.request))


@hookimpl
def register_webhooks() -> list[WebhookEndpoint]:
    # the "PBX" posts signed JSON call events here (the provider plugins' own tests speak real wire formats)
    return [WebhookEndpoint(path="pbx", verify=_verify, handle=_handle,
                            delivery_id=lambda request: request.header("x-event-id"))]
