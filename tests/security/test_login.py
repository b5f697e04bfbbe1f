"""QUALITY 9: sign-in is throttled per account and per address, and unknown users look like wrong passwords."""

from __future__ import annotations

import re
import time

from core.testing.fixtures import post_form


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
    with app.app_context():
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
