"""The Asterisk Manager Interface (AMI) over a plain TCP socket, standard library only.

AMI is a line protocol: the server greets with one line (``Asterisk Call Manager/7.0.3``), then both sides send
messages of ``Key: Value`` lines ended by an empty line (``\\r\\n`` separated). We send actions (``Action: Login``,
``Ping``, ``Originate``...) with an ``ActionID``; the server answers each with ``Response: Success``/``Error`` and the
same ``ActionID``, and, when the session asked for them (``Events: on``), sends events (``Event: Newchannel``...)
at any moment in between. List actions answer ``Response: Success`` with ``EventList: start`` and then one event per
item, ended by a ``...Complete`` event carrying the same ``ActionID``.

The reader is built for a peer we do not trust: a line longer than :data:`MAX_LINE` bytes is dropped without being
kept in memory, a message keeps at most :data:`MAX_FIELDS` fields, values lose control characters (PostgreSQL
refuses NUL in text) and bytes that are not UTF-8 become U+FFFD. What we send is checked too: a value with a line
break would smuggle a second action into the stream, so it is refused.
"""

from __future__ import annotations

import itertools
import re
import socket
import time
from collections.abc import Iterable, Sequence

from mayak import AllowList, FetchError, open_connection

BANNER = "Asterisk Call Manager/"
MAX_LINE = 8 * 1024  # the longest line kept; Asterisk's own values are far shorter
MAX_FIELDS = 128  # fields kept per message (a PJSIP endpoint listing has ~20)
MAX_VALUE = 1024  # characters kept of one value
MAX_BANNER = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_()/-]{0,63}")


class AmiError(Exception):
    """The manager interface could not be used: unreachable, not an AMI server, the connection lost, a timeout."""


class AmiRefused(AmiError):
    """Asterisk answered an action with ``Response: Error``; ``str()`` is its ``Message``."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(message or f"{action} refused")
        self.action = action
        self.message = message


class LoginRefused(AmiRefused):
    """The username or secret is wrong, or the manager user may not connect from our address."""


class Message:
    """One AMI message: its fields in order (a key may repeat, as ``ChanVariable`` and ``Variable`` do); lookups
    ignore the case of keys, as Asterisk does."""

    __slots__ = ("_first", "fields")

    def __init__(self, fields: Sequence[tuple[str, str]]) -> None:
        self.fields: tuple[tuple[str, str], ...] = tuple(fields)
        first: dict[str, str] = {}
        for key, value in self.fields:
            first.setdefault(key.lower(), value)
        self._first = first

    def get(self, key: str, default: str = "") -> str:
        """The first value of ``key`` ("" when the message has none)."""
        return self._first.get(key.lower(), default)

    def all(self, key: str) -> list[str]:
        wanted = key.lower()
        return [value for k, value in self.fields if k.lower() == wanted]

    @property
    def event(self) -> str:
        return self.get("Event")

    @property
    def response(self) -> str:
        return self.get("Response")

    @property
    def action_id(self) -> str:
        return self.get("ActionID")

    def variables(self, prefix: str = "") -> dict[str, str]:
        """Channel variables the event carries (``manager.conf`` ``channelvars``): ``ChanVariable: NAME=value``
        for the channel, ``DestChanVariable`` for the dialled one (``prefix="Dest"``); Asterisk 1.8 wrote
        ``ChanVariable(PJSIP/101-0001): NAME=value``."""
        key = f"{prefix}chanvariable".lower()
        found: dict[str, str] = {}
        for name, value in self.fields:
            lowered = name.lower()
            if lowered == key or (lowered.startswith(key + "(") and lowered.endswith(")")):
                variable, sep, content = value.partition("=")
                if sep and variable.strip():
                    found.setdefault(variable.strip().upper(), content.strip())
        return found

    def as_dict(self) -> dict[str, str]:
        """The fields as a plain mapping (repeated keys keep their first value): a ``CallEvent``'s ``raw``."""
        found: dict[str, str] = {}
        for key, value in self.fields:
            found.setdefault(key, value)
        return found

    def __repr__(self) -> str:
        return f"Message({self.as_dict()!r})"


