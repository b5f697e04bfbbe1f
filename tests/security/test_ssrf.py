"""QUALITY 8, SSRF: every URL Mayak fetches goes through ``core.net`` — strict URL reading, every resolved
address checked (any spelling of a loopback, private, link-local, CGNAT, multicast, reserved or metadata address
is refused), the connection pinned to the checked address, every redirect hop checked again, and the
administrator's allow-list (``MAYAK_FETCH_ALLOW``) the only way through. Real servers on loopback throughout."""

from __future__ import annotations

import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import net
from core.db import unit_of_work
from core.net import AllowList, FetchFailed, FetchRefused, Target, check_addresses, check_url, fetch, send

NOTHING = AllowList()

# --- the spellings the attack report used, and their cousins -------------------------------------------------

SPELLINGS = [
    "127.0.0.1", "0177.0.0.1", "2130706433", "127.1", "0x7f000001", "[::ffff:127.0.0.1]", "localhost",
    "LOCALHOST.", "api.localhost", "[::1]", "[0:0:0:0:0:0:0:1]", "0", "0.0.0.0", "[::]",  # noqa: S104
    "127.0.1", "0x7f.1",
    "017700000001", "0X7F000001", "127.0.0.1.", "１２７.０.０.１", "127。0。0。1", "ⓛocalhost",
    "169.254.169.254", "[fd00:ec2::254]", "100.100.100.200", "[::ffff:a9fe:a9fe]", "[::ffff:169.254.169.254]",
    "10.0.0.1", "172.16.5.4", "192.168.1.1", "100.64.0.1", "224.0.0.1", "255.255.255.255", "240.0.0.1",
    "[fe80::1]", "[fc00::1]", "[fd12:3456::1]", "[ff02::1]", "[64:ff9b::7f00:1]", "[64:ff9b::10.0.0.1]",
    "[2002:7f00:1::]", "[2002:a9fe:a9fe::1]", "[::127.0.0.1]", "[::ffff:0:127.0.0.1]", "[::ffff:7f00:1]",
]
URL_TRICKS = [
    "http://evil.example@127.0.0.1/", "http://127.0.0.1#@evil.example/", "http://127.0.0.1\\@evil.example/",
    "http://evil.example:80@127.0.0.1:80/", "ftp://127.0.0.1/", "file:///etc/passwd", "gopher://127.0.0.1:6379/_",
    "dict://127.0.0.1:11211/", "http:/127.0.0.1/", "//127.0.0.1/", "http://127.0.0.1:0/", "http://127.0.0.1:99999/",
    "http://[::1%25lo]/", "http://a b.example/", "http://127.0.0.1\r\nX-Evil: 1/", "HTTP://127.0.0.1/",
    "http://127.0.0.1：80/", "http://[::1/", "http://::1/", "http:///", "http://", "", "javascript:alert(1)",
    "https://example.com\x00.evil/", "http://-bad-.example/",
]


@pytest.mark.parametrize("host", SPELLINGS)
def test_every_spelling_of_an_internal_address_is_refused(host):
    for url in (f"http://{host}/hook", f"https://{host}:8443/x?y=1"):
        with pytest.raises(FetchRefused):
            check_url(url, allow=NOTHING)
        with pytest.raises(FetchRefused):
            fetch(url, allow=NOTHING, timeout=2)


@pytest.mark.parametrize("url", URL_TRICKS)
def test_url_tricks_are_refused(url):
    with pytest.raises(FetchRefused) as info:
        fetch(url, allow=NOTHING, timeout=2)
    assert str(info.value.message)  # a sentence that says what to fix


def test_the_refusal_names_the_address_and_the_way_through():
    with pytest.raises(FetchRefused) as info:
        check_url("http://169.254.169.254/latest/meta-data/", allow=NOTHING)
    assert "cloud metadata" in str(info.value.message) and "MAYAK_FETCH_ALLOW" in str(info.value.message)
    with pytest.raises(FetchRefused) as info:
        check_url("http://0177.0.0.1/", allow=NOTHING)
    assert "usual form" in str(info.value)


# --- the whole class, generated ------------------------------------------------------------------------------

BLOCKED_V4 = [n for n, _kind in net._V4] + [n for n in net.METADATA if n.version == 4]
BLOCKED_V6 = [n for n, _kind in net._V6] + [n for n in net.METADATA if n.version == 6]


