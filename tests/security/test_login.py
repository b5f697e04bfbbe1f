"""QUALITY 9: sign-in is throttled per account and per address, and unknown users look like wrong passwords."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
import requests
from sqlalchemy import func, select

from core.db import unit_of_work
from core.services.users import authentication
from core.testing.fixtures import TEST_PASSWORD, post_form


def _attempt(client, email, password="wrong password!", ip="10.1.1.1"):
    return post_form(client, "/login", {"email": email, "password": password},
                     environ_base={"REMOTE_ADDR": ip})


def _page_without_tokens(body: bytes, email: str) -> bytes:
    """The page minus what legitimately differs: the typed email and the (time-stamped) CSRF tokens."""
    body = body.replace(email.encode(), b"")
    return re.sub(rb'(value="|"X-CSRFToken": ")[\w.-]{40,}"', rb'\1"', body)


def test_unknown_user_and_wrong_password_look_the_same(app, make_user, client):
    make_user("known@example.com")
    wrong = _attempt(client, "known@example.com")
    time.sleep(1.1)  # the CSRF tokens on the two pages now carry different time stamps
    unknown = _attempt(client, "nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert _page_without_tokens(wrong.data, "known@example.com") == _page_without_tokens(unknown.data,
                                                                                        "nobody@example.com")
    assert b"Wrong email or password." in wrong.data


def test_throttled_per_account_with_retry_after(app, make_user, client):
    make_user("victim@example.com")
    for n in range(5):
        assert _attempt(client, "victim@example.com", ip=f"10.0.0.{n}").status_code == 401
    blocked = _attempt(client, "victim@example.com", password="correct horse battery", ip="10.0.0.99")
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 15 * 60
    assert b"Too many failed attempts" in blocked.data
    # another account from another address is not affected
    make_user("bystander@example.com")
    ok = _attempt(client, "bystander@example.com", password="correct horse battery", ip="10.0.0.100")
    assert ok.status_code == 302


def test_throttled_per_address(app, make_user, client):
    make_user("target@example.com")
    for n in range(20):
        _attempt(client, f"guess{n}@example.com", ip="10.9.9.9")
    blocked = _attempt(client, "target@example.com", password="correct horse battery", ip="10.9.9.9")
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers
    assert _attempt(client, "target@example.com", password="correct horse battery", ip="10.9.9.10").status_code == 302


def test_success_clears_the_account_counter(app, make_user, client):
    make_user("forgetful@example.com")
    for _ in range(4):
        _attempt(client, "forgetful@example.com")
    assert _attempt(client, "forgetful@example.com", password="correct horse battery").status_code == 302
    post_form(client, "/logout")
    for _ in range(4):
        assert _attempt(client, "forgetful@example.com").status_code == 401


def test_disabled_user_cannot_sign_in(app, make_user, client):
    from core.db import db
    from core.models import User

    user = make_user("gone@example.com")
    with app.app_context(), unit_of_work():
        db.session.get(User, user.id).is_active = False
        db.session.commit()
    assert _attempt(client, "gone@example.com", password="correct horse battery").status_code == 401


def test_login_error_is_not_reflected_as_html(app, client):
    response = _attempt(client, '"><script>alert(1)</script>@example.com')
    assert b"<script>alert(1)</script>" not in response.data


def test_open_redirect_after_login_is_refused(app, make_user, client):
    make_user("nav@example.com")
    response = post_form(client, "/login?next=https://evil.example/x",
                         {"email": "nav@example.com", "password": "correct horse battery"})
    assert response.headers["Location"] == "/"


# --- QUALITY 28: the throttle holds under 40 concurrent sign-ins (a real server, real threads) ---------------

CONCURRENT = 40
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@contextmanager
def serving(app):  # type: ignore[no-untyped-def]
    """``app`` served by a threaded WSGI server on a free port, as a browser (or an attacker) reaches it."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


@pytest.fixture
def live_server(app):
    with serving(app) as base:
        yield base


def _ready_session(base: str):  # type: ignore[no-untyped-def]
    """A client with its own session cookie and CSRF token, ready to post the sign-in form."""
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=30)
    return session, _CSRF.search(page.text)[1]


def _burst(base: str, attempts: list[tuple[str, str]]) -> list[requests.Response]:
    """Post every (email, password) at the same moment, each from its own client."""
    clients = [_ready_session(base) for _ in attempts]
    barrier = threading.Barrier(len(attempts))

    def post(index: int) -> requests.Response:
        session, token = clients[index]
        email, password = attempts[index]
        barrier.wait(30)
        return session.post(f"{base}/login", data={"csrf_token": token, "email": email, "password": password},
                            allow_redirects=False, timeout=60)

    with ThreadPoolExecutor(len(attempts)) as pool:
        return list(pool.map(post, range(len(attempts))))


def _checked(app) -> int:
    """How many passwords were checked: every check ends in auth.failed or auth.login, a refusal in auth.throttled."""
    from core.db import db
    from core.models import AuditEntry

    with app.app_context(), unit_of_work():
        return db.session.scalar(select(func.count(AuditEntry.id))
                                 .where(AuditEntry.action.in_(("auth.failed", "auth.login")))) or 0


