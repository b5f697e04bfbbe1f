"""Issue 10 probed again with values the first report did not use (helper 9's re-probe against a running
instance). Only the probes that held are kept here, as regression guards: new spellings of loopback, private and
metadata addresses (and redirect hops to them), recurrence rules that are daily or rarer in disguise and the ones
that are not, formula look-alikes behind other invisible or look-alike prefixes, look-alike origins on the public
lead form, and forwarding headers that must not give a guesser a new address for the sign-in throttle."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from core.db import db, unit_of_work
from core.models import InboxItem, LeadForm
from core.net import AllowList, FetchFailed, FetchRefused, check_url, fetch
from core.services.platform.errors import InvalidInput
from core.services.transfer.export import neutralise
from core.services.work.recurrence import parse_rule

# --- SSRF: spellings not in tests/security/test_ssrf.py -------------------------------------------------------

MORE_SPELLINGS = [
    "0x7f.0.0.1", "127.000.000.001", "127.1.1", "0177.1", "2130706433.", "①②⑦.0.0.1", "127.0.1.3",
    "[0000::1]", "[::ffff:127.1]", "[0:0:0:0:0:ffff:127.0.0.1]", "[::ffff:0:7f00:1]", "[fe80::1%25lo]",
    "0251.0376.0251.0376", "0xa9fea9fe", "2852039166", "[0:0:0:0:0:ffff:a9fe:a9fe]", "[::ffff:10.0.0.1]",
    "[100::1]", "198.18.0.1", "192.0.0.8", "192.0.2.1", "172.31.255.255", "foo.localhost", "LocalHost.",
]
MORE_URLS = ["http://127.0.0.1#@example.com/", "http://127.0.0.1%2f@example.com/", "http:/127.0.0.1/",
             "http:\\\\127.0.0.1/", "http://127.0.0.1\t/", "gopher://127.0.0.1/", "http://localhost%00.example.com/",
             "https://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/", "http://127.0.0.1:0/", "http://127.0.0.1:65536/"]


@pytest.mark.parametrize("url", [f"http://{host}/" for host in MORE_SPELLINGS] + MORE_URLS)
def test_other_spellings_of_private_addresses_are_refused(url):
    with pytest.raises((FetchRefused, FetchFailed)):
        check_url(url, allow=AllowList(), timeout=2)


class _Target(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        _Target.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"secret")

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


class _Redirector(BaseHTTPRequestHandler):
    port = 0

    def do_GET(self) -> None:
        self.send_response(int(self.headers.get("X-Code", "302")))
        self.send_header("Location", unquote(self.path[1:]).replace("PORT", str(_Redirector.port)))
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


HOPS = ["http://127.0.0.1:PORT/a", "http://localhost:PORT/b", "http://[::ffff:127.0.0.1]:PORT/c",
        "//127.0.0.1:PORT/d", "http://2130706433:PORT/e", "http://127.1:PORT/f", "HTTP://127.0.0.1:PORT/g",
        "http:127.0.0.1:PORT/h", "/\\127.0.0.1:PORT/i", "http://127.0.0.2@127.0.0.1:PORT/j", "http://0:PORT/k",
        "http://0.0.0.0:PORT/l"]


def test_redirect_hops_from_an_allowed_host_never_reach_a_private_one():
    target = ThreadingHTTPServer(("127.0.0.1", 0), _Target)
    redirector = ThreadingHTTPServer(("127.0.0.2", 0), _Redirector)
    _Redirector.port = target.server_address[1]
    _Target.hits = []
    for server in (target, redirector):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    allow = AllowList.parse("127.0.0.2/32")  # only the first hop is allow-listed
    try:
        for hop in HOPS:
            for code in ("301", "302", "303", "307", "308"):
                with pytest.raises((FetchRefused, FetchFailed)):
                    fetch(f"http://127.0.0.2:{redirector.server_address[1]}/{quote(hop, safe='')}",
                          method="POST", body=b"x", headers={"X-Code": code}, allow=allow, timeout=3)
    finally:
        target.shutdown()
        redirector.shutdown()
    assert _Target.hits == []


# --- recurrence: at most one task a day, whatever the rule's spelling ------------------------------------------

START = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Moscow")


@pytest.mark.parametrize("rule", [
    "FREQ=DAILY;BYSETPOS=1,2,3;BYHOUR=9;COUNT=10", "FREQ=YEARLY;BYYEARDAY=1,2,3,4,5,6,7,8,9,10;COUNT=100",
    "FREQ=YEARLY;BYWEEKNO=1,2,3;BYDAY=MO,TU,WE,TH,FR,SA,SU;COUNT=50", "FREQ=DAILY;BYDAY=MO,TU,WE,MO,MO;COUNT=10",
    "FREQ=DAILY;BYHOUR=9;BYHOUR=10;BYMINUTE=0;BYMINUTE=30;COUNT=10", "FREQ=DAILY;BYHOUR=9,9,9;COUNT=5",
    "FREQ=YEARLY;BYEASTER=0,1,2;COUNT=5", "FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO,TU,WE,TH,FR;COUNT=12",
    "FREQ=YEARLY;BYYEARDAY=-1,-2,-3,-4;BYWEEKNO=-1;COUNT=10", "freq=daily;count=3",
])
def test_accepted_rules_give_at_most_one_task_a_day(rule):
    days = Counter(moment.date() for moment in parse_rule(rule, START, ZONE))
    assert days and max(days.values()) == 1


@pytest.mark.parametrize("rule", [
    "FREQ=HOURLY;COUNT=3", "FREQ=MINUTELY;COUNT=3", "FREQ=DAILY;bysecond=0,1;COUNT=3",
    "FREQ=DAILY;COUNT=3;BYHOUR=9;BYMINUTE=0;BYSECOND=0", "FREQ=DAILY; BYSECOND=0,1;COUNT=3",
    "FREQ=DAILY;COUNT=1000000000", "FREQ=DAILY;UNTIL=99991231T000000", "FREQ=DAILY;BYHOUR=9,10;COUNT=3",
    "FREQ=DAILY;COUNT=5\nRRULE:FREQ=DAILY;BYHOUR=1,2,3", "DTSTART:20200101T000000\nRRULE:FREQ=DAILY;COUNT=3",
    "FREQ=DAILY;COUNT=0", "FREQ=DAILY;;COUNT=3", "FREQ=DAILY;COUNT=3;X-FOO=1",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;UNTIL=20301231T000000",
])
def test_rules_more_often_than_daily_or_without_a_sane_end_are_refused(rule):
    with pytest.raises(InvalidInput) as refused:
        parse_rule(rule, START, ZONE)
    assert "rrule" in refused.value.errors


# --- exports: formula look-alikes behind other prefixes --------------------------------------------------------

PREFIXES = ["\u3000", "\ufeff", "\t", "\u200f", "\u2060", "\u00a0", "\u2002", "\u180e", "\u202e", "\u061c",
            "\u2066", "\u200b\u200b", "\ufeff\u3000", " \t ", "\r", "\n"]
LOOK_ALIKES = ["\ufe63", "\uff0b", "\uff0d", "\ufe62", "\uff20", "\uff1d", "\ufe66"]
PAYLOADS = ["=1+1", "+1+1", "-1+1", "@SUM(1)", "=cmd|' /C calc'!A0", "=HYPERLINK(\"http://x\")"]


@pytest.mark.parametrize("prefix", [*PREFIXES, ""])
@pytest.mark.parametrize("payload", PAYLOADS + [f"{c}1+1" for c in LOOK_ALIKES])
def test_formula_look_alikes_behind_other_prefixes_are_neutralised(prefix, payload):
    assert neutralise(prefix + payload).startswith("'")


# --- the public lead form: look-alike origins ------------------------------------------------------------------

SITE = "https://shop.example.com"


@pytest.mark.parametrize("headers", [
    {"Origin": "https://shop.example.com.evil.example"}, {"Origin": "https://shop.example.com:8443"},
    {"Origin": "https://shop.example.com."}, {"Origin": "https://evil.example/https://shop.example.com"},
    {"Referer": "https://evil.example/?https://shop.example.com"}, {"Referer": "https://shop.example.com.evil.example/x"},
    {"Referer": "https://shop.example.com@evil.example/"},
])
def test_look_alike_sites_cannot_post_to_a_lead_form(app, client, headers):
    with app.app_context(), unit_of_work():
        form = LeadForm(name="Заявка", key="reprobe-key", active=True, allowed_origins=[SITE], min_fill_seconds=0,
                        rate_limit_per_hour=1000,
                        fields=[{"name": "phone", "label": "Телефон", "kind": "phone", "required": True}])
        db.session.add(form)
        db.session.commit()
    answer = client.post("/f/reprobe-key", data={"phone": "+79161234567"}, headers=headers)
    assert answer.status_code == 403
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(func.count(InboxItem.id))) == 0


# --- sign-in: forwarding headers are not a new address, the address's case is the same account -----------------

def _attempt(client, email: str, password: str, headers: dict[str, str]):
    page = client.get("/login")
    token = page.get_data(as_text=True).split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    return client.post("/login", data={"csrf_token": token, "email": email, "password": password},
                       headers=headers, environ_base={"REMOTE_ADDR": "10.7.7.7"})


def test_forwarding_headers_and_other_cases_do_not_reset_the_account_counter(app, make_user, client):
    make_user("reprobe@example.com")
    spellings = ["reprobe@example.com", "REPROBE@example.com", "Reprobe@Example.Com", " reprobe@example.com "]
    for n in range(5):
        headers = {"X-Forwarded-For": f"10.0.{n}.1", "X-Real-IP": f"10.1.{n}.1", "Forwarded": f"for=10.2.{n}.1"}
        assert _attempt(client, spellings[n % 4], "wrong password", headers).status_code == 401
    blocked = _attempt(client, "reprobe@example.com", "correct horse battery", {"X-Forwarded-For": "10.9.9.9"})
    assert blocked.status_code == 429


# --- recurrence: INTERVAL outside what the friendly form allows (helper 10's re-probe) -------------------------

BAD_INTERVALS = ["0", "-1", "-5", "100", "10000", "+0", "-0", "99999999"]


@pytest.mark.parametrize("freq", ["DAILY", "WEEKLY", "MONTHLY", "YEARLY"])
@pytest.mark.parametrize("interval", BAD_INTERVALS)
@pytest.mark.parametrize("end", ["COUNT=1000", "COUNT=3", "UNTIL=20271231T000000"])
def test_an_interval_outside_1_to_the_form_max_is_a_field_error(freq, interval, end):
    with pytest.raises(InvalidInput) as refused:
        parse_rule(f"FREQ={freq};INTERVAL={interval};{end}", START, ZONE)
    assert "rrule" in refused.value.errors


@pytest.mark.parametrize("interval", ["1", "2", "3", "99"])
def test_intervals_the_form_allows_still_work(interval):
    assert list(parse_rule(f"FREQ=MONTHLY;INTERVAL={interval};COUNT=2", START, ZONE))


@pytest.mark.parametrize("rule", ["FREQ=DAILY;INTERVAL=0;COUNT=1000", "FREQ=WEEKLY;INTERVAL=0;COUNT=5",
                                  "FREQ=MONTHLY;INTERVAL=-5;COUNT=3", "FREQ=YEARLY;INTERVAL=100;COUNT=2"])
def test_a_typed_rule_with_a_bad_interval_is_a_422_on_the_page(app, admin, admin_client, rule):
    from core.models import TaskRecurrence
    from core.testing.fixtures import post_form

    answer = post_form(admin_client, "/tasks/recurring", {"title": "Repeat", "rrule": rule, "due_date": "2030-01-10",
                                                          "due_time": "10:00"})
    assert answer.status_code == 422
    assert "Repeat every 1 to 99 periods." in answer.text
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(func.count(TaskRecurrence.id))) == 0


# --- list pages: query-string names are never url_for's own keywords (helper 10's re-probe) ---------------------

URL_FOR_OWN = ("_anchor", "_scheme", "_external", "_method", "endpoint", "values")


def _explicit_url_for_keywords() -> set[str]:
    """Every keyword a template passes to url_for itself (entity=, format=, contact_id=...): a query-string name
    equal to one of them, spread in with ``**query.as_args()``, would be a duplicate argument."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    names: set[str] = set()
    for template in [*root.glob("core/templates/**/*.html"), *root.glob("plugins/*/templates/**/*.html")]:
        for call in re.findall(r"url_for\(([^)]*)\)", template.read_text(encoding="utf-8")):
            names.update(re.findall(r"\b([a-z_][a-z0-9_]*)\s*=(?!=)", call))
    return names


