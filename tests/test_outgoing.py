"""Bundled delivery plugins against real servers on loopback: signed webhooks to an HTTP server, task reminders
by email to an SMTP server (aiosmtpd)."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from core.db import db, unit_of_work
from core.models import User
from core.services.platform.context import Actor
from core.services.work import deals, tasks
from core.testing.fixtures import PROJECT_ROOT, wait_for_jobs
from tests.loopback import HookReceiver

SECRET = "whsec-test-0123456789"


def _plugins_file(tmp_path, extra: str) -> str:
    path = tmp_path / "plugins.toml"
    base = (PROJECT_ROOT / "plugins.toml").read_text(encoding="utf-8")
    base = base.split("[plugins.webhooks]")[0]
    path.write_text(base + extra, encoding="utf-8")
    return str(path)


@pytest.fixture
def receiver():
    hook = HookReceiver()
    yield hook
    hook.close()


def _verify(header: str, body: bytes) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(SECRET.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) < 300


def test_deal_won_reaches_the_webhook_signed(app, admin, make_app, tmp_path, receiver):
    url = receiver.url
    hooked = make_app(MAYAK_FETCH_ALLOW="127.0.0.1", MAYAK_TEST_WEBHOOK_SECRET=SECRET, MAYAK_PLUGINS_FILE=_plugins_file(
        tmp_path, f'[plugins.webhooks]\nurl = "{url}"\nsecret = {{ env = "MAYAK_TEST_WEBHOOK_SECRET" }}\n'
                  'events = ["deal_won"]\n'))
    with hooked.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, admin.id))
        pipeline = deals.ensure_default_pipeline()
        deal = deals.save(actor, None, {"title": "Крупный заказ", "pipeline_id": pipeline.id, "amount": "150000"})
        deals.move(actor, deal, next(s.id for s in pipeline.stages if s.kind == "won"))
        db.session.commit()
        deal_id = deal.id
    deadline = time.monotonic() + 15
    while not receiver.received and time.monotonic() < deadline:
        wait_for_jobs(hooked)
        time.sleep(0.1)
    assert len(receiver.received) == 1, "only the subscribed event is sent"
    headers, body = receiver.received[0]
    assert _verify(headers["X-Mayak-Signature"], body)
    assert not _verify(headers["X-Mayak-Signature"], body.replace(b"150000", b"1"))
    sent = json.loads(body)
    assert sent["event"] == "deal_won" and headers["X-Mayak-Event"] == "deal_won"
    assert sent["subject"] == {"type": "deal", "id": deal_id} and sent["data"]["amount"] == "150000.00"
    assert sent["version"] == 1 and sent["origin"]["kind"] == "user" and sent["origin"]["user_id"] == admin.id
    assert headers["X-Mayak-Delivery"] == str(sent["id"])


def test_webhook_settings_are_checked_at_start(make_app, tmp_path):
    from core.errors import StartupError

    with pytest.raises(StartupError) as info:
        make_app(MAYAK_PLUGINS_FILE=_plugins_file(tmp_path, '[plugins.webhooks]\nurl = "https://x.example"\n'))
    assert "needs a secret" in str(info.value)
    with pytest.raises(StartupError) as info:
        make_app(MAYAK_PLUGINS_FILE=_plugins_file(tmp_path, '[plugins.webhooks]\nevents = ["deal_eaten"]\n'))
    assert "deal_eaten" in str(info.value)


def _hook_settings(url: str) -> str:
    return f'[plugins.webhooks]\nurl = "{url}"\nsecret = {{ env = "MAYAK_TEST_WEBHOOK_SECRET" }}\n'


@pytest.mark.parametrize(("url", "says"), [
    ("http://127.0.0.1/hook", "MAYAK_FETCH_ALLOW"), ("http://0177.0.0.1/hook", "usual form"),
    ("http://2130706433/hook", "usual form"), ("http://127.1/hook", "usual form"),
    ("http://0x7f000001/hook", "usual form"), ("http://[::ffff:127.0.0.1]/hook", "MAYAK_FETCH_ALLOW"),
    ("http://localhost:8080/hook", "MAYAK_FETCH_ALLOW"), ("http://169.254.169.254/latest", "metadata"),
    ("http://[fd00:ec2::254]/", "metadata"), ("http://100.100.100.200/", "metadata"),
    ("http://10.0.0.5/hook", "private network"), ("http://192.168.1.10/hook", "private network"),
    ("http://100.64.0.1/", "carrier-grade NAT"), ("http://[fe80::1]/", "link-local"),
    ("http://user@example.com/hook", "user name"), ("ftp://example.com/hook", "https://"),
])
def test_webhook_urls_into_the_network_are_refused_when_set(make_app, tmp_path, url, says):
    """The URL is checked by the same guard as every delivery, when the settings are read: an internal address
    (in any spelling) stops start-up with a line that says why and names the way through (MAYAK_FETCH_ALLOW)."""
    from core.errors import StartupError

    with pytest.raises(StartupError) as info:
        make_app(MAYAK_TEST_WEBHOOK_SECRET=SECRET, MAYAK_PLUGINS_FILE=_plugins_file(tmp_path, _hook_settings(url)))
    assert "webhooks" in str(info.value) and url in str(info.value) and says in str(info.value)


class Redirector(BaseHTTPRequestHandler):
    to = ""
    hits = 0

    def do_POST(self) -> None:
        Redirector.hits += 1
        self.send_response(307)
        self.send_header("Location", Redirector.to)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _server(host: str, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_webhook_is_not_redirected_into_the_network(app, admin, make_app, tmp_path):
    """The allow-listed receiver answers with a redirect to another loopback address (not allow-listed): the
    delivery is refused there, the job records why, and the internal server never sees the event."""
    from core.models import JobRecord

    inner = HookReceiver("127.0.0.2")
    outer = _server("127.0.0.1", Redirector)
    Redirector.to, Redirector.hits = inner.url, 0
    try:
        hooked = make_app(MAYAK_FETCH_ALLOW="127.0.0.1", MAYAK_TEST_WEBHOOK_SECRET=SECRET,
                          MAYAK_PLUGINS_FILE=_plugins_file(tmp_path, _hook_settings(
                              f"http://127.0.0.1:{outer.server_address[1]}/hook")))
        with hooked.app_context(), unit_of_work():
            actor = Actor(db.session.get(User, admin.id))
            pipeline = deals.ensure_default_pipeline()
            deals.save(actor, None, {"title": "Перенаправленный", "pipeline_id": pipeline.id})
            db.session.commit()
        deadline = time.monotonic() + 15
        error = None
        while error is None and time.monotonic() < deadline:
            wait_for_jobs(hooked)
            with hooked.app_context(), unit_of_work():
                error = db.session.scalar(select(JobRecord.error).where(JobRecord.name == "webhooks.deliver",
                                                                        JobRecord.error.is_not(None)))
            time.sleep(0.1)
        assert Redirector.hits >= 1, "the allowed receiver was asked"
        assert inner.received == [], "the internal server behind the redirect never saw the event"
        assert error is not None and "MAYAK_FETCH_ALLOW" in error and "127.0.0.2" in error
    finally:
        inner.close()
        outer.shutdown()
        outer.server_close()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 OK"


def test_reminder_by_email_in_the_owners_language(app, make_app, make_user, tmp_path):
    mailbox = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        owner = make_user("owner@example.com", locale="ru", grants={("task", "create"): "own",
                                                                     ("task", "view"): "own"})
        mailing = make_app(MAYAK_PLUGINS_FILE=_plugins_file(tmp_path, (
            f'[plugins.mail_notify]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
            'sender = "crm@example.com"\nbase_url = "https://crm.example.com"\n')))
        with mailing.app_context(), unit_of_work():
            actor = Actor(db.session.get(User, owner.id))
            due = datetime.now(UTC) + timedelta(minutes=20)
            task = tasks.save(actor, None, {"title": "Перезвонить Ольге", "due_at": due, "remind_minutes": "20",
                                            "remind_via": ["app", "email"]})
            assert tasks.send_reminders(due) == 1
            task_id = task.id
        assert len(mailbox.messages) == 1
        mail = message_from_bytes(mailbox.messages[0], policy=default_policy)
        assert mail["To"] == "owner@example.com" and mail["Subject"] == "Напоминание: Перезвонить Ольге"
        assert f"https://crm.example.com/tasks/{task_id}" in mail.get_content()
    finally:
        controller.stop()