@st.composite
def blocked_v4(draw: st.DrawFn) -> ipaddress.IPv4Address:
    network = draw(st.sampled_from(BLOCKED_V4))
    return network[draw(st.integers(0, network.num_addresses - 1))]


def _number(draw: st.DrawFn, value: int) -> str:
    style = draw(st.sampled_from(["dec", "oct", "hex", "HEX"]))
    if style == "oct":
        return "0" + format(value, "o")
    if style == "hex":
        return "0x" + format(value, "x")
    if style == "HEX":
        return "0X" + format(value, "X")
    return str(value)


FULL_WIDTH = str.maketrans("0123456789abcdefxX.", "０１２３４５６７８９ａｂｃｄｅｆｘＸ．")


@st.composite
def v4_spelling(draw: st.DrawFn) -> str:
    """A blocked IPv4 address as resolvers read it: 1 to 4 parts, each decimal, octal or hex, maybe a trailing
    dot, maybe in full-width characters."""
    n = int(draw(blocked_v4()))
    parts = {4: [n >> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255], 3: [n >> 24, (n >> 16) & 255, n & 0xFFFF],
             2: [n >> 24, n & 0xFFFFFF], 1: [n]}[draw(st.sampled_from([4, 3, 2, 1]))]
    text = ".".join(_number(draw, p) for p in parts) + draw(st.sampled_from(["", "."]))
    return text.translate(FULL_WIDTH) if draw(st.booleans()) else text


@st.composite
def v6_spelling(draw: st.DrawFn) -> str:
    """A blocked IPv6 address, or a blocked IPv4 address carried inside one, in compressed, exploded, upper-case
    or dotted-tail form."""
    form = draw(st.sampled_from(["native", "mapped", "compatible", "translated", "nat64", "6to4"]))
    if form == "native":
        network = draw(st.sampled_from(BLOCKED_V6))
        address = network[draw(st.integers(0, min(network.num_addresses, 2**64) - 1))]
        dotted = None
    else:
        inner = draw(blocked_v4())
        base = {"mapped": 0xFFFF << 32, "compatible": 0, "translated": 0xFFFF << 48, "nat64": 0x64FF9B << 96}
        if form == "6to4":
            address = ipaddress.IPv6Address((0x2002 << 112) | (int(inner) << 80) | draw(st.integers(0, 2**64 - 1)))
            dotted = None
        else:
            address = ipaddress.IPv6Address(base[form] | int(inner))
            dotted = {"mapped": "::ffff:", "compatible": "::", "translated": "::ffff:0:", "nat64": "64:ff9b::"}[
                form] + str(inner)
    text = draw(st.sampled_from([c for c in (address.compressed, address.exploded, address.compressed.upper(),
                                             dotted) if c]))
    return f"[{text}]"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(host=st.one_of(v4_spelling(), v6_spelling()), port=st.sampled_from(["", ":80", ":8080", ":443"]),
       scheme=st.sampled_from(["http", "https", "HTTP"]))
def test_generated_internal_addresses_are_refused(host, port, scheme):
    with pytest.raises(FetchRefused):
        check_url(f"{scheme}://{host}{port}/hook?x=1", allow=NOTHING)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address))
def test_public_addresses_pass_and_internal_ones_do_not(address):
    """The ranges are not over-broad: every address Python calls global, and outside our lists, passes."""
    blocked = any(address in n for n in BLOCKED_V4)
    if blocked:
        with pytest.raises(FetchRefused):
            check_url(f"http://{address}/", allow=NOTHING)
    elif address.is_global:
        assert check_url(f"http://{address}/", allow=NOTHING).addresses == (address,)
        mapped = ipaddress.IPv6Address((0xFFFF << 32) | int(address))
        assert check_url(f"http://[{mapped}]/", allow=NOTHING).addresses == (mapped,)


# --- resolution: every address checked (DNS rebinding), and the allow-list -----------------------------------

