"""Webhooks in: what a provider plugin declares (:class:`WebhookEndpoint`, through ``register_webhooks``) and the
neutral request and delivery it is handed. The core does the common work — size limit, method and content type,
the plugin's signature check, the source allow-list, de-duplication by the provider's delivery id, the stored
delivery with its outcome, the job — so an endpoint only says how to verify, identify and handle a delivery.
See ``docs/webhooks.md``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from core.errors import StartupError

DEFAULT_MAX_BYTES = 256 * 1024
HARD_MAX_BYTES = 8 * 1024 * 1024  # no endpoint may take more: a delivery is kept in the database
_PATH = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}(/[a-z0-9][a-z0-9._-]{0,63}){0,3}")
# Never stored, whatever the endpoint declares: credentials and what a browser would carry.
ALWAYS_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
# A header or query parameter whose name says it holds a credential is not stored either.
SECRET_NAME = re.compile(r"secret|token|passw|api[-_]?key|auth|session|credential", re.IGNORECASE)


class MalformedBody(ValueError):
    """Raised by ``verify``, ``delivery_id`` or a handler when the body cannot be read (broken JSON, a field
    missing): the sender gets a 400 with ``message`` and no stack trace; nothing is run."""

    def __init__(self, message: str = "malformed body") -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class WebhookRequest:
    """An HTTP request as a provider sent it, without Flask: what ``verify`` and ``delivery_id`` read, and what a
    handler gets back (from storage, so without the secret headers) in :attr:`InboundDelivery.request`.

    ``headers`` have lower-case names; ``query`` keeps repeated parameters as lists. ``url`` is the whole address
    as the provider called it (scheme, host, path and query; behind nginx set ``MAYAK_BEHIND_PROXY`` so it is the
    public one), for providers that sign it (Twilio); it is empty in a stored delivery."""

    method: str
    path: str
    headers: Mapping[str, str]
    query: Mapping[str, list[str]]
    body: bytes
    remote_addr: str = ""
    content_type: str = ""
    url: str = ""

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else default

    @property
    def text(self) -> str:
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedBody("the body is not UTF-8 text") from exc

    def json(self) -> Any:
        """The body as JSON; :class:`MalformedBody` when it is not JSON (``NaN``, a thousand-deep nesting and
        bytes that are not UTF-8 included)."""
        try:
            return json.loads(self.body, parse_constant=_refuse_constant)
        except (RecursionError, ValueError, UnicodeDecodeError) as exc:
            raise MalformedBody("the body is not valid JSON") from exc

    def form(self) -> dict[str, list[str]]:
        """A form-encoded body (``a=1&b=2``), every value as a list."""
        try:
            return parse_qs(self.text, keep_blank_values=True, strict_parsing=bool(self.body), max_num_fields=1000)
        except ValueError as exc:
            raise MalformedBody("the body is not form-encoded") from exc


@dataclass(frozen=True)
class WebhookAnswer:
    """What an inline endpoint answers the provider (a PBX's routing instructions); a handler may also return a
    ``dict``/``list`` (sent as JSON), ``str`` or ``bytes``."""

    status: int = 200
    body: bytes | str = b""
    content_type: str = "text/plain; charset=utf-8"

    @classmethod
    def of(cls, value: Any) -> WebhookAnswer:
        if isinstance(value, WebhookAnswer):
            return value
        if value is None:
            return cls()
        if isinstance(value, dict | list):
            return cls(200, json.dumps(value, ensure_ascii=False), "application/json")
        if isinstance(value, bytes):
            return cls(200, value, "application/octet-stream")
        return cls(200, str(value))

    @property
    def data(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


@dataclass(frozen=True)
class InboundDelivery:
    """A stored delivery as a handler receives it (the first time and on every replay)."""

    id: int
    plugin: str
    endpoint: str
    external_id: str | None
    request: WebhookRequest
    received_at: datetime
    attempt: int
    replay: bool = False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _no_id(_request: WebhookRequest) -> str | None:
    return None


@dataclass(frozen=True, kw_only=True)
class WebhookEndpoint:
    """One endpoint a plugin declares in ``register_webhooks``; mounted at ``/webhooks/<plugin>/<path>``.

    * ``verify(request) -> bool``: the provider's signature check. Compare with :func:`signature_matches`
      (constant time). A ``False`` is a 403; the delivery is kept as refused and no handler runs.
    * ``delivery_id(request) -> str | None``: the provider's delivery or event id; a delivery whose id was seen
      before answers 200 and changes nothing. ``None``: no de-duplication for this one.
    * ``handle(delivery)``: runs in a background job by default, and again on replay; keep it idempotent.
      With ``inline=True`` it runs while the provider waits and its return value is the answer
      (:class:`WebhookAnswer`, a dict, a str); after ``deadline_ms`` the provider gets ``fallback`` instead.
    * ``allow_from``: CIDR networks the delivery may come from (empty: any); an administrator may narrow it
      with ``MAYAK_WEBHOOK_ALLOW_<PLUGIN>``.
    * ``secret_headers``: header (and query parameter) names never stored, beyond ``Authorization``, cookies
      and any name with secret/token/auth/key in it.
    """

    path: str
    handle: Callable[[InboundDelivery], Any]
    verify: Callable[[WebhookRequest], bool]
    delivery_id: Callable[[WebhookRequest], str | None] = _no_id
    methods: tuple[str, ...] = ("POST",)
    content_types: tuple[str, ...] = ("application/json",)
    inline: bool = False
    deadline_ms: int = 2000
    fallback: WebhookAnswer = field(default_factory=WebhookAnswer)
    max_bytes: int = DEFAULT_MAX_BYTES
    allow_from: tuple[str, ...] = ()
    secret_headers: tuple[str, ...] = ()
    label: Any = None
    plugin: str = ""  # filled in by the core from the plugin that returned it

    def secret_names(self) -> frozenset[str]:
        return ALWAYS_SECRET_HEADERS | {name.lower() for name in self.secret_headers}


def signature_matches(expected: str | bytes, given: str | bytes | None) -> bool:
    """Compare a computed signature with the one the provider sent, in constant time; ``False`` for none."""
    if given is None or given == "" or given == b"":
        return False
    left = expected.encode("utf-8") if isinstance(expected, str) else expected
    right = given.encode("utf-8", "surrogateescape") if isinstance(given, str) else given
    return hmac.compare_digest(left, right)


def hmac_hex(secret: str | bytes, message: bytes, digest: str = "sha256") -> str:
    """The hex HMAC of ``message`` (most providers sign the raw body so): compare it with
    :func:`signature_matches`, never with ``==``."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(key, message, getattr(hashlib, digest)).hexdigest()


def networks(cidrs: tuple[str, ...] | list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip()]


def address_allowed(address: str, allowed: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    """Whether ``address`` lies in one of ``allowed`` (an empty list allows every address)."""
    if not allowed:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in allowed)


def collect(declared: Iterable[tuple[str, Iterable[Any]]]) -> dict[tuple[str, str], WebhookEndpoint]:
    """Every declared endpoint by ``(plugin, path)``, from the ``(plugin, endpoints)`` answers of
    ``register_webhooks`` (``manager.call("register_webhooks", Policy.STRICT)``); a wrong declaration stops
    start-up with one line."""
    found: dict[tuple[str, str], WebhookEndpoint] = {}
    for plugin, endpoints in declared:
        for endpoint in endpoints or []:
            _check(plugin, endpoint)
            key = (plugin, endpoint.path)
            if key in found:
                raise StartupError(f"plugin {plugin!r} declares the webhook {endpoint.path!r} twice")
            found[key] = _with_plugin(endpoint, plugin)
    return found


def _with_plugin(endpoint: WebhookEndpoint, plugin: str) -> WebhookEndpoint:
    from dataclasses import replace

    return replace(endpoint, plugin=plugin, methods=tuple(m.upper() for m in endpoint.methods),
                   content_types=tuple(c.lower() for c in endpoint.content_types))


def _check(plugin: str, endpoint: Any) -> None:
    where = f"plugin {plugin!r}: webhook"
    if not isinstance(endpoint, WebhookEndpoint):
        raise StartupError(f"{where}s must be WebhookEndpoint objects, not {type(endpoint).__name__}")
    if not _PATH.fullmatch(endpoint.path):
        raise StartupError(f"{where} path {endpoint.path!r} must be lower-case letters, digits, '.', '_', '-' "
                           "in at most four parts")
    if not 0 < endpoint.max_bytes <= HARD_MAX_BYTES:
        raise StartupError(f"{where} {endpoint.path!r}: max_bytes must be from 1 to {HARD_MAX_BYTES}")
    if endpoint.inline and not 0 < endpoint.deadline_ms <= 30_000:
        raise StartupError(f"{where} {endpoint.path!r}: deadline_ms must be from 1 to 30000")
    if not endpoint.methods or not set(m.upper() for m in endpoint.methods) <= {"GET", "POST", "PUT"}:
        raise StartupError(f"{where} {endpoint.path!r}: methods must be among GET, POST, PUT")
    try:
        networks(endpoint.allow_from)
    except ValueError as exc:
        raise StartupError(f"{where} {endpoint.path!r}: allow_from: {exc}") from exc
