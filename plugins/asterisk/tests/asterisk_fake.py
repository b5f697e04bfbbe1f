"""A fake Asterisk manager interface on 127.0.0.1, speaking AMI's wire format (Asterisk can not be installed here).

It greets with ``Asterisk Call Manager/7.0.3``, reads actions as ``Key: Value`` lines ended by an empty line (only
``\\r\\n`` counts: a client sending bare ``\\n`` would hang, as a strict server would), refuses a wrong secret and
closes, answers ``Ping``, ``Originate`` (``Originate successfully queued``, then the call's event stream to every
session that logged in with ``Events: on``), the list actions (``EventList: start``, items, ``...Complete``) and
``Logoff``, and says ``Invalid/unknown command`` to the rest. Event streams are written as Asterisk prints them; a
``Timestamp: +12.5`` line is sent as that many seconds after the stream started (``timestampevents = yes``).

Its own parser is deliberately separate from the plugin's, so a framing mistake on either side shows."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

VERSION = "7.0.3"
USERNAME, SECRET = "mayak", "ami-secret-0123456789"
TOKEN = "routing-token-0123456789abcdef"  # the dialplan's routing token in the test apps
Fields = list[tuple[str, str]]


def block(name_or_response: str, *fields: tuple[str, str], kind: str = "Event") -> bytes:
    """One message on the wire."""
    return ("".join(f"{k}: {v}\r\n" for k, v in [(kind, name_or_response), *fields]) + "\r\n").encode()


def wire(text: str, started: float) -> bytes:
    """A stream written with ``\\n`` and relative timestamps, as Asterisk sends it."""
    lines = []
    for line in text.strip("\n").split("\n"):
        line = line.strip()
        if line.startswith("Timestamp: +"):
            line = f"Timestamp: {started + float(line[len('Timestamp: +'):]):.6f}"
        lines.append(line)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def value(fields: Fields, key: str) -> str:
    return next((v for k, v in fields if k.lower() == key.lower()), "")


@dataclass
class Session:
    sock: socket.socket
    events: bool = False
    logged_in: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, data: bytes) -> None:
        with self.lock, suppress(OSError):
            self.sock.sendall(data)


class FakeAmi:
    """The server. ``actions`` are ``(action name, fields)`` as received; ``on_login`` is sent to each events
    session right after its login (then the connection is closed when ``close_after_stream``);
    ``originate(fields)`` returns the stream an Originate starts (or ``originate_error`` refuses it); ``lists``
    holds the item messages of list actions; ``silent`` stops answering ``Ping``."""

    def __init__(self) -> None:
        self.actions: list[tuple[str, Fields]] = []
        self.sessions: list[Session] = []
        self.on_login = ""
        self.close_after_stream = True
        self.originate: Callable[[Fields], str] | None = None
        self.originate_error = ""
        self.lists: dict[str, list[Fields]] = {}
        self.silent = False
        self.port = 0
        self.raw_after_login: bytes = b""  # sent as they are (hostile input tests)
        self.logged_in = threading.Event()
        self._server: socketserver.ThreadingTCPServer | None = None

    # -- control -------------------------------------------------------------------------------------------

    def broadcast(self, text: str) -> None:
        data = wire(text, time.time())
        for session in list(self.sessions):
            if session.events and session.logged_in:
                session.send(data)

    def drop(self) -> None:
        """Close every connection, as a restarting Asterisk does."""
        for session in list(self.sessions):
            with suppress(OSError):
                session.sock.shutdown(socket.SHUT_RDWR)

    def named(self, action: str) -> list[Fields]:
        return [fields for name, fields in self.actions if name.lower() == action.lower()]

    # -- one connection ------------------------------------------------------------------------------------

    def serve(self, sock: socket.socket) -> None:
        session = Session(sock)
        self.sessions.append(session)
        session.send(f"Asterisk Call Manager/{VERSION}\r\n".encode())
        buffer = b""
        try:
            while True:
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buffer += chunk
                while b"\r\n\r\n" in buffer:
                    raw, buffer = buffer.split(b"\r\n\r\n", 1)
                    fields = [(k.strip(), v.strip()) for k, _, v in
                              (line.partition(":") for line in raw.decode().split("\r\n")) if k.strip()]
                    if not self.answer(session, fields):
                        return
        finally:
            self.sessions.remove(session)
            sock.close()

    def answer(self, session: Session, fields: Fields) -> bool:
        """Answer one action; ``False`` closes the connection."""
        action = value(fields, "Action")
        action_id = value(fields, "ActionID")
        self.actions.append((action, fields))
        ids = [("ActionID", action_id)] if action_id else []
        lowered = action.lower()
        if lowered == "login":
            if value(fields, "Username") != USERNAME or value(fields, "Secret") != SECRET:
                session.send(block("Error", *ids, ("Message", "Authentication failed"), kind="Response"))
                return False
            session.logged_in, session.events = True, value(fields, "Events").lower() not in ("off", "")
            session.send(block("Success", *ids, ("Message", "Authentication accepted"), kind="Response"))
            self.logged_in.set()
            if session.events:
                session.send(block("FullyBooted", ("Privilege", "system,all"), ("Uptime", "3600"),
                                   ("LastReload", "3600"), ("Status", "Fully Booted")))
                if self.raw_after_login:
                    session.send(self.raw_after_login)
                if self.on_login:
                    session.send(wire(self.on_login, time.time()))
                if (self.raw_after_login or self.on_login) and self.close_after_stream:
                    return False
            return True
        if not session.logged_in:
            session.send(block("Error", *ids, ("Message", "Permission denied"), kind="Response"))
            return True
        if lowered == "logoff":
            session.send(block("Goodbye", *ids, ("Message", "Thanks for all the fish."), kind="Response"))
            return False
        if lowered == "ping":
            if not self.silent:
                session.send(block("Success", *ids, ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}"),
                                   kind="Response"))
            return True
        if lowered == "originate":
            if self.originate_error:
                session.send(block("Error", *ids, ("Message", self.originate_error), kind="Response"))
                return True
            session.send(block("Success", *ids, ("Message", "Originate successfully queued"), kind="Response"))
            if self.originate is not None:
                stream = self.originate(fields)
                threading.Timer(0.05, self.broadcast, (stream,)).start()
            return True
        if action in self.lists:
            items = self.lists[action]
            session.send(block("Success", *ids, ("EventList", "start"),
                               ("Message", "A listing follows"), kind="Response"))
            item_event, done = LIST_EVENTS[action]
            for item in items:
                session.send(block(item_event, *ids, *item))
            session.send(block(done, *ids, ("EventList", "Complete"), ("ListItems", str(len(items)))))
            return True
        message = f"Invalid/unknown command: {action}. Use Action: ListCommands to show available commands."
        session.send(block("Error", *ids, ("Message", message), kind="Response"))
        return True


LIST_EVENTS = {"PJSIPShowEndpoints": ("EndpointList", "EndpointListComplete"),
               "SIPpeers": ("PeerEntry", "PeerlistComplete"),
               "VoicemailUsersList": ("VoicemailUserEntry", "VoicemailUserEntryComplete")}


@contextmanager
def fake_ami() -> Iterator[FakeAmi]:
    ami = FakeAmi()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            ami.serve(self.request)

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", 0), Handler)
    ami.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield ami
    finally:
        ami.drop()
        server.shutdown()
        server.server_close()