_ATTRIBUTE = r'(?:href|action|src|hx-get|hx-post|hx-put|hx-delete|formaction)="([^"]*)"'


def _links(body: str) -> set[str]:
    import re

    return {link for link in re.findall(_ATTRIBUTE, body) if link.startswith(("http:", "https:", "//", "\\"))}


LIST_PAGES = ("/contacts/", "/contacts/count", "/companies/", "/companies/count", "/deals/list", "/deals/list/count",
              "/deals/", "/tasks/", "/tasks/team", "/inbox/", "/admin/audit", "/notifications", "/search/",
              "/contacts/duplicates", "/companies/duplicates")


def test_every_list_page_with_every_url_for_keyword_in_its_query_string(app, admin, admin_client):
    from core.models import Company, Contact

    with app.app_context(), unit_of_work():
        for n in range(3):
            db.session.add(Contact(first_name=f"Probe{n}", city="Moscow"))
            db.session.add(Company(name=f"Probe {n}", city="Moscow"))
        db.session.commit()
    names = sorted({*URL_FOR_OWN, *_explicit_url_for_keywords()})
    assert {"entity", "format", "contact_id", "collection"} <= set(names)
    variants = ({}, {"city": "Moscow", "limit": "1", "sort": "created"})  # the chips, "more" and sort links too
    special = {"_external": "1", "_scheme": "https", "_method": "POST"}
    for url in LIST_PAGES:
        for base in variants:
            baseline = _links(admin_client.get(url, query_string=base).text)
            for name in names:
                value = special.get(name, "probe")
                for headers in ({}, {"HX-Request": "true", "HX-Target": "list-body"}):
                    answer = admin_client.get(url, query_string={**base, name: value}, headers=headers)
                    body = answer.get_data(as_text=True)
                    assert answer.status_code < 500, f"{url}?{name}={value} {headers}: {answer.status}"
                    assert _links(body) <= baseline, f"{url}?{name}={value}: {_links(body) - baseline}"
                    assert "#probe" not in body, f"{url}?{name}={value}"


