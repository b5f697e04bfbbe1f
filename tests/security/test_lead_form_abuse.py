"""Issue 10, item 9: the public lead form under attack. Posts over the rate limit store nothing and the limit holds
under 40 concurrent posts; the allowed sites bind every kind of post (JSON, urlencoded and multipart forms) through
Origin or Referer; the start token is bound to its form, short-lived and good once; every kind of post waits the
minimum fill time; Idempotency-Key is never cut; bodies over 64 KB are refused before they are read."""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import delete, func, select

from core.db import db, unit_of_work
from core.models import InboxItem, LeadForm, ThrottleCounter
from core.services.work import lead_forms

SITE = "https://shop.example.com"
KINDS = ("json", "urlencoded", "multipart")


def _form(app, *, min_fill: int = 0, limit: int = 1000, origins: tuple[str, ...] = (SITE,)) -> tuple[int, str]:
    with app.app_context(), unit_of_work():
        form = LeadForm(name="Заявка", key=f"k{time.monotonic_ns()}", active=True, allowed_origins=list(origins),
                        min_fill_seconds=min_fill, rate_limit_per_hour=limit,
                        fields=[{"name": "name", "label": "Имя", "kind": "text", "required": False},
                                {"name": "phone", "label": "Телефон", "kind": "phone", "required": True}])
        db.session.add(form)
        db.session.commit()
        return form.id, form.key


def _post(client, key: str, kind: str, data: dict, headers: dict | None = None):
    headers = dict(headers or {})
    if kind == "json":
        return client.post(f"/f/{key}", json=data, headers=headers)
    if kind == "multipart":
        return client.post(f"/f/{key}", data=data, headers=headers, content_type="multipart/form-data")
    return client.post(f"/f/{key}", data=data, headers=headers)


def _count(app) -> int:
    with app.app_context(), unit_of_work():
        return db.session.scalar(select(func.count(InboxItem.id)))


def _token(client, key: str) -> str:
    answer = client.get(f"/f/{key}", headers={"Accept": "application/json"})
    assert answer.status_code == 200 and answer.json["field"] == lead_forms.STARTED
    return answer.json["token"]


@pytest.mark.parametrize("kind", KINDS)
def test_posts_over_the_rate_limit_store_nothing(app, client, kind):
    _, key = _form(app, limit=2)
    answers = [_post(client, key, kind, {"phone": f"+7916000000{i}", "website": "bot" if i % 2 else ""})
               for i in range(6)]
    assert [a.status_code for a in answers[2:]] == [429] * 4
    assert _count(app) == 2  # the two allowed (one of them kept as spam); the refused four left nothing


def test_the_rate_limit_holds_under_40_concurrent_posts(app):
    _, key = _form(app, limit=5)

    def post(i: int) -> int:
        return app.test_client().post(f"/f/{key}", json={"phone": f"+79161{i:06d}"}).status_code

    with ThreadPoolExecutor(max_workers=40) as pool:
        codes = list(pool.map(post, range(40)))
    assert sorted(codes) == [201] * 5 + [429] * 35
    assert _count(app) == 5


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("headers, allowed", [
    ({"Origin": "https://evil.example"}, False),
    ({"Origin": "https://shop.example.com.evil.example"}, False),
    ({"Origin": "http://shop.example.com"}, False),  # the scheme is part of the site
    ({"Origin": "null"}, False),
    ({"Referer": "https://evil.example/landing?x=1"}, False),
    ({"Referer": "https://evil.example/", "Origin": "https://evil.example"}, False),
    ({"Origin": SITE}, True),
    ({"Referer": f"{SITE}/contacts"}, True),
    ({"Origin": "http://localhost"}, True),  # the embedded page itself, served by Mayak
    ({}, True),  # a server posting without a browser
])
def test_allowed_sites_bind_every_kind_of_post(app, client, kind, headers, allowed):
    _, key = _form(app)
    answer = _post(client, key, kind, {"phone": "+79161234567"}, headers)
    if allowed:
        assert answer.status_code in (200, 201) and _count(app) == 1
    else:
        assert answer.status_code == 403 and _count(app) == 0
        if kind != "json":  # a person is told why, on the form page
            assert "not allowed to post" in answer.get_data(as_text=True)