def test_a_name_with_one_internal_address_among_public_ones_is_refused():
    public, private = ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.1.2.3")
    assert check_addresses("cdn.example", [public], NOTHING) == (public,)
    for addresses in ([public, private], [private, public], [public, ipaddress.ip_address("::ffff:10.1.2.3")],
                      [public, ipaddress.ip_address("fd00:ec2::254")]):
        with pytest.raises(FetchRefused):
            check_addresses("rebind.example", addresses, NOTHING)
    # the real resolver: localhost is loopback on IPv4 and IPv6, whatever /etc/hosts holds
    assert set(net.resolve("localhost", 80)) == {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
    with pytest.raises(FetchRefused):
        check_url("http://localhost:8080/", allow=NOTHING)


def test_the_allow_list_lets_through_what_it_names_and_nothing_else():
    allow = AllowList.parse("hooks.corp.example, 10.20.0.0/16, [fd00:1::]/32, 127.0.0.1")
    inside, outside = ipaddress.ip_address("10.20.3.4"), ipaddress.ip_address("10.21.3.4")
    assert check_addresses("any.example", [inside], allow) == (inside,)
    with pytest.raises(FetchRefused):
        check_addresses("any.example", [outside], allow)
    assert check_addresses("hooks.corp.example", [outside], allow) == (outside,)
    assert check_addresses("x.example", [ipaddress.ip_address("::ffff:127.0.0.1")], allow)
    with pytest.raises(FetchRefused):  # a host name never opens the metadata service: that needs its address
        check_addresses("hooks.corp.example", [ipaddress.ip_address("169.254.169.254")], allow)
    assert check_addresses("x.example", [ipaddress.ip_address("169.254.169.254")],
                           AllowList.parse("169.254.169.254"))
    for bad in ("http://x.example/", "10.0.0.0/33", "a b", "0177.0.0.1"):
        with pytest.raises(ValueError):
            AllowList.parse(bad)


def test_the_allow_list_is_an_installation_setting(make_app, app):
    from core.errors import StartupError

    with app.app_context(), unit_of_work(), pytest.raises(FetchRefused):
        check_url("http://10.20.3.4/")
    allowing = make_app(MAYAK_FETCH_ALLOW="10.20.0.0/16,hooks.corp.example")
    with allowing.app_context(), unit_of_work():
        assert check_url("http://10.20.3.4/").addresses == (ipaddress.ip_address("10.20.3.4"),)
        with pytest.raises(FetchRefused):
            check_url("http://10.21.3.4/")
    with pytest.raises(StartupError) as info:
        make_app(MAYAK_FETCH_ALLOW="10.0.0.0/40")
    assert "MAYAK_FETCH_ALLOW" in str(info.value)


# --- real servers on loopback --------------------------------------------------------------------------------

class Recorder(BaseHTTPRequestHandler):
    """Answers by path: /ping, /redirect?to=URL&code=N, /slow, /big, /loop. Records every request."""

    def _answer(self) -> None:
        server = self.server
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        server.hits.append((self.command, self.path, dict(self.headers), body))  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path == "/redirect":
            self.send_response(int(query.get("code", ["302"])[0]))
            self.send_header("Location", query["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif parts.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif parts.path == "/slow":
            time.sleep(3)
            self.send_response(200)
            self.end_headers()
        elif parts.path == "/big":
            self.send_response(200)
            self.end_headers()  # no Content-Length: the body runs until the connection closes
            for _ in range(64):
                self.wfile.write(b"x" * 65536)
        else:
            self.send_response(200)
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"pong")

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


def _serve(host: str, tls: ssl.SSLContext | None = None) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer((host, 0), Recorder)
    server.hits = []  # type: ignore[attr-defined]
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def loopback() -> Iterator[ThreadingHTTPServer]:
    yield from _serve("127.0.0.1")


@pytest.fixture
def other_loopback() -> Iterator[ThreadingHTTPServer]:
    """A second server on 127.0.0.2: loopback too, but not on the allow-list."""
    yield from _serve("127.0.0.2")


def _url(server: ThreadingHTTPServer, path: str = "/ping") -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}{path}"


def test_a_real_server_on_loopback_is_reached_only_when_allow_listed(loopback):
    with pytest.raises(FetchRefused):
        fetch(_url(loopback), allow=NOTHING)
    assert loopback.hits == [], "nothing was sent before the check"
    for allow in ("127.0.0.1", "127.0.0.0/8", "::ffff:127.0.0.0/104"):
        answer = fetch(_url(loopback), allow=AllowList.parse(allow))
        assert (answer.status, answer.body) == (200, b"pong")
    port = loopback.server_address[1]
    answer = fetch(f"http://localhost:{port}/ping", allow=AllowList.parse("localhost"))
    assert answer.body == b"pong" and loopback.hits[-1][2]["Host"] == f"localhost:{port}"


def test_the_installation_allow_list_lets_the_app_reach_it(make_app, loopback):
    with make_app(MAYAK_FETCH_ALLOW="127.0.0.1").app_context():
        assert fetch(_url(loopback)).body == b"pong"


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_a_redirect_from_an_allowed_host_to_an_internal_one_is_refused(loopback, other_loopback, code):
    allow = AllowList.parse("127.0.0.1")
    targets = [_url(other_loopback), f"http://[::ffff:127.0.0.2]:{other_loopback.server_address[1]}/ping",
               "http://169.254.169.254/latest/meta-data/", "http://0177.0.0.2/", "http://localhost/",
               "file:///etc/passwd", "http://user@127.0.0.1/"]
    for target in targets:
        with pytest.raises(FetchRefused):
            fetch(_url(loopback, f"/redirect?code={code}&to={target}"), method="POST", body=b"{}", allow=allow)
    assert other_loopback.hits == [], "the internal server never saw a request"
    assert len(loopback.hits) == len(targets)


def test_redirects_on_the_allowed_host_are_followed_within_bounds(loopback):
    allow = AllowList.parse("127.0.0.1")
    answer = fetch(_url(loopback, "/redirect?code=307&to=/ping"), method="POST", body=b'{"a":1}',
                   headers={"Authorization": "Bearer t"}, allow=allow)
    assert answer.status == 200 and answer.redirects == [_url(loopback, "/ping")]
    assert loopback.hits[-1][:2] == ("POST", "/ping") and loopback.hits[-1][3] == b'{"a":1}'
    fetch(_url(loopback, "/redirect?code=302&to=/ping"), method="POST", body=b"{}", allow=allow)
    assert loopback.hits[-1][:2] == ("GET", "/ping") and loopback.hits[-1][3] == b"", "302 after POST: GET"
    with pytest.raises(FetchRefused) as info:
        fetch(_url(loopback, "/loop"), allow=allow)
    assert "redirects more than" in str(info.value)
    assert len([h for h in loopback.hits if h[1] == "/loop"]) == net.MAX_REDIRECTS + 1


def test_timeouts_and_the_size_cap(loopback):
    allow = AllowList.parse("127.0.0.1")
    started = time.monotonic()
    with pytest.raises(FetchFailed) as info:
        fetch(_url(loopback, "/slow"), allow=allow, timeout=0.5)
    assert time.monotonic() - started < 1.5 and "did not answer" in str(info.value)
    with pytest.raises(FetchFailed) as info:
        fetch(_url(loopback, "/big"), allow=allow, max_bytes=1024 * 1024)
    assert "larger than" in str(info.value)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(FetchFailed):
        fetch(f"http://127.0.0.1:{port}/", allow=allow, timeout=2)


# --- pinning: the connection goes to the checked address, named by the original host -------------------------

def test_the_connection_is_pinned_to_the_checked_address(loopback):
    """``pinned.invalid`` cannot resolve (RFC 6761): the request still reaches the checked address with the
    original Host header, so no second lookup happened between the check and the connection."""
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("pinned.invalid", 80)
    with pytest.raises(FetchFailed) as info:
        fetch("http://pinned.invalid/", allow=NOTHING)
    assert "cannot be found" in str(info.value)
    port = loopback.server_address[1]
    target = Target(f"http://pinned.invalid:{port}/hook?a=1", "http", "pinned.invalid", port, "/hook?a=1",
                    (ipaddress.ip_address("127.0.0.1"),))
    answer = send(target, method="POST", body=b"{}")
    assert answer.body == b"pong"
    method, path, headers, _body = loopback.hits[-1]
    assert (method, path, headers["Host"]) == ("POST", "/hook?a=1", f"pinned.invalid:{port}")
    unchecked = Target(target.url, "http", "pinned.invalid", port, "/", ())
    with pytest.raises(FetchRefused):
        send(unchecked)


@pytest.fixture
def certificate(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=pinned.invalid", "-addext",
                    "subjectAltName=DNS:pinned.invalid", "-addext", "basicConstraints=critical,CA:TRUE"],
                   check=True, capture_output=True)
    return key, cert