class MessageReader:
    """Turns the bytes of an AMI stream into :class:`Message` items, however the bytes are split."""

    def __init__(self) -> None:
        self._partial = bytearray()
        self._skipping = False  # inside a line longer than MAX_LINE: drop bytes up to its end
        self._fields: list[tuple[str, str]] = []

    def feed(self, data: bytes) -> list[Message]:
        messages: list[Message] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            piece = data[start:end]
            start = end + 1
            if self._skipping:
                self._skipping = False
                self._partial.clear()
                continue
            if len(self._partial) + len(piece) > MAX_LINE:
                self._partial.clear()
                continue
            self._partial += piece
            line = bytes(self._partial)
            self._partial.clear()
            message = self._line(line)
            if message is not None:
                messages.append(message)
        rest = data[start:]
        if not self._skipping:
            if len(self._partial) + len(rest) > MAX_LINE:
                self._partial.clear()
                self._skipping = True
            else:
                self._partial += rest
        return messages

    def _line(self, raw: bytes) -> Message | None:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        if not text.strip():
            if not self._fields:
                return None
            message, self._fields = Message(self._fields), []
            return message
        key, sep, value = text.partition(":")
        key = key.strip()
        if not sep or not _KEY.fullmatch(key) or len(self._fields) >= MAX_FIELDS:
            return None  # not a field (a stray line, command output): ignored
        self._fields.append((key, clean(value)))
        return None


def clean(value: str) -> str:
    """A received value as kept: trimmed, control characters removed, at most :data:`MAX_VALUE` characters."""
    return _CONTROL.sub("", value).strip()[:MAX_VALUE]


def encode(action: str, fields: Iterable[tuple[str, str]]) -> bytes:
    """One action on the wire. Refuses a key or value that could break the framing (a line break smuggles a second
    action in: ``Exten: 100\\r\\nAction: Command``)."""
    lines = [("Action", action), *fields]
    out = []
    for key, value in lines:
        text = str(value)
        if not _KEY.fullmatch(key) or "\r" in text or "\n" in text or "\x00" in text:
            raise ValueError(f"AMI field {key!r} has a character that would break the message")
        out.append(f"{key}: {text}\r\n")
    out.append("\r\n")
    return "".join(out).encode("utf-8")