# --- sign-in: compatibility spellings of the address are the same account for the throttle (helper 10) ---------

def _wide(text: str) -> str:
    """Full-width forms of ASCII letters, digits and punctuation (U+FF01..U+FF5E), which NFKC maps back."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


ACCOUNT_SPELLINGS = [
    "reprobe@example.com", _wide("reprobe") + "@example.com", "reprobe@" + _wide("example") + ".com",
    "reprobe@" + _wide("example.com"), _wide("reprobe@example.com"), "REPROBE@EXAMPLE.COM", " Reprobe@Example.Com\t",
    _wide("REPROBE") + "@" + _wide("Example") + ".com", "  " + _wide("reprobe") + "@example.com  ",
]


@pytest.mark.parametrize("right", ACCOUNT_SPELLINGS)
def test_the_right_password_in_another_spelling_is_refused_after_five_wrong_guesses(app, make_user, client, right):
    make_user("reprobe@example.com")
    for n in range(5):
        wrong = ACCOUNT_SPELLINGS[(ACCOUNT_SPELLINGS.index(right) + 1 + n) % len(ACCOUNT_SPELLINGS)]
        assert _attempt(client, wrong, "wrong password", {}).status_code == 401
    assert _attempt(client, right, "correct horse battery", {}).status_code == 429


@settings(max_examples=200, deadline=None)
@given(choices=st.lists(st.sampled_from(["plain", "wide", "upper", "wide_upper"]), min_size=19, max_size=19),
       pad=st.sampled_from(["", " ", "\t", "  \u3000"]))
def test_every_width_and_case_of_an_address_has_one_counter(choices, pad):
    from core.services.users.authentication import account_key

    address = "reprobe@example.com"
    spelled = "".join({"plain": c, "wide": _wide(c), "upper": c.upper(), "wide_upper": _wide(c.upper())}[how]
                      for c, how in zip(address, choices, strict=True))
    assert account_key(pad + spelled + pad) == account_key(address) == "reprobe@example.com"


# --- Idempotency-Key: the same key with another lead is a 409, never the first lead (helper 10) ----------------

LEAD = {"name": "Иван", "phone": "+79161234567", "email": "ivan@example.com", "subject": "Звонок",
        "body": "Перезвоните"}
OTHER_LEADS = [{**LEAD, "name": "Пётр"}, {**LEAD, "phone": "+79161234568"}, {**LEAD, "email": "petr@example.com"},
               {**LEAD, "subject": "Другое"}, {**LEAD, "body": "Не звоните"}, {"phone": "+79161234567"},
               {**LEAD, "name": "Иван "}]  # a trailing space is cleaned away: the same lead


def _items(app) -> int:
    with app.app_context(), unit_of_work():
        return db.session.scalar(select(func.count(InboxItem.id)))


@pytest.mark.parametrize("where", ["header", "body"])
@pytest.mark.parametrize("other", range(len(OTHER_LEADS)))
def test_an_api_key_reused_for_another_lead_is_a_409(app, admin, client, where, other):
    from tests.api_support import token_headers

    api = token_headers(app, admin.id)
    send = (lambda lead: client.post("/api/v1/inbox", json=lead, headers={**api, "Idempotency-Key": "k-1"})) \
        if where == "header" else (lambda lead: client.post("/api/v1/inbox", json={**lead, "idempotency_key": "k-1"},
                                                           headers=api))
    first = send(LEAD)
    assert first.status_code == 201
    assert send(LEAD).status_code == 200 and send(LEAD).json["data"]["id"] == first.json["data"]["id"]
    answer = send(OTHER_LEADS[other])
    if OTHER_LEADS[other].get("name") == "Иван ":
        assert answer.status_code == 200 and answer.json["data"]["id"] == first.json["data"]["id"]
    else:
        assert answer.status_code == 409, answer.get_data(as_text=True)
        error = answer.json["error"]
        assert error["code"] == "idempotency_key_reused" and "use a new key" in error["message"]
        russian = client.post("/api/v1/inbox", json=OTHER_LEADS[other],
                              headers={**api, "Idempotency-Key": "k-1", "Accept-Language": "ru"}) \
            if where == "header" else None
        if russian is not None:
            assert russian.status_code == 409 and "Idempotency-Key" in russian.json["error"]["message"]
            assert "use a new key" not in russian.json["error"]["message"]
    assert _items(app) == 1


FORM_FIELDS = [{"name": "name", "label": "Имя", "kind": "text", "required": False},
               {"name": "phone", "label": "Телефон", "kind": "phone", "required": True},
               {"name": "email", "label": "Почта", "kind": "email", "required": False},
               {"name": "message", "label": "Сообщение", "kind": "textarea", "required": False}]
FORM_POST = {"name": "Иван", "phone": "+79161234567", "email": "ivan@example.com", "message": "Перезвоните"}


@pytest.mark.parametrize("as_json", [True, False])
@pytest.mark.parametrize("change", ["name", "phone", "email", "message"])
def test_a_lead_form_key_reused_for_another_lead_is_a_409(app, client, as_json, change):
    with app.app_context(), unit_of_work():
        db.session.add(LeadForm(name="Заявка", key="idem-form", active=True, allowed_origins=[SITE],
                                min_fill_seconds=0, rate_limit_per_hour=1000, fields=FORM_FIELDS))
        db.session.commit()
    headers = {"Idempotency-Key": "order-1", "Origin": SITE}

    def send(post: dict[str, str]):
        if as_json:
            return client.post("/f/idem-form", json=post, headers=headers)
        return client.post("/f/idem-form", data=post, headers=headers)

    first, again = send(FORM_POST), send(FORM_POST)
    assert (first.status_code, again.status_code) == ((201, 200) if as_json else (200, 200))
    changed = {**FORM_POST, change: "petr@example.com" if change == "email" else
               "+79161234568" if change == "phone" else "Другое"}
    answer = send(changed)
    assert answer.status_code == 409
    assert "use a new key" in answer.get_data(as_text=True)
    assert _items(app) == 1


# --- the lead form's 64 KB limit holds for chunked bodies of every type (helper 10) -------------------------------

def _chunked_post(port: int, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request("POST", path, body=iter([body[i:i + 8192] for i in range(0, len(body), 8192)]),
                           headers={"Content-Type": content_type, "Accept": "application/json"},
                           encode_chunked=True)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def _bodies(padding: int) -> dict[str, tuple[bytes, str]]:
    import json
    from urllib.parse import urlencode

    fields = {"name": "Иван", "phone": "+79161234567", "message": "x" * padding}
    boundary = "reprobe-boundary"
    multipart = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                        for k, v in fields.items()) + f"--{boundary}--\r\n"
    return {"urlencoded": (urlencode(fields).encode(), "application/x-www-form-urlencoded"),
            "json": (json.dumps(fields).encode(), "application/json"),
            "multipart": (multipart.encode(), f"multipart/form-data; boundary={boundary}")}


def test_chunked_lead_form_bodies_over_64_kb_are_a_413_for_every_content_type(app):
    from werkzeug.serving import make_server

    with app.app_context(), unit_of_work():
        db.session.add(LeadForm(name="Заявка", key="chunked-form", active=True, allowed_origins=[],
                                min_fill_seconds=0, rate_limit_per_hour=1000, fields=FORM_FIELDS))
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for padding in (70 * 1024, 200 * 1024, 64 * 1024):
            for kind, (body, content_type) in _bodies(padding).items():
                status, answer = _chunked_post(server.server_port, "/f/chunked-form", body, content_type)
                assert status == 413, f"{kind} {len(body)} bytes: {status} {answer[:200]!r}"
                assert b"64 KB" in answer
        assert _items(app) == 0
        for kind, (body, content_type) in _bodies(100).items():  # a chunked lead of normal size still arrives
            status, answer = _chunked_post(server.server_port, "/f/chunked-form", body, content_type)
            assert status == 201, f"{kind}: {status} {answer[:300]!r}"
        assert _items(app) == 3
    finally:
        server.shutdown()