def test_https_is_pinned_with_sni_and_verified_for_the_host_name(certificate):
    key, cert = certificate
    names: list[str | None] = []
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    server_tls.sni_callback = lambda sock, name, ctx: names.append(name)
    trusting = ssl.create_default_context(cafile=str(cert))
    for server in _serve("127.0.0.1", server_tls):
        port = server.server_address[1]
        pinned = (ipaddress.ip_address("127.0.0.1"),)
        target = Target(f"https://pinned.invalid:{port}/", "https", "pinned.invalid", port, "/", pinned)
        assert send(target, tls=trusting).body == b"pong"
        assert names[-1] == "pinned.invalid" and server.hits[-1][2]["Host"] == f"pinned.invalid:{port}"
        with pytest.raises(FetchFailed):  # the certificate is checked: an unknown issuer fails
            send(target)
        wrong = Target(f"https://other.invalid:{port}/", "https", "other.invalid", port, "/", pinned)
        with pytest.raises(FetchFailed):  # and it must name the host we meant, not merely the address
            send(wrong, tls=trusting)


# --- one guard: nothing in core or the bundled plugins fetches around it ----------------------------------------

HTTP_CLIENTS = {"urllib.request", "http.client", "requests", "httpx", "urllib3", "aiohttp", "pycurl", "ftplib",
                "telnetlib"}


