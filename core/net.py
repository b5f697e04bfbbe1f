"""Outbound HTTP: the one gate every URL Mayak fetches goes through — webhooks now, call recordings and avatars
next, and any plugin's (it is exported from :mod:`core.plugins`).

A URL an admin or a provider gives us must not become a way into the network Mayak runs in (SSRF). So:

* the URL is read strictly: ``http``/``https`` only, no ``user@`` part, no spaces, control characters or
  backslashes, and an IP address only in its usual spelling (``0177.0.0.1``, ``2130706433``, ``127.1`` and
  ``0x7f000001`` all mean 127.0.0.1 to the C resolver, so they are refused rather than guessed at);
* the host name is resolved once, and EVERY address it resolves to is checked — IPv4 and IPv6, and the IPv4
  address inside IPv4-mapped, -compatible, 6to4 and NAT64 IPv6 addresses — against loopback, private (RFC 1918,
  ULA), link-local, carrier-grade NAT, multicast, unspecified, reserved and cloud metadata ranges;
* the connection goes to the checked address (no second lookup a DNS-rebinding server could answer otherwise),
  with the original ``Host`` header, and for https the certificate is verified for the host name (SNI);
* redirects are followed by hand, each hop checked the same way, at most :data:`MAX_REDIRECTS`, never from
  https down to http;
* one deadline covers the whole exchange and the answer's body is capped.

The only way through for an address inside those ranges is the administrator's allow-list,
``MAYAK_FETCH_ALLOW`` (host names and networks, comma-separated, e.g. ``hooks.corp.example,10.20.0.0/16``).
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_SETTING = "MAYAK_FETCH_ALLOW"
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5
MAX_URL = 2048
REDIRECTS = {301, 302, 303, 307, 308}

_net = ipaddress.ip_network

# Checked first, so a metadata service is named as such (and a host-name allow entry never opens it).
METADATA = tuple(_net(n) for n in ("169.254.169.254/32", "169.254.170.2/32", "100.100.100.200/32",
                                   "192.0.0.192/32", "fd00:ec2::254/128"))
_V4: tuple[tuple[IPNetwork, str], ...] = tuple((_net(n), kind) for n, kind in (
    ("0.0.0.0/8", "unspecified"), ("127.0.0.0/8", "loopback"), ("10.0.0.0/8", "private"),
    ("172.16.0.0/12", "private"), ("192.168.0.0/16", "private"), ("100.64.0.0/10", "cgnat"),
    ("169.254.0.0/16", "link-local"), ("224.0.0.0/4", "multicast"), ("240.0.0.0/4", "reserved"),  # + broadcast
    ("192.0.0.0/24", "reserved"), ("192.0.2.0/24", "reserved"), ("192.88.99.0/24", "reserved"),
    ("198.18.0.0/15", "reserved"), ("198.51.100.0/24", "reserved"), ("203.0.113.0/24", "reserved"),
))
_V6: tuple[tuple[IPNetwork, str], ...] = tuple((_net(n), kind) for n, kind in (
    ("::/128", "unspecified"), ("::1/128", "loopback"), ("fc00::/7", "private"), ("fec0::/10", "private"),
    ("fe80::/10", "link-local"), ("ff00::/8", "multicast"), ("64:ff9b:1::/48", "private"),
    ("100::/64", "reserved"), ("2001::/23", "reserved"), ("2001:db8::/32", "reserved"), ("3fff::/20", "reserved"),
    ("5f00::/16", "reserved"),
))
_MAPPED = _net("::ffff:0:0/96")
_TRANSLATED = _net("::ffff:0:0:0/96")
_COMPATIBLE = _net("::/96")
_NAT64 = _net("64:ff9b::/96")
_SIX_TO_FOUR = _net("2002::/16")

def N_(message: str) -> str:
    """Mark an English message for the catalogue; :class:`FetchError` translates it when it is shown."""
    return message


KINDS = {
    "metadata": N_("a cloud metadata service"),
    "loopback": N_("this server itself (loopback)"),
    "private": N_("a private network"),
    "link-local": N_("a link-local address"),
    "cgnat": N_("a carrier-grade NAT address"),
    "multicast": N_("a multicast address"),
    "unspecified": N_("an unspecified address"),
    "reserved": N_("a reserved address"),
}

_BAD_CHARACTERS = re.compile(r"[\x00-\x20\x7f-\x9f\\]")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


class FetchError(Exception):
    """A URL that was not fetched. ``message`` is translatable (shown to people); ``str()`` is the English text
    (logs, job errors, start-up lines), which works before and outside any request. Parameters named in
    ``translated`` are English phrases themselves, translated with the message."""

    def __init__(self, english: str, *, translated: tuple[str, ...] = (), **params: Any) -> None:
        self.params = params
        self.message = _l(english, **{k: _l(v) if k in translated else v for k, v in params.items()})
        super().__init__(english % params if params else english)


class FetchRefused(FetchError):
    """The URL or an address it leads to is not allowed: trying again will not help, the URL must change (or an
    administrator allow-list it)."""


class FetchFailed(FetchError):
    """The network failed (no such host, refused, timed out, TLS, too big an answer): it may work later."""


@dataclass(frozen=True)
class AllowList:
    """Hosts (exact names) and networks an administrator lets Mayak reach although they are not public.

    A host name lets its addresses through whatever they are, except a cloud metadata service (that needs its
    network written out); a network lets through the addresses inside it."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: str | Iterable[str] | None) -> AllowList:
        """``"hooks.corp.example, 10.0.0.0/8, ::1"`` (or a list of such); raises ``ValueError`` naming a bad entry."""
        if entries is None:
            return cls()
        items = entries.split(",") if isinstance(entries, str) else list(entries)
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in items:
            entry = str(raw).strip()
            if not entry:
                continue
            try:
                network = ipaddress.ip_network(entry.replace("[", "").replace("]", ""), strict=False)
            except ValueError:
                pass
            else:
                if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(_MAPPED):  # ::ffff:a.b.c.d/n
                    network = ipaddress.ip_network(f"{network[0].ipv4_mapped}/{network.prefixlen - 96}")
                networks.append(network)
                continue
            try:
                host, literal = _host(entry)
            except FetchRefused as exc:
                raise ValueError(f"{entry!r} is neither a host name nor a network such as 10.0.0.0/8 ({exc})") from exc
            if literal is not None:
                networks.append(ipaddress.ip_network(literal))
            else:
                hosts.add(host)
        return cls(frozenset(hosts), tuple(networks))

    def permits(self, host: str, address: IPAddress) -> bool:
        """Whether ``address`` (which ``host`` resolved to) may be reached although it is not public."""
        inner = embedded_ipv4(address)
        if any(address in n or (inner is not None and inner in n) for n in self.networks):
            return True
        return host in self.hosts and refusal(address) != "metadata"

    def __bool__(self) -> bool:
        return bool(self.hosts or self.networks)


