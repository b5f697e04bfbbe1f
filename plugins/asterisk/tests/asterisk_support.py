"""What the tests of the plugin inside Mayak share: the PBX's recordings folder served over HTTP, managers and
clients, the calls read back, and the provider's ``listen`` run against the fake manager interface.

Only the public API is imported (``mayak``, ``mayak.testing``), as in the plugin; what it does not export — the
attachment, outbox and webhook delivery rows — is read as tables, the way a report would."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from asterisk_streams import CLIENT, RECORDING
from flask import Flask
from sqlalchemy import JSON, Integer, String, column, select, table

from mayak import CallEvent, Contact, User, db, record_call_events, telephony
from mayak.testing import create_user, sample_contact, wait_for_jobs

CALL = table("call", *(column(name, Integer) for name in (
    "id", "user_id", "contact_id", "inbox_item_id", "callback_task_id", "wait_seconds", "talk_seconds",
    "recording_attachment_id")), *(column(name, String) for name in (
    "external_id", "reference", "direction", "state", "outcome", "client_number", "line_number", "extension",
    "recording_state", "recording_error")))
ATTACHMENT = table("attachment", column("id", Integer), column("activity_id", Integer), column("size", Integer))
DELIVERY = table("webhook_delivery", column("plugin", String), column("status", String), column("query", JSON),
                 column("headers", JSON))
OUTBOX = table("outbox_event", column("name", String), column("payload", JSON))
AUDIO = b"RIFF\x24\x08\x00\x00WAVEfmt " + b"\x00" * 2000


@contextmanager
def recordings_server(files: dict[str, bytes] | None = None) -> Iterator[tuple[str, list[tuple[str, str | None]]]]:
    """nginx on the PBX, serving the monitor folder: ``files`` (name below the folder → audio; by default the
    incoming call's recording; the test may add one later, as MixMonitor finishing a file), 403 for a forbidden
    one, 404 for the rest."""
    served = {RECORDING: AUDIO} if files is None else files
    seen: list[tuple[str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append((self.path, self.headers.get("Authorization")))
            status, body, kind = 404, b"<html>404 Not Found</html>", "text/html"
            name = self.path.removeprefix("/monitor/")
            if self.path.startswith("/monitor/") and name in served:
                status, body, kind = 200, served[name], "audio/x-wav"
            elif self.path == "/monitor/forbidden.wav":
                status, body, kind = 403, b"<html>403</html>", "text/html"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/monitor/", seen
    finally:
        server.shutdown()
        server.server_close()


def manager(app: Flask, email: str = "olga@example.com", extension: str = "101") -> int:
    user = create_user(app, email, full_name="Ольга Менеджер",
                       grants={("contact", "view"): "own", ("call", "view"): "own"})
    with app.app_context():
        db.session.get(User, user.id).extension = extension
        db.session.commit()
    return user.id


def client_of(app: Flask, owner_id: int, phone: str = CLIENT) -> int:
    contact_id = sample_contact(app, "Анна", phone=phone)
    with app.app_context():
        db.session.get(Contact, contact_id).owner_id = owner_id
        db.session.commit()
    return contact_id


def calls() -> dict[str, Any]:
    return {row.external_id: row for row in db.session.execute(select(CALL))}


def outbox(app: Flask, name: str) -> list[dict[str, Any]]:
    with app.app_context():
        return list(db.session.scalars(select(OUTBOX.c.payload).where(OUTBOX.c.name == name)))


def deliver_into(app: Flask) -> Callable[[list], None]:
    """What ``mayak telephony listen`` does with a batch: fold it into calls and commit."""
    def deliver(batch: list) -> None:
        record_call_events("asterisk", batch)
        db.session.commit()
    return deliver


def listen_once(app: Flask, *, deliver: bool = True) -> list[CallEvent]:
    """Run the provider's ``listen`` in ``app`` until the fake PBX closes the connection; the events it read
    (folded into calls unless ``deliver`` is false)."""
    seen: list[CallEvent] = []
    into = deliver_into(app)
    with app.app_context():
        telephony(key="asterisk").listen(lambda batch: (seen.extend(batch), deliver and into(batch)),
                                         threading.Event())
    wait_for_jobs(app)
    return seen
