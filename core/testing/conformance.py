"""Conformance kits: what every provider plugin of a kind must do, as tests its own test module inherits.

A provider plugin's tests subclass the kit of its kind and give it the deliveries recorded from the provider (its
documentation's examples, a sandbox's real requests) with the normalised events each must give::

    from mayak.testing.conformance import MessagingConformance, Recorded

    class TestGateway(MessagingConformance):
        plugin, provider_key, webhook_path, secret = "smsgate", "smsgate", "status", "test-secret"
        deliveries = [Recorded({"id": "m1", "status": "delivered", "at": 1700000000}, expected=[DeliveryStatus(...)])]

        def sign(self, delivery, secret):
            return {"X-Signature": hmac_hex(secret, delivery.data)}

The inherited tests (they use the ``app`` fixture, so the plugin must be enabled by ``mayak_plugins`` with
``secret`` in its settings):

- recorded deliveries in, the right normalised events out (compared without ``raw``);
- a wrong or missing signature: 403, the delivery kept as refused, no handler run, nothing changed;
- a repeat of every delivery changes nothing;
- the deliveries in another order (reversed) give the same result as in order.

"The result" is :meth:`WebhookConformance.state`: by default the timeline entries and inbox items the plugin
wrote (without ids and times); override it when the plugin writes elsewhere.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode

from flask import Flask
from sqlalchemy import func, select

from core.db import db
from core.plugins.provider_facades import build, provider_spec
from core.plugins.providers import MailProvider, MessagingProvider, Provider, TelephonyProvider
from core.plugins.webhooks import WebhookRequest
from core.testing.fixtures import empty_tables, wait_for_jobs

WRONG_SECRET = "not-the-secret-0123456789"


@dataclass(frozen=True)
class Recorded:
    """One delivery as the provider sent it. ``body``: bytes or text as sent, or a dict/list sent as JSON (or as a
    form when ``content_type`` is ``application/x-www-form-urlencoded``); ``path``: the webhook path when not the
    kit's ``webhook_path``; ``expected``: the normalised events it gives."""

    body: bytes | str | Mapping[str, Any] | Sequence[Any]
    expected: Sequence[Any] = ()
    path: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    method: str = "POST"

    @property
    def data(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        if self.content_type.startswith("application/x-www-form-urlencoded"):
            return urlencode(dict(self.body)).encode("ascii")  # type: ignore[arg-type]
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")

    def request(self, plugin: str, path: str, headers: Mapping[str, str] | None = None) -> WebhookRequest:
        """The neutral request a provider's parser is given, as the core builds it from the HTTP request."""
        every = {k.lower(): v for k, v in {**self.headers, **(headers or {})}.items()}
        every.setdefault("content-type", self.content_type)
        return WebhookRequest(method=self.method, path=f"/webhooks/{plugin}/{self.path or path}", headers=every,
                              query={k: [v] for k, v in self.query.items()}, body=self.data,
                              remote_addr="127.0.0.1", content_type=self.content_type)


def without_raw(items: Sequence[Any]) -> list[Any]:
    """Normalised events compared on what they mean: the ``raw`` copy of the provider's fields left out."""
    return [dataclasses.replace(i, raw={}) if dataclasses.is_dataclass(i) and hasattr(i, "raw") else i
            for i in items]


def written_records(app: Flask, source: str) -> dict[str, list[dict[str, Any]]]:
    """The timeline entries and inbox items ``source`` (a plugin) wrote, without ids and times, in a stable order."""
    from core.models import Activity, InboxItem

    skip = {"id", "created_at", "updated_at", "occurred_at", "received_at", "last_activity_at"}

    def rows(model: Any, where: Any) -> list[dict[str, Any]]:
        found = db.session.scalars(select(model).where(where)).all()
        columns = [c.key for c in model.__table__.columns if c.key not in skip]
        return sorted(({c: getattr(r, c) for c in columns} for r in found), key=repr)

    with app.app_context():
        return {"timeline": rows(Activity, Activity.source == source),
                "inbox": rows(InboxItem, InboxItem.source == source)}


def sample_contact(app: Flask, first_name: str = "Anna", phone: str | None = None) -> int:
    """A contact to hang timeline entries on, with ``phone`` (E.164) when given, so calls from it find it; its id."""
    from core.models import Contact, Phone

    with app.app_context():
        contact = Contact(first_name=first_name, search_lf=first_name.lower(), search_fl=first_name.lower())
        if phone:
            digits = "".join(c for c in phone if c.isdigit())
            contact.phones = [Phone(raw=phone, e164=phone, digits_rev=digits[::-1])]
        db.session.add(contact)
        db.session.commit()
        return int(contact.id)


@dataclass
class FakeApi:
    """A provider's HTTP API on a loopback port (see :func:`fake_api`): ``url`` to put in the plugin's settings,
    ``requests`` as ``(method, path, JSON body or None, Authorization header)``."""

    url: str
    answers: Mapping[str, Any]
    requests: list[tuple[str, str, Any, str | None]] = field(default_factory=list)


@contextmanager
def fake_api(answers: Mapping[str, Any], status: int = 200) -> Iterator[FakeApi]:
    """Serve ``answers`` on 127.0.0.1 as the provider would: path → the JSON answer, or a function of the query
    (a dict of first values) and the JSON body returning it. ``MAYAK_FETCH_ALLOW="127.0.0.1"`` lets the app's
    guarded ``fetch`` reach it. Unknown paths answer 404."""
    api = FakeApi("", answers)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            sent = json.loads(raw) if raw else None
            api.requests.append((self.command, path, sent, self.headers.get("Authorization")))
            found = path in api.answers
            answer = api.answers[path] if found else {"error": "not found"}
            if callable(answer):
                answer = answer({k: v[0] for k, v in parse_qs(query).items()}, sent)
            body = json.dumps(answer).encode()
            self.send_response(status if found else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()


class WebhookConformance:
    """The kit for providers that post webhooks; subclass a kind's kit (:class:`MessagingConformance`,
    :class:`TelephonyConformance`), not this."""

    plugin: ClassVar[str] = ""
    provider_key: ClassVar[str] = ""
    webhook_path: ClassVar[str] = ""
    secret: ClassVar[str] = ""
    deliveries: ClassVar[Sequence[Recorded]] = ()
    provider_class: ClassVar[type[Provider]] = Provider

    # -- what the plugin's test gives ---------------------------------------------------------------------------

    def sign(self, delivery: Recorded, secret: str) -> dict[str, str]:
        """The headers that sign ``delivery`` with ``secret`` the way the provider does."""
        raise NotImplementedError("return the signature headers of a delivery")

    def normalise(self, provider: Any, request: WebhookRequest) -> list[Any]:
        """The normalised events the provider reads from one delivery (per kind)."""
        raise NotImplementedError

    def state(self, app: Flask) -> Any:
        """What the deliveries' handling left behind, compared between orders and repeats."""
        wait_for_jobs(app)
        return written_records(app, self.plugin)

    def prepare(self, app: Flask) -> None:
        """Create what the deliveries refer to (a sent message's timeline entry...), before each run."""

    # -- helpers --------------------------------------------------------------------------------------------

    def provider(self, app: Flask) -> Any:
        with app.app_context():
            instance = build(provider_spec(self.provider_key))
        assert isinstance(instance, self.provider_class), f"{self.provider_key} is not a {self.provider_class}"
        return instance

    def post(self, app: Flask, delivery: Recorded, *, secret: str | None = None, signed: bool = True) -> Any:
        headers = {**delivery.headers, **(self.sign(delivery, secret or self.secret) if signed else {})}
        url = f"/webhooks/{self.plugin}/{delivery.path or self.webhook_path}"
        if delivery.query:
            url += "?" + urlencode(dict(delivery.query))
        return app.test_client().open(url, method=delivery.method, data=delivery.data, headers=headers,
                                      content_type=delivery.content_type)

    def post_all(self, app: Flask, deliveries: Sequence[Recorded]) -> None:
        for delivery in deliveries:
            response = self.post(app, delivery)
            assert response.status_code in (200, 202, 204), (
                f"a signed delivery was answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
        wait_for_jobs(app)

    def _refused_rows(self, app: Flask) -> int:
        from core.models import WebhookDelivery

        with app.app_context():
            return len(db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.plugin == self.plugin,
                                                                        WebhookDelivery.status == "refused")).all())

    # -- the tests ------------------------------------------------------------------------------------------

    def test_recorded_deliveries_give_the_normalised_events(self, app: Flask) -> None:
        assert self.deliveries, "give the kit the deliveries recorded from the provider"
        provider = self.provider(app)
        for delivery in self.deliveries:
            with app.app_context():
                got = self.normalise(provider, delivery.request(self.plugin, self.webhook_path,
                                                                self.sign(delivery, self.secret)))
            assert without_raw(got) == without_raw(list(delivery.expected)), delivery

    def test_a_wrong_or_missing_signature_is_refused(self, app: Flask) -> None:
        self.prepare(app)
        before = self.state(app)
        refused = self._refused_rows(app)
        for delivery in self.deliveries:
            assert self.post(app, delivery, secret=WRONG_SECRET).status_code == 403, "a wrong signature passed"
            assert self.post(app, delivery, signed=False).status_code == 403, "a missing signature passed"
        assert self.state(app) == before, "a refused delivery changed something"
        assert self._refused_rows(app) == refused + 2 * len(self.deliveries), "refusals are kept, for the admin"
        self.post_all(app, self.deliveries)  # a forged delivery claiming an event's id never blocks the real one
        assert self.state(app) != before, "the signed deliveries after the refused ones changed nothing"

    def test_a_repeat_delivery_changes_nothing(self, app: Flask) -> None:
        self.prepare(app)
        nothing = self.state(app)
        self.post_all(app, self.deliveries)
        once = self.state(app)
        assert once != nothing, "the deliveries changed nothing at all: is the handler wired?"
        self.post_all(app, self.deliveries)
        assert self.state(app) == once

    def test_out_of_order_deliveries_give_one_result(self, app: Flask) -> None:
        self.prepare(app)
        self.post_all(app, self.deliveries)
        in_order = self.state(app)
        self.restart(app)
        self.post_all(app, list(reversed(self.deliveries)))
        assert self.state(app) == in_order

    # -- runs on an empty database ----------------------------------------------------------------------------

    def restart(self, app: Flask) -> None:
        wait_for_jobs(app)
        empty_tables(app)
        self.prepare(app)


class MessagingConformance(WebhookConformance):
    """SMS gateways and messengers: deliveries are status callbacks and incoming messages; the normalised events
    are :class:`DeliveryStatus` and :class:`IncomingMessage` items. ``sent_messages``: the gateway's ids of
    messages sent before the deliveries arrive (each gets its ``sms`` timeline entry, ``source`` = the plugin)."""

    provider_class = MessagingProvider
    sent_messages: ClassVar[Sequence[str]] = ()
    channel_kind: ClassVar[str] = "sms"

    def prepare(self, app: Flask) -> None:
        if not self.sent_messages:
            return
        from core.services.clients import timeline

        contact_id = sample_contact(app)
        with app.app_context():
            for message_id in self.sent_messages:
                timeline.record(kind=self.channel_kind, contact_id=contact_id, title="Hello", source=self.plugin,
                                external_id=message_id, data={"status": "queued"})
            db.session.commit()

    def normalise(self, provider: MessagingProvider, request: WebhookRequest) -> list[Any]:
        return [*provider.parse_status(request), *provider.parse_incoming(request)]


class TelephonyConformance(WebhookConformance):
    """PBXs: deliveries are call notifications; the normalised events are :class:`CallEvent` items (and the
    :class:`IncomingCall` of a routing request). ``known_numbers``: clients' phones (E.164), each made a contact
    before the deliveries arrive."""

    provider_class = TelephonyProvider
    known_numbers: ClassVar[Sequence[str]] = ()

    def prepare(self, app: Flask) -> None:
        for number in self.known_numbers:
            sample_contact(app, "Caller", phone=number)

    def state(self, app: Flask) -> Any:
        """The calls the deliveries made, fact by fact (the provider's call id as the key), and the open "call
        back" tasks: what every order and repeat of the same deliveries must leave the same. A call-back task that
        a late "answered" cancelled is not counted (reversed deliveries may set and cancel one)."""
        from core.models import Call, Task

        wait_for_jobs(app)
        with app.app_context():
            calls = {c.external_id: (c.direction, c.state, c.outcome, c.client_number, c.line_number, c.extension,
                                     c.answered_at is not None, c.talk_seconds, c.recording_state,
                                     c.callback_task_id is not None)
                     for c in db.session.scalars(select(Call).where(Call.provider == self.provider_key))}
            open_tasks = db.session.scalar(select(func.count(Task.id)).where(Task.status == "open"))
        return {"calls": calls, "open_call_backs": open_tasks, "written": written_records(app, self.plugin)}

    def normalise(self, provider: TelephonyProvider, request: WebhookRequest) -> list[Any]:
        incoming = provider.parse_incoming_call(request)
        return [*provider.parse_webhook(request), *([incoming] if incoming is not None else [])]


class MailConformance:
    """Mailboxes, read since a cursor. The plugin's test gives the fixture ``mail_provider``: its provider with the
    settings pointing at a loopback fake of the service (:func:`fake_api`, or its own server speaking the wire
    protocol) that holds the messages of ``expected``."""

    expected: ClassVar[Sequence[Any]] = ()  # MailMessage items, oldest first

    def test_fetch_gives_the_messages_oldest_first(self, mail_provider: MailProvider) -> None:
        batch = mail_provider.fetch(None)
        assert without_raw(batch.messages) == without_raw(list(self.expected))

    def test_fetch_from_the_cursor_gives_nothing_twice(self, mail_provider: MailProvider) -> None:
        first = mail_provider.fetch(None)
        again = mail_provider.fetch(first.cursor)
        assert first.cursor, "a batch says where the next fetch starts"
        assert not {m.uid for m in first.messages} & {m.uid for m in again.messages}


class ImportConformance:
    """Import formats: ``samples`` are ``(file name, bytes, expected rows of the first sheet)`` (cells as text,
    empty for ``None``); ``foreign`` are files that are not of the format (its ``sniff`` must say no)."""

    format_key: ClassVar[str] = ""
    samples: ClassVar[Sequence[tuple[str, bytes, Sequence[Sequence[str]]]]] = ()
    foreign: ClassVar[Sequence[tuple[str, bytes]]] = (("notes.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"),)

    def import_format(self, app: Flask) -> Any:
        from core.plugins.facades import import_formats

        with app.app_context():
            found = [f for f in import_formats() if f.key == self.format_key]
        assert found, f"no enabled plugin registers the import format {self.format_key!r}"
        return found[0]

    def test_samples_are_recognised_and_read(self, app: Flask, tmp_path: Any) -> None:
        fmt = self.import_format(app)
        for name, content, rows in self.samples:
            assert fmt.sniff(content[:65536], name), f"{name} was not recognised"
            path = tmp_path / name
            path.write_bytes(content)
            source = fmt.open(path)
            sheet = source.sheets()[0]
            got = [["" if c is None else str(c) for c in cells] for _, cells in source.rows(sheet)]
            assert got == [list(r) for r in rows], name

    def test_foreign_files_are_not_claimed(self, app: Flask) -> None:
        fmt = self.import_format(app)
        for name, content in self.foreign:
            assert not fmt.sniff(content[:65536], name), f"{name} was claimed"


__all__ = [
    "FakeApi",
    "ImportConformance",
    "MailConformance",
    "MessagingConformance",
    "Recorded",
    "TelephonyConformance",
    "WebhookConformance",
    "fake_api",
    "sample_contact",
    "without_raw",
    "written_records",
]
