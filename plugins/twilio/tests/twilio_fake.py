"""A loopback HTTP server speaking Twilio's REST API as documented (``/2010-04-01/Accounts/{AccountSid}...``): Basic
auth with the Account SID and auth token (401 and error 20003 otherwise), the account resource, ``Calls.json``
(201 with the new call, or Twilio's error JSON: 21211 for a ``To`` that is no number, 21210 for a ``From`` that is
not the account's), and recordings as MP3, 404 (error 20404) while Twilio is still processing them."""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

ACCOUNT = re.compile(r"/2010-04-01/Accounts/(?P<sid>[^/]+?)"
                     r"(?P<rest>\.json|/Calls\.json|/Recordings/(?P<rec>[^/]+)\.mp3)")
ADDRESS = re.compile(r"\+[1-9]\d{6,14}|client:[A-Za-z0-9_.@-]{1,256}|sip:[^@\s]+@[^\s]+")


@dataclass
class Seen:
    """One request as the server got it."""

    method: str
    path: str
    form: dict[str, list[str]]
    authorization: str | None


@dataclass
class FakeTwilio:
    account_sid: str
    auth_token: str
    numbers: tuple[str, ...]  # the account's own numbers: a call's From must be one of them
    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    recordings: dict[str, bytes | None] = field(default_factory=dict)  # None: still processing
    account_status: str = "active"
    refuse_with: tuple[int, dict[str, Any]] | None = None  # the next Calls.json answer, when set

    def reset(self) -> None:
        self.seen.clear()
        self.recordings.clear()
        self.account_status, self.refuse_with = "active", None

    def calls(self) -> list[Seen]:
        return [s for s in self.seen if s.path.endswith("/Calls.json")]

    # -- answering --------------------------------------------------------------------------------------------

    def answer(self, method: str, path: str, form: dict[str, list[str]], authorization: str | None
               ) -> tuple[int, str, bytes]:
        self.seen.append(Seen(method, path, form, authorization))
        if not self._authorised(authorization):
            return _error(401, 20003, "Authenticate")
        match = ACCOUNT.fullmatch(path)
        if match is None or match["sid"] != self.account_sid:
            return _error(404, 20404, f"The requested resource {path} was not found")
        rest = match["rest"]
        if rest == ".json" and method == "GET":
            return _json(200, {"sid": self.account_sid, "friendly_name": "Mayak test account",
                               "status": self.account_status, "type": "Full"})
        if rest == "/Calls.json" and method == "POST":
            return self._create_call(form)
        if match["rec"] and method == "GET":
            audio = self.recordings.get(match["rec"])
            if audio is None:
                return _error(404, 20404, f"The requested resource {path} was not found")
            return 200, "audio/mpeg", audio
        return _error(405, 20004, "Method not allowed")

    def _authorised(self, header: str | None) -> bool:
        scheme, _, encoded = (header or "").partition(" ")
        if scheme != "Basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return (user, password) == (self.account_sid, self.auth_token)

    def _create_call(self, form: dict[str, list[str]]) -> tuple[int, str, bytes]:
        one = {k: v[0] for k, v in form.items()}
        to, source = one.get("To", ""), one.get("From", "")
        if not to:
            return _error(400, 21201, "No 'To' number is specified")
        if not (one.get("Url") or one.get("Twiml") or one.get("ApplicationSid")):
            return _error(400, 21205, "Url parameter is required.")
        if not ADDRESS.fullmatch(to):
            return _error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if source not in self.numbers:
            return _error(400, 21210, f"The source phone number provided, {source}, is not yet verified for "
                          "your account.")
        if self.refuse_with is not None:
            status, body = self.refuse_with
            self.refuse_with = None
            return _json(status, body)
        sid = "CA" + uuid.uuid4().hex
        return _json(201, {"sid": sid, "account_sid": self.account_sid, "to": to, "from": source,
                           "status": "queued", "direction": "outbound-api", "api_version": "2010-04-01",
                           "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{sid}.json"})


def _json(status: int, body: dict[str, Any]) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(body).encode()


def _error(status: int, code: int, message: str) -> tuple[int, str, bytes]:
    return _json(status, {"code": code, "message": message, "status": status,
                          "more_info": f"https://www.twilio.com/docs/errors/{code}"})


@contextmanager
def serve(fake: FakeTwilio) -> Iterator[FakeTwilio]:
    """``fake`` on a free loopback port until the block ends (``fake.url`` is set)."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            form = parse_qs(raw.decode("utf-8"), keep_blank_values=True) if raw else {}
            status, content_type, body = fake.answer(self.command, self.path.partition("?")[0], form,
                                                     self.headers.get("Authorization"))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
