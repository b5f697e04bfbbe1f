"""Zadarma as the plugin's tests meet it: a REST API on a loopback port and the signer of its call notifications.

The signing here is written from Zadarma's documentation and SDK independently of ``plugins.zadarma.wire`` (no
import of it), so a mistake there cannot hide in both. The server refuses a request whose ``Authorization`` is not
``<key>:<signature>`` made with the account's secret, as Zadarma does (401 ``Not authorized``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

KEY, SECRET = "KEY123", "SECRET456"
MOSCOW = ZoneInfo("Europe/Moscow")
SIGNED = {
    "NOTIFY_START": ("caller_id", "called_did", "call_start"),
    "NOTIFY_INTERNAL": ("caller_id", "called_did", "call_start"),
    "NOTIFY_END": ("caller_id", "called_did", "call_start"),
    "NOTIFY_IVR": ("caller_id", "called_did", "call_start"),
    "NOTIFY_ANSWER": ("caller_id", "destination", "call_start"),
    "NOTIFY_OUT_START": ("internal", "destination", "call_start"),
    "NOTIFY_OUT_END": ("internal", "destination", "call_start"),
    "NOTIFY_RECORD": ("pbx_call_id", "call_id_with_rec"),
}


def hex_hmac_base64(secret: str, text: str) -> str:
    """PHP's ``base64_encode(hash_hmac('sha1', $text, $secret))``: base64 of the hex digest."""
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha1).hexdigest().encode()).decode()


def notification_signature(fields: dict[str, str], secret: str = SECRET) -> str:
    return hex_hmac_base64(secret, "".join(fields.get(name, "") for name in SIGNED[fields["event"]]))


def zd_time(moment: datetime) -> str:
    """A moment as Zadarma writes ``call_start``: wall-clock time of the cabinet's zone (Moscow here)."""
    return moment.astimezone(MOSCOW).strftime("%Y-%m-%d %H:%M:%S")


def request_signature(method_path: str, params: dict[str, str], secret: str = SECRET) -> str:
    query = urlencode(sorted(params.items()))  # RFC 1738 (spaces as '+'), as http_build_query
    return hex_hmac_base64(secret, method_path + query + hashlib.md5(query.encode()).hexdigest())  # noqa: S324 (Zadarma's scheme)


@dataclass
class FakeZadarma:
    """What the fake account holds and what it was asked."""

    url: str = ""
    requests: list[tuple[str, dict[str, str], bool]] = field(default_factory=list)  # (path, params, authorised)
    recordings: dict[str, bytes] = field(default_factory=dict)  # call_id_with_rec -> audio
    extensions: dict[str, str] = field(default_factory=lambda: {"100": "Reception", "101": "Olga"})
    callback_error: tuple[int, str] | None = None
    balance: str = "10.34"
    timezone: str = "UTC+3"
    downloads: int = 0

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if path == "/v1/info/balance/":
            return 200, {"status": "success", "balance": float(self.balance), "currency": "USD"}
        if path == "/v1/info/timezone/":
            return 200, {"status": "success", "unixtime": 1483228800, "datetime": "2017-01-01 03:00:00",
                         "timezone": self.timezone}
        if path == "/v1/request/callback/":
            if self.callback_error is not None:
                status, message = self.callback_error
                return status, {"status": "error", "message": message}
            if not params.get("from") or not params.get("to"):
                return 400, {"status": "error", "message": "Wrong parameters!"}
            return 200, {"status": "success", "from": params["from"], "to": params["to"], "time": 1435573082}
        if path == "/v1/pbx/record/request/":
            call_id = params.get("call_id", "")
            if call_id not in self.recordings:
                return 400, {"status": "error", "message": "Record not found"}
            return 200, {"status": "success", "link": f"{self.url}/v1/pbx/record/download/TOKEN/{call_id}.mp3",
                         "lifetime_till": "2030-01-01 00:00:00"}
        if path == "/v1/pbx/internal/":
            return 200, {"status": "success", "pbx_id": 1234, "numbers": [int(n) for n in self.extensions]}
        parts = path.strip("/").split("/")
        if parts[:3] == ["v1", "pbx", "internal"] and len(parts) == 5 and parts[4] == "info" \
                and parts[3] in self.extensions:
            return 200, {"status": "success", "pbx_id": 1234, "number": int(parts[3]),
                         "name": self.extensions[parts[3]], "caller_id": "74951112233", "lines": "3"}
        return 404, {"status": "error", "message": "Method not found"}


@contextmanager
def fake_zadarma() -> Iterator[FakeZadarma]:
    """The fake API on 127.0.0.1 (a free port); the app reaches it with ``MAYAK_FETCH_ALLOW="127.0.0.1"``."""
    account = FakeZadarma()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path.startswith("/v1/pbx/record/download/"):
                call_id = path.rsplit("/", 1)[-1].removesuffix(".mp3")
                audio = account.recordings.get(call_id)
                account.downloads += 1
                self._send(200 if audio else 404, audio or b"", "audio/mpeg")
                return
            params = dict(parse_qsl(query, keep_blank_values=True))
            given = self.headers.get("Authorization") or ""
            key, _, signature = given.partition(":")
            authorised = key == KEY and hmac.compare_digest(signature, request_signature(path, params))
            account.requests.append((path, params, authorised))
            if not authorised:
                status, body = 401, {"status": "error", "message": "Not authorized"}
            elif params.get("format") != "json":
                status, body = 400, {"status": "error", "message": "Wrong format"}
            else:
                status, body = account.answer(path, params)
            self._send(status, json.dumps(body).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    account.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield account
    finally:
        server.shutdown()
        server.server_close()


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