class AmiConnection:
    """One manager session. ``open()`` connects and reads the greeting, ``login()`` authenticates; ``request()``
    sends an action and waits for its answer, keeping the events that arrive meanwhile for :meth:`receive`.

    Not thread-safe: one thread uses a connection."""

    def __init__(self, host: str, port: int, *, timeout: float = 5.0, allow: AllowList | None = None) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.allow = allow  # None: the installation's MAYAK_FETCH_ALLOW
        self.version = ""
        self._sock: socket.socket | None = None
        self._reader = MessageReader()
        self._backlog: list[Message] = []
        self._ids = itertools.count(1)

    # -- the session ---------------------------------------------------------------------------------------

    def open(self) -> str:
        """Connect and read the greeting; the AMI version (``7.0.3``). :class:`AmiError` when nobody answers or
        the peer is not an Asterisk manager."""
        try:  # through the SSRF guard: a PBX on the office network is reached when MAYAK_FETCH_ALLOW lists it
            self._sock = open_connection(self.host, self.port, timeout=self.timeout, allow=self.allow)
        except FetchError as exc:
            raise AmiError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        deadline = time.monotonic() + self.timeout
        banner = bytearray()
        while b"\n" not in banner:
            if len(banner) > MAX_BANNER:
                break
            try:
                chunk = self._recv(deadline)
            except AmiError:
                chunk = b""
            if not chunk:
                self.close()
                what = "did not greet in time" if chunk is None else "closed the connection before greeting"
                raise AmiError(f"{self.host}:{self.port} {what}")
            banner += chunk
        line, _, rest = bytes(banner).partition(b"\n")
        text = line.decode("utf-8", "replace").strip()
        if not text.startswith(BANNER):
            self.close()
            raise AmiError(f"{self.host}:{self.port} is not an Asterisk manager interface")
        self.version = clean(text[len(BANNER):])[:40]
        self._backlog.extend(self._reader.feed(rest))
        return self.version

    def login(self, username: str, secret: str, *, events: bool) -> None:
        """``Action: Login``; with ``events`` the session receives the events its manager user may read."""
        answer = self.request("Login", [("Username", username), ("Secret", secret),
                                        ("Events", "on" if events else "off")], raise_error=False)
        if answer.response.lower() != "success":
            raise LoginRefused("Login", answer.get("Message") or "Authentication failed")

    def send(self, action: str, fields: Iterable[tuple[str, str]] = (), *, action_id: str | None = None) -> str:
        """Send an action without waiting; its ``ActionID``."""
        if self._sock is None:
            raise AmiError("not connected")
        action_id = action_id or f"mayak-{next(self._ids)}"
        data = encode(action, [("ActionID", action_id), *fields])
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise AmiError(f"lost the connection to {self.host}:{self.port}: {exc}") from exc
        return action_id

    def request(self, action: str, fields: Iterable[tuple[str, str]] = (), *, action_id: str | None = None,
                raise_error: bool = True) -> Message:
        """Send an action and wait (at most ``timeout`` seconds) for its answer; :class:`AmiRefused` for
        ``Response: Error`` unless ``raise_error`` is false."""
        sent = self.send(action, fields, action_id=action_id)
        deadline = time.monotonic() + self.timeout
        while True:
            for index, message in enumerate(self._backlog):
                if message.response and message.action_id == sent:
                    del self._backlog[index]
                    if raise_error and message.response.lower() == "error":
                        raise AmiRefused(action, message.get("Message"))
                    return message
            if not self._read(deadline):
                raise AmiError(f"no answer to {action} from {self.host}:{self.port}")

    def collect(self, action: str, fields: Iterable[tuple[str, str]] = (), *,
                limit: int = 10_000) -> list[Message]:
        """A list action (``PJSIPShowEndpoints``, ``SIPpeers``): its item events, up to the ``...Complete`` event;
        at most ``limit`` items are kept."""
        sent = self.request(action, fields).action_id
        items: list[Message] = []
        others: list[Message] = []
        deadline = time.monotonic() + self.timeout
        while True:
            pending, self._backlog = self._backlog, []
            for index, message in enumerate(pending):
                if not (message.event and message.action_id == sent):
                    others.append(message)
                elif message.get("EventList").lower() == "complete" or message.event.endswith("Complete"):
                    self._backlog = others + pending[index + 1:]
                    return items
                elif len(items) < limit:
                    items.append(message)
            if not self._read(deadline):
                self._backlog = others + self._backlog
                raise AmiError(f"the list {action} did not complete")

    def receive(self, wait: float) -> list[Message] | None:
        """The messages that arrived (waiting at most ``wait`` seconds for some); ``None`` once the connection
        is closed."""
        if not self._backlog and not self._read(time.monotonic() + wait) and self._sock is None:
            return None
        found, self._backlog = self._backlog, []
        return found

    def close(self) -> None:
        """Say goodbye (best effort, briefly) and close the socket."""
        sock, self._sock = self._sock, None
        if sock is None:
            return
        try:
            sock.settimeout(0.5)
            sock.sendall(encode("Logoff", [("ActionID", "mayak-bye")]))
        except OSError:
            pass
        finally:
            sock.close()

    def __enter__(self) -> AmiConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------------------------------

    def _recv(self, deadline: float) -> bytes | None:
        """One read from the socket: the bytes (empty when the peer closed), ``None`` when ``deadline`` passed
        first; :class:`AmiError` when the connection broke."""
        if self._sock is None:
            return b""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        self._sock.settimeout(remaining)
        try:
            return self._sock.recv(65536)
        except TimeoutError:
            return None
        except OSError as exc:
            raise AmiError(f"lost the connection to {self.host}:{self.port}: {exc}") from exc

    def _read(self, deadline: float) -> bool:
        """Read once into the backlog: ``False`` when nothing came before ``deadline`` or the connection is gone
        (then the socket is closed and forgotten)."""
        try:
            chunk = self._recv(deadline)
        except AmiError:
            chunk = b""
        if chunk is None:
            return False
        if not chunk:
            sock, self._sock = self._sock, None
            if sock is not None:
                sock.close()
            return False
        self._backlog.extend(self._reader.feed(chunk))
        return True