def configured_allow() -> AllowList:
    """The installation's allow-list (``MAYAK_FETCH_ALLOW``); empty outside an app."""
    if not has_app_context():
        return AllowList()
    settings = current_app.extensions.get("mayak.settings")
    return AllowList.parse(getattr(settings, "fetch_allow", ()) or ())


@dataclass(frozen=True)
class Target:
    """A URL read strictly, and the addresses it may be fetched from (all checked)."""

    url: str
    scheme: str
    host: str  # lower-case ASCII (IDNA) name, or the IP address in its usual form
    port: int
    request_target: str  # path and query, percent-encoded
    addresses: tuple[IPAddress, ...] = ()

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port


@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    url: str  # the last hop's URL
    redirects: list[str] = field(default_factory=list)


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, translated, compatible, NAT64, 6to4), if any."""
    if address.version != 6:
        return None
    assert isinstance(address, ipaddress.IPv6Address)
    low = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _MAPPED or address in _TRANSLATED or address in _NAT64:
        return low
    if address in _COMPATIBLE and int(address) > 1:  # :: and ::1 are themselves
        return low
    if address in _SIX_TO_FOUR:
        return address.sixtofour
    return None


def refusal(address: IPAddress) -> str | None:
    """Why Mayak does not connect to ``address`` on its own (a key of :data:`KINDS`), or ``None`` if public."""
    inner = embedded_ipv4(address)
    for candidate in (address, inner):
        if candidate is None:
            continue
        if any(candidate in n for n in METADATA if n.version == candidate.version):
            return "metadata"
        for network, kind in _V4 if candidate.version == 4 else _V6:
            if candidate in network:
                return kind
    effective = inner or address
    return None if effective.is_global else "reserved"


def _refuse_address(host: str, address: IPAddress, kind: str) -> FetchRefused:
    return FetchRefused(N_("%(host)s leads to %(address)s, %(kind)s: Mayak connects there only if an "
                           "administrator adds it to MAYAK_FETCH_ALLOW."),
                        host=host, address=str(address), kind=KINDS[kind], translated=("kind",))


def _host(text: str) -> tuple[str, IPAddress | None]:
    """The host as Mayak will use it, and its address when it is an IP literal. Refuses odd spellings."""
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1]
        if "%" in inner:
            raise FetchRefused(N_("Write the IPv6 address without a zone index."))
        try:
            v6 = ipaddress.IPv6Address(inner)
        except ValueError:
            raise FetchRefused(N_("%(host)s is not a valid IPv6 address."), host=inner[:100]) from None
        return str(v6), v6
    if ":" in text:
        raise FetchRefused(N_("Write an IPv6 address in square brackets, such as https://[2001:db8::1]/."))
    host = text
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")  # also folds full-width digits and dots
        except UnicodeError:
            raise FetchRefused(N_("%(host)s is not a valid host name."), host=text[:100]) from None
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    labels = host.split(".")
    if _NUMERIC_LABEL.match(labels[-1]):  # what resolvers read as an IPv4 address, in whatever spelling
        try:
            v4 = ipaddress.IPv4Address(host)
        except ValueError:
            raise FetchRefused(N_("Write the IP address in its usual form, four numbers from 0 to 255 with dots "
                               "(such as 203.0.113.5).")) from None
        return str(v4), v4
    if not host or len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise FetchRefused(N_("%(host)s is not a valid host name."), host=text[:100])
    return host, None


def parse(url: str) -> Target:
    """Read ``url`` strictly (no lookup). Raises :class:`FetchRefused` saying what to fix."""
    if not isinstance(url, str) or not url:
        raise FetchRefused(N_("Give an address that starts with https:// or http://."))
    if len(url) > MAX_URL:
        raise FetchRefused(N_("The address is longer than %(limit)s characters."), limit=MAX_URL)
    if _BAD_CHARACTERS.search(url):
        raise FetchRefused(N_("The address contains spaces, control characters or backslashes."))
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. characters that turn into "/", "?", "@" or ":" under NFKC
        raise FetchRefused(N_("The address contains characters that change meaning when normalised; write it in "
                              "plain ASCII.")) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not url.lower().startswith(f"{scheme}://"):
        raise FetchRefused(N_("Give an address that starts with https:// or http://."))
    netloc = parts.netloc
    if "@" in netloc:
        raise FetchRefused(N_("Write the address without a user name or password (the part before @)."))
    if netloc.startswith("["):
        end = netloc.find("]")
        host_text, rest = (netloc[: end + 1], netloc[end + 1:]) if end > 0 else (netloc, "")
    else:
        host_text, colon, port_text = netloc.partition(":")
        rest = colon + port_text
        if ":" in port_text:
            raise FetchRefused(N_("Write an IPv6 address in square brackets, such as https://[2001:db8::1]/."))
    if not host_text:
        raise FetchRefused(N_("The address has no host name."))
    host, _literal = _host(host_text)
    port = 443 if scheme == "https" else 80
    if rest:
        digits = rest[1:]
        if not rest.startswith(":") or not digits.isdigit() or not digits.isascii() or not 0 < int(digits) < 65536:
            raise FetchRefused(N_("The port in the address must be a number from 1 to 65535."))
        port = int(digits)
    request_target = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        request_target += "?" + quote(parts.query, safe=_PATH_SAFE + "?")
    return Target(url=url, scheme=scheme, host=host, port=port, request_target=request_target)


def _getaddrinfo(host: str, port: int, timeout: float) -> list[Any]:
    """``socket.getaddrinfo`` within ``timeout`` seconds: the C resolver has no deadline of its own, so it runs in
    a daemon thread that is left behind (and finishes on its own) when DNS is too slow."""
    outcome: dict[str, Any] = {}

    def lookup() -> None:
        try:
            outcome["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError) as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=lookup, name="mayak-dns", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise FetchFailed(N_("%(host)s cannot be found: %(error)s"), host=host,
                          error=f"no DNS answer within {round(timeout, 1)} s")
    if "error" in outcome:
        raise FetchFailed(N_("%(host)s cannot be found: %(error)s"), host=host,
                          error=str(outcome["error"])) from outcome["error"]
    return list(outcome["infos"])


def resolve(host: str, port: int, timeout: float = DEFAULT_TIMEOUT) -> tuple[IPAddress, ...]:
    """Every address ``host`` resolves to, looked up once (raises :class:`FetchFailed` when it does not)."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        return (literal,)
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always this machine, whatever DNS says
        return (ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1"))
    infos = _getaddrinfo(host, port, timeout)
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise FetchFailed(N_("%(host)s cannot be found: %(error)s"), host=host, error="no address")
    return tuple(addresses)


def check_addresses(host: str, addresses: Iterable[IPAddress], allow: AllowList) -> tuple[IPAddress, ...]:
    """``addresses`` if every one of them may be reached; else :class:`FetchRefused` for the first that may not.

    All of them, not the first: a name that resolves to a public and a private address (DNS rebinding, or a
    careless record) would otherwise reach the private one on the next attempt."""
    checked = tuple(addresses)
    for address in checked:
        kind = refusal(address)
        if kind is not None and not allow.permits(host, address):
            raise _refuse_address(host, address, kind)
    return checked


def check_url(url: str, *, allow: AllowList | None = None, lookup: bool = True,
              timeout: float = DEFAULT_TIMEOUT) -> Target:
    """Read ``url`` strictly and check where it leads; the returned target carries the checked addresses to
    connect to. Use it to validate a URL when it is saved (a name that does not resolve raises
    :class:`FetchFailed`, which a form may accept: every fetch checks again)."""
    allow = configured_allow() if allow is None else allow
    target = parse(url)
    if not lookup:
        try:
            literal = ipaddress.ip_address(target.host)
        except ValueError:
            return target
        return _with(target, check_addresses(target.host, [literal], allow))
    return _with(target, check_addresses(target.host, resolve(target.host, target.port, timeout), allow))


def connect(host: str, port: int, *, allow: AllowList | None = None,
            timeout: float = DEFAULT_TIMEOUT) -> socket.socket:
    """A TCP connection to ``host:port`` through the same guard as :func:`fetch`, for the protocols that are not
    HTTP (a PBX's AMI): the name is resolved once, every address it gives is checked (a private, loopback or
    link-local one only when the administrator's ``MAYAK_FETCH_ALLOW`` lists it), and the socket is opened to a
    checked address. Raises :class:`FetchRefused` or :class:`FetchFailed`."""
    allow = configured_allow() if allow is None else allow
    if not 0 < int(port) < 65536:
        raise FetchRefused(N_("%(port)s is not a port number; use 1 to 65535."), port=port)
    host, literal = _host(str(host))
    addresses = [literal] if literal is not None else resolve(host, int(port), timeout)
    checked = check_addresses(host, addresses, allow)
    failure: OSError | None = None
    for address in checked:
        try:
            return socket.create_connection((str(address), int(port)), timeout)
        except OSError as exc:
            failure = exc
    raise FetchFailed(N_("%(host)s refused the connection: %(error)s"), host=f"{host}:{port}",
                      error=str(failure) if failure else "no address")


def _with(target: Target, addresses: tuple[IPAddress, ...]) -> Target:
    return Target(target.url, target.scheme, target.host, target.port, target.request_target, addresses)


class _PinnedHTTP(http.client.HTTPConnection):
    """Talks HTTP to ``address`` while naming ``host`` in the ``Host`` header: no lookup of its own."""

    def __init__(self, host: str, port: int, address: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self.address), self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """The same over TLS: the certificate is verified for ``host``, which is also sent as SNI."""

    def __init__(self, host: str, port: int, address: IPAddress, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self.address = address
        self.tls = context

    def connect(self) -> None:
        sock = socket.create_connection((str(self.address), self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def _remaining(deadline: float, host: str, timeout: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchFailed(N_("%(host)s did not answer within %(seconds)s s."), host=host, seconds=round(timeout, 1))
    return left


def send(target: Target, *, method: str = "GET", body: bytes | None = None,
         headers: Mapping[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT,
         max_bytes: int = DEFAULT_MAX_BYTES, tls: ssl.SSLContext | None = None,
         deadline: float | None = None) -> Response:
    """One request to a checked ``target``, connecting only to its addresses (in order, until one answers).
    No redirect is followed: :func:`fetch` does that."""
    if not target.addresses:
        raise FetchRefused(N_("%(host)s has not been checked."), host=target.host)
    deadline = deadline if deadline is not None else time.monotonic() + timeout
    context = tls or ssl.create_default_context()
    failure: Exception | None = None
    for address in target.addresses:
        left = _remaining(deadline, target.host, timeout)
        connection: http.client.HTTPConnection = (
            _PinnedHTTPS(target.host, target.port, address, left, context) if target.scheme == "https"
            else _PinnedHTTP(target.host, target.port, address, left))
        try:
            try:
                connection.connect()
            except ssl.SSLError as exc:
                raise FetchFailed(N_("The secure connection to %(host)s failed: %(error)s"), host=target.host,
                                  error=str(exc)) from exc
            except OSError as exc:
                failure = exc
                continue
            try:
                connection.request(method, target.request_target, body=body, headers=dict(headers or {}))
                answer = connection.getresponse()
                payload = _read(answer, connection, target, deadline, timeout, max_bytes)
            except (OSError, http.client.HTTPException) as exc:
                if isinstance(exc, TimeoutError) or time.monotonic() >= deadline:
                    raise FetchFailed(N_("%(host)s did not answer within %(seconds)s s."), host=target.host,
                                      seconds=round(timeout, 1)) from exc
                raise FetchFailed(N_("%(host)s broke off the answer: %(error)s"), host=target.host,
                                  error=str(exc) or type(exc).__name__) from exc
            return Response(answer.status, answer.reason, {k.lower(): v for k, v in answer.getheaders()}, payload,
                            target.url)
        finally:
            connection.close()
    if isinstance(failure, TimeoutError):
        raise FetchFailed(N_("%(host)s did not answer within %(seconds)s s."), host=target.host,
                          seconds=round(timeout, 1)) from failure
    raise FetchFailed(N_("%(host)s cannot be reached: %(error)s"), host=target.host,
                      error=str(failure) or "connection failed") from failure


def _read(answer: http.client.HTTPResponse, connection: http.client.HTTPConnection, target: Target,
          deadline: float, timeout: float, max_bytes: int) -> bytes:
    if answer.status in REDIRECTS:
        return b""  # its body is never used; the connection is closed
    length = answer.getheader("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise FetchFailed(N_("The answer of %(host)s is larger than %(limit)s bytes."), host=target.host,
                          limit=max_bytes)
    chunks: list[bytes] = []
    size = 0
    while True:
        if connection.sock is not None:
            connection.sock.settimeout(_remaining(deadline, target.host, timeout))
        chunk = answer.read(min(64 * 1024, max_bytes + 1 - size))
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise FetchFailed(N_("The answer of %(host)s is larger than %(limit)s bytes."), host=target.host,
                              limit=max_bytes)
        chunks.append(chunk)


_ORIGIN_BOUND = {"authorization", "cookie", "proxy-authorization"}


def fetch(url: str, *, method: str = "GET", body: bytes | None = None, headers: Mapping[str, str] | None = None,
          timeout: float = DEFAULT_TIMEOUT, max_bytes: int = DEFAULT_MAX_BYTES, max_redirects: int = MAX_REDIRECTS,
          allow: AllowList | None = None, tls: ssl.SSLContext | None = None) -> Response:
    """Fetch ``url`` through the guard: every hop checked (:func:`check_url`) and pinned, redirects followed by
    hand (a 303, or a 301/302 after a POST, continues as a GET without the body, as browsers do), ``timeout``
    seconds for everything, at most ``max_bytes`` of answer. Raises :class:`FetchRefused` or :class:`FetchFailed`.
    """
    allow = configured_allow() if allow is None else allow
    deadline = time.monotonic() + timeout
    sent = dict(headers or {})
    hops: list[str] = []
    current = url
    while True:
        target = check_url(current, allow=allow, timeout=_remaining(deadline, url[:200], timeout))
        response = send(target, method=method, body=body, headers=sent, timeout=timeout, max_bytes=max_bytes,
                        tls=tls, deadline=deadline)
        location = response.headers.get("location")
        if response.status not in REDIRECTS or not location:
            response.redirects = hops
            return response
        if len(hops) >= max_redirects:
            raise FetchRefused(N_("%(url)s redirects more than %(count)s times."), url=url[:200], count=max_redirects)
        following = urljoin(target.url, location.strip())
        if target.scheme == "https" and not following.lower().startswith("https:"):
            raise FetchRefused(N_("%(url)s redirects from https to http; Mayak does not follow that."), url=url[:200])
        hops.append(following)
        if response.status == 303 or (response.status in (301, 302) and method.upper() == "POST"):
            method, body = "GET", None
            sent = {k: v for k, v in sent.items() if k.lower() not in ("content-type", "content-length")}
        next_target = parse(following)
        if next_target.origin != target.origin:
            sent = {k: v for k, v in sent.items() if k.lower() not in _ORIGIN_BOUND}
        current = following