def test_concurrent_guesses_on_one_account_get_at_most_the_limit(app, make_user, live_server):
    make_user("target@example.com")
    responses = _burst(live_server, [("target@example.com", f"wrong guess {n}") for n in range(CONCURRENT)])
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {401, 429}, statuses
    assert statuses.count(401) <= authentication.MAX_FAILURES_PER_EMAIL
    assert _checked(app) <= authentication.MAX_FAILURES_PER_EMAIL
    for refused in (r for r in responses if r.status_code == 429):
        assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    # the right password is refused too, now
    session, token = _ready_session(live_server)
    right = session.post(f"{live_server}/login", allow_redirects=False, timeout=30,
                         data={"csrf_token": token, "email": "target@example.com", "password": TEST_PASSWORD})
    assert right.status_code == 429 and "Retry-After" in right.headers


def test_concurrent_right_and_wrong_passwords_check_at_most_the_limit(app, make_user, live_server):
    """The right password among the guesses: whether it wins depends on the order; how many are checked does not."""
    make_user("mixed@example.com")
    attempts = [("mixed@example.com", TEST_PASSWORD if n % 4 == 0 else f"wrong guess {n}") for n in range(CONCURRENT)]
    responses = _burst(live_server, attempts)
    assert {r.status_code for r in responses} <= {302, 401, 429}
    # a right password clears the account's counter, so each success may open five more checks; never 40
    successes = sum(r.status_code == 302 for r in responses)
    assert _checked(app) <= authentication.MAX_FAILURES_PER_EMAIL * (successes + 1)
    assert sum(r.status_code == 401 for r in responses) <= authentication.MAX_FAILURES_PER_EMAIL * (successes + 1)


def test_concurrent_guesses_from_one_address_get_at_most_the_limit(app, make_user, live_server):
    responses = _burst(live_server, [(f"user{n}@example.com", "wrong guess") for n in range(CONCURRENT)])
    assert sum(r.status_code == 401 for r in responses) <= authentication.MAX_FAILURES_PER_IP
    assert _checked(app) <= authentication.MAX_FAILURES_PER_IP
    assert sum(r.status_code == 429 for r in responses) >= CONCURRENT - authentication.MAX_FAILURES_PER_IP


def _guesses_then_right_password(base: str, email: str) -> list[requests.Response]:
    responses = _burst(base, [(email, f"wrong guess {n}") for n in range(CONCURRENT)])
    session, token = _ready_session(base)
    responses.append(session.post(f"{base}/login", allow_redirects=False, timeout=30,
                                  data={"csrf_token": token, "email": email, "password": TEST_PASSWORD}))
    return responses


@pytest.mark.redis
def test_with_redis_the_counter_is_one_redis_transaction(app, make_app, make_user):
    """With REDIS_URL the counters live in Redis (INCR in a MULTI), not in the database, and hold just as well."""
    from redis import Redis

    from core.models import ThrottleCounter
    from core.testing import services

    url = services.redis_url()
    web = make_app(REDIS_URL=url)
    redis = Redis.from_url(url)
    key = "mayak:throttle:login:email:redis-target@example.com"
    redis.delete(key, "mayak:throttle:login:ip:127.0.0.1")
    make_user("redis-target@example.com")
    try:
        with serving(web) as base:
            responses = _guesses_then_right_password(base, "redis-target@example.com")
        assert sum(r.status_code == 401 for r in responses) <= authentication.MAX_FAILURES_PER_EMAIL
        assert responses[-1].status_code == 429 and "Retry-After" in responses[-1].headers
        assert _checked(app) <= authentication.MAX_FAILURES_PER_EMAIL
        assert int(redis.get(key)) == CONCURRENT + 1 and 0 < redis.ttl(key) <= 15 * 60
        with web.app_context(), unit_of_work():
            from core.db import db

            assert db.session.scalar(select(func.count()).select_from(ThrottleCounter)) == 0
    finally:
        redis.delete(key, "mayak:throttle:login:ip:127.0.0.1")


@pytest.mark.redis
def test_redis_down_falls_back_to_the_database_counter(app, make_app, make_user, tmp_path):
    """Redis unreachable: no 500, and the gate stays shut (the database counts instead)."""
    import os

    from tests.cluster import RedisServer

    if not os.path.exists("/usr/bin/redis-server"):
        pytest.skip("redis-server is not installed")
    private = RedisServer(tmp_path, tmp_path / "redis.log")
    private.start()
    try:
        web = make_app(REDIS_URL=private.url)
    finally:
        private.stop()
    make_user("outage@example.com")
    with serving(web) as base:
        responses = _guesses_then_right_password(base, "outage@example.com")
    assert {r.status_code for r in responses} <= {401, 429}
    assert sum(r.status_code == 401 for r in responses) <= authentication.MAX_FAILURES_PER_EMAIL
    assert responses[-1].status_code == 429