@pytest.mark.parametrize("kind", KINDS)
def test_the_start_token_is_good_once_for_its_form_and_not_for_long(app, client, kind):
    form_id, key = _form(app, min_fill=1)
    _, other_key = _form(app, min_fill=1)
    good, foreign = _token(client, key), _token(client, other_key)
    with app.app_context(), unit_of_work():
        past = URLSafeTimedSerializer(app.secret_key, salt="mayak.lead-form.started",
                                      signer=_PastSigner).dumps({"form": form_id, "nonce": "old"})
    time.sleep(1.1)
    posts = {"first": good, "replay": good, "foreign": foreign, "expired": past, "forged": good[:-2] + "xx"}
    for name, token in posts.items():
        assert _post(client, key, kind, {"name": name, "phone": "+79161234567",
                                         lead_forms.STARTED: token}).status_code in (200, 201)
    with app.app_context(), unit_of_work():
        rows = {i.name: (i.status, i.reject_reason) for i in db.session.scalars(select(InboxItem))}
    assert rows["first"] == ("new", "")
    assert rows["replay"] == ("rejected", "start token used before")
    for name in ("foreign", "expired", "forged"):
        assert rows[name] == ("rejected", "forged or expired start token"), name


class _PastSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - lead_forms.START_MAX_AGE - 5


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_post_waits_the_minimum_fill_time(app, client, kind):
    _, key = _form(app, min_fill=2)
    token = _token(client, key)
    _post(client, key, kind, {"name": "fast", "phone": "+79161234567", lead_forms.STARTED: token})
    _post(client, key, kind, {"name": "none", "phone": "+79161234568"})
    slow = _token(client, key)
    time.sleep(2.1)
    _post(client, key, kind, {"name": "slow", "phone": "+79161234569", lead_forms.STARTED: slow})
    with app.app_context(), unit_of_work():
        rows = {i.name: (i.status, i.reject_reason) for i in db.session.scalars(select(InboxItem))}
    assert rows["fast"][0] == "rejected" and "minimum 2 s" in rows["fast"][1]
    assert rows["none"] == ("rejected", "posted without the form's start token")
    assert rows["slow"] == ("new", "")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("length", [201, 256, 5000])
def test_an_overlong_idempotency_key_is_refused_not_cut(app, client, kind, length):
    _, key = _form(app)
    for where in ("header", "body"):
        data = {"phone": "+79161234567"}
        headers = {}
        if where == "header":
            headers["Idempotency-Key"] = "k" * length
        else:
            data["idempotency_key"] = "k" * length
        answer = _post(client, key, kind, data, headers)
        assert answer.status_code == 400, (where, length)
        assert "Idempotency-Key" in answer.get_data(as_text=True)
    assert _count(app) == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=150, max_size=199),
       tails=st.lists(st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=1),
                      min_size=2, max_size=4, unique=True))
def test_different_keys_are_different_posts(app, client, prefix, tails):
    """Keys that share their first characters (up to 199 of them) never merge different posts."""
    _, key = _form(app)
    ids = set()
    for tail in tails:
        answer = client.post(f"/f/{key}", json={"phone": "+79161234567"}, headers={"Idempotency-Key": prefix + tail})
        assert answer.status_code == 201
        ids.add(answer.json["id"])
        again = client.post(f"/f/{key}", json={"phone": "+79161234567"}, headers={"Idempotency-Key": prefix + tail})
        assert again.status_code == 200 and again.json["id"] == answer.json["id"]
    assert len(ids) == len(tails)
    with app.app_context(), unit_of_work():
        db.session.execute(delete(InboxItem))
        db.session.execute(delete(LeadForm))
        db.session.execute(delete(ThrottleCounter))
        db.session.commit()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("size", [64 * 1024 + 1, 40 * 1024 * 1024])
def test_bodies_over_64_kb_are_refused_before_they_are_read(app, client, kind, size):
    _, key = _form(app)
    filler = "x" * size
    started = time.monotonic()
    answer = _post(client, key, kind, {"phone": "+79161234567", "name": filler})
    assert answer.status_code == 413 and time.monotonic() - started < 2
    assert _count(app) == 0


def test_a_body_without_length_stops_at_the_limit(app, client):
    _, key = _form(app)
    body = b'{"phone": "+79161234567", "name": "' + b"x" * (200 * 1024) + b'"}'
    answer = client.post(f"/f/{key}", input_stream=io.BytesIO(body), content_type="application/json",
                         environ_overrides={"wsgi.input_terminated": True})
    assert answer.status_code == 413 and _count(app) == 0