def test_nothing_fetches_a_url_around_the_guard():
    """Every outgoing HTTP request goes through core.net: no other module of core or of a bundled plugin imports
    an HTTP client or opens a socket itself (the test helpers that probe local services aside)."""
    import ast
    from pathlib import Path

    from core.testing.fixtures import PROJECT_ROOT

    offenders = []
    for path in sorted([*(PROJECT_ROOT / "core").rglob("*.py"), *(PROJECT_ROOT / "plugins").rglob("*.py")]):
        relative = path.relative_to(PROJECT_ROOT).as_posix()
        if relative == "core/net.py" or relative.startswith("core/testing/"):
            continue
        for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if isinstance(node, ast.ImportFrom) and node.module == "urllib":
                names = [f"urllib.{a.name}" for a in node.names]
            offenders += [f"{relative}: import {n}" for n in names if n in HTTP_CLIENTS or n.split(".")[0] in
                          HTTP_CLIENTS - {"urllib.request", "http.client"}]
            if isinstance(node, ast.Attribute) and node.attr in ("create_connection", "urlopen", "getaddrinfo"):
                offenders.append(f"{relative}: {node.attr}")
    assert offenders == [], "fetch URLs with core.plugins.fetch (core.net), never directly: " + "; ".join(offenders)


def test_refusals_are_translated(app):
    """The sentence people see (a settings form, the plugins page) is in their language; logs keep English."""
    with app.test_request_context("/", headers={"Accept-Language": "ru"}):
        with pytest.raises(FetchRefused) as info:
            check_url("http://10.1.2.3/hook", allow=NOTHING)
        assert "внутренняя сеть" in str(info.value.message) and "MAYAK_FETCH_ALLOW" in str(info.value.message)
        assert "private network" in str(info.value)
        with pytest.raises(FetchRefused) as info:
            check_url("http://2130706433/", allow=NOTHING)
        assert "в обычном виде" in str(info.value.message)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "10.1.2.3", "169.254.169.254", "[::1]", "0x7f.1",
                                  "2130706433", "0177.0.0.1"])
def test_a_tcp_connection_goes_through_the_same_guard(host):
    """A protocol that is not HTTP (a PBX's AMI) connects through core.net too: loopback, private and link-local
    addresses, however spelled, only when the administrator lists them."""
    with pytest.raises(FetchRefused):
        net.connect(host, 5038, allow=NOTHING, timeout=1).close()


def test_a_listed_address_is_reached_by_tcp():
    server = socket.create_server(("127.0.0.1", 0))
    try:
        port = server.getsockname()[1]
        with net.connect("127.0.0.1", port, allow=AllowList.parse(["127.0.0.1"]), timeout=2) as connection:
            peer, _ = server.accept()
            connection.sendall(b"Action: Ping\r\n\r\n")
            assert peer.recv(64) == b"Action: Ping\r\n\r\n"
            peer.close()
        with pytest.raises(FetchRefused):
            net.connect("127.0.0.1", 0, allow=AllowList.parse(["127.0.0.1"]), timeout=1)
    finally:
        server.close()
