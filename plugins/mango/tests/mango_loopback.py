"""Mango Office's VPBX API on a loopback port, as its documentation describes it, for the plugin's tests.

Every request is a form POST of ``vpbx_api_key``, ``sign`` and ``json``; the server recomputes
``sha256(key + json + salt)`` itself and refuses a wrong key (3105) or signature (3102) with HTTP 401. It answers
``commands/callback`` (1000, or the code set for the dialled number), ``commands/route`` and
``commands/call/hangup`` (1000), ``config/users/request`` (the employees), and ``queries/recording/post`` with a
302 to a temporary link under ``/files/`` — or 3320 while a recording is still being prepared. Accepted requests
are kept in ``requests`` as ``(path, payload)``, refused ones in ``refused``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class MangoServer:
    api_key: str
    api_salt: str
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refused: list[tuple[str, int]] = field(default_factory=list)
    callback_results: dict[str, int] = field(default_factory=dict)  # dialled number → Mango's result code
    recordings: dict[str, bytes] = field(default_factory=dict)  # recording_id → audio
    preparing: dict[str, int] = field(default_factory=dict)  # recording_id → how many more asks get 3320
    users: list[dict[str, Any]] = field(default_factory=list)
    delay: float = 0.0  # seconds every command waits before answering
    port: int = 0
    _links: dict[str, str] = field(default_factory=dict)  # temporary link token → recording_id
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/vpbx/"

    def reset(self) -> MangoServer:
        self.requests.clear()
        self.refused.clear()
        self.callback_results.clear()
        self.recordings.clear()
        self.preparing.clear()
        self._links.clear()
        self.users[:] = []
        self.delay = 0.0
        return self

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def start(self) -> MangoServer:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads, self._server.block_on_close = True, False  # a slow answer never holds up close
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- what the API answers -------------------------------------------------------------------------------

    def answer(self, path: str, data: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        """(status, JSON body, extra headers) for one accepted request."""
        if path == "commands/callback":
            if not isinstance(data.get("from"), dict) or not data["from"].get("extension") \
                    or not data.get("to_number") or not data.get("command_id"):
                return 200, {"result": 3103}, {}
            return 200, {"result": self.callback_results.get(str(data["to_number"]), 1000)}, {}
        if path in ("commands/route", "commands/call/hangup"):
            ok = data.get("call_id") and data.get("command_id") and (path != "commands/route" or data.get("to_number"))
            return 200, {"result": 1000 if ok else 3103}, {}
        if path == "config/users/request":
            return 200, {"users": self.users}, {}
        if path == "queries/recording/post":
            recording = str(data.get("recording_id") or "")
            if self.preparing.get(recording, 0) > 0:
                self.preparing[recording] -= 1
                return 404, {"result": 3320}, {}
            if recording not in self.recordings:
                return 404, {"result": 3320}, {}
            token = secrets.token_hex(8)
            self._links[token] = recording
            return 302, {}, {"Location": f"/files/{token}.mp3"}
        return 404, {"result": 3000}, {}

    def check(self, form: dict[str, list[str]]) -> tuple[int | None, str, dict[str, Any]]:
        """(refusal code or None, path-independent payload) of a signed form."""
        fields = {name: (form.get(name) or [""])[0] for name in ("vpbx_api_key", "sign", "json")}
        if fields["vpbx_api_key"] != self.api_key:
            return 3105, "", {}
        expected = hashlib.sha256((fields["vpbx_api_key"] + fields["json"] + self.api_salt).encode()).hexdigest()
        if fields["sign"] != expected:
            return 3102, "", {}
        try:
            data = json.loads(fields["json"])
        except ValueError:
            return 3104, "", {}
        return None, fields["json"], data if isinstance(data, dict) else {}


def _handler(api: MangoServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a test of a slow Mango): as a real server, carry on

        def do_GET(self) -> None:  # the temporary link to a recording's file
            token = self.path.removeprefix("/files/").removesuffix(".mp3")
            recording = api._links.pop(token, None)
            if recording is None:
                self._send(404, b"gone", "text/plain")
                return
            self._send(200, api.recordings[recording], "audio/mpeg")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8")
            path = self.path.split("?")[0].removeprefix("/vpbx/")
            if self.headers.get("Content-Type", "").split(";")[0] != "application/x-www-form-urlencoded":
                self._send(400, json.dumps({"result": 3000}).encode(), "application/json")
                return
            code, _, data = api.check(parse_qs(raw, keep_blank_values=True))
            if code is not None:
                api.refused.append((path, code))
                self._send(401, json.dumps({"result": code}).encode(), "application/json")
                return
            api.requests.append((path, data))
            if api.delay:
                time.sleep(api.delay)
            status, body, headers = api.answer(path, data)
            self._send(status, json.dumps(body).encode() if body else b"", "application/json", headers)

        def log_message(self, *args: object) -> None:
            pass

    return Handler
