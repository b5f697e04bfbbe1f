"""Webhooks in: the core pipeline at /webhooks/<plugin>/<path> (size, method, type, signature, allow-list,
de-duplication, stored delivery, job or inline answer) and Administration → Webhooks, with a test provider plugin
(tests/plugins/hooktest.py)."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.db import db, unit_of_work
from core.models import AuditEntry, WebhookDelivery, utcnow
from core.testing.fixtures import create_user, post_form, sign_in, wait_for_jobs
from tests.jobs_support import wait_until
from tests.plugins import hooktest


@pytest.fixture
def hook_app(app, make_app, tmp_path):
    hooktest.FAILING.clear()
    yield make_app(extra_plugins=[("hooktest", hooktest)], MAYAK_PLUGINS_FILE=str(plugins_file(tmp_path)))
    hooktest.FAILING.clear()


def plugins_file(tmp_path):
    """The Russian catalogue and nothing else: the pipeline needs no other plugin."""
    path = tmp_path / "plugins-webhooks.toml"
    path.write_text("[plugins.l10n_ru]\n")
    return path


def deliver(client, path="events", payload=None, *, delivery="d-1", signature=None, body=None,
            content_type="application/json", method="POST", headers=None, **kwargs):
    raw = body if body is not None else json.dumps(payload or {"event": "call_started"}).encode()
    sent = {"X-Signature": signature if signature is not None else hooktest.sign(raw), **(headers or {})}
    if delivery is not None:
        sent["X-Delivery-Id"] = delivery
    return client.open(f"/webhooks/hooktest/{path}", method=method, data=raw, content_type=content_type,
                       headers=sent, **kwargs)


def effects(app, key=None) -> int:
    with app.app_context(), unit_of_work():
        stmt = select(func.count(AuditEntry.id)).where(AuditEntry.action == "hooktest.effect")
        if key is not None:
            stmt = stmt.where(AuditEntry.target_id == key)
        return db.session.scalar(stmt) or 0


def deliveries(app, **where) -> list[WebhookDelivery]:
    with app.app_context(), unit_of_work():
        rows = list(db.session.scalars(select(WebhookDelivery).filter_by(**where).order_by(WebhookDelivery.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def test_signed_delivery_runs_its_handler_once(hook_app):
    client = hook_app.test_client()
    response = deliver(client)
    assert response.status_code == 202 and response.json["status"] == "accepted"
    assert "Set-Cookie" not in response.headers  # no session for providers
    wait_for_jobs(hook_app)
    assert effects(hook_app, "d-1") == 1
    [row] = deliveries(hook_app)
    assert (row.status, row.plugin, row.endpoint, row.external_id, row.attempts) == \
        ("processed", "hooktest", "events", "d-1", 1)
    again = deliver(client)
    assert again.status_code == 200 and again.json["status"] == "duplicate"
    wait_for_jobs(hook_app)
    assert effects(hook_app, "d-1") == 1 and len(deliveries(hook_app)) == 1


def test_a_provider_that_signs_the_address_it_called_sees_it(hook_app):
    """Twilio signs the whole URL it called: the request a plugin verifies carries it, query included."""
    client = hook_app.test_client()
    raw = b'{"event": "call_ended"}'
    url = "http://localhost/webhooks/hooktest/signed-url?AccountSid=AC1"
    signed = deliver(client, "signed-url?AccountSid=AC1", body=raw, delivery="u-1",
                     signature=hooktest.sign(url.encode() + raw))
    assert signed.status_code == 202, signed.get_data(as_text=True)
    elsewhere = deliver(client, "signed-url?AccountSid=AC2", body=raw, delivery="u-2",
                        signature=hooktest.sign(url.encode() + raw))
    assert elsewhere.status_code == 403  # the same signature for another address


@pytest.mark.parametrize("encoding", ["form", "multipart"])
def test_a_form_encoded_delivery_is_verified_and_handled_over_the_bytes_sent(hook_app, encoding):
    """Most PBXs post forms: the signature is checked over the body exactly as sent (not emptied by the form
    parsing every request gets), and the handler reads the same form."""
    client = hook_app.test_client()
    if encoding == "form":
        raw, content_type = b"event=NOTIFY_START&caller_id=%2B79161234567&note=%D0%B7%D0%B2%D0%BE%D0%BD%D0%BE%D0%BA", \
            "application/x-www-form-urlencoded"
    else:
        raw = (b"--b0undary\r\nContent-Disposition: form-data; name=\"event\"\r\n\r\nNOTIFY_END\r\n"
               b"--b0undary--\r\n")
        content_type = "multipart/form-data; boundary=b0undary"
    sent = deliver(client, "form", body=raw, content_type=content_type, delivery=f"f-{encoding}")
    assert sent.status_code == 202, sent.get_data(as_text=True)
    forged = deliver(client, "form", body=raw, content_type=content_type, delivery="f-forged",
                     signature=hooktest.sign(raw + b"x"))
    assert forged.status_code == 403
    wait_for_jobs(hook_app)
    assert effects(hook_app, f"f-{encoding}") == 1 and effects(hook_app, "f-forged") == 0
    [row] = deliveries(hook_app, external_id=f"f-{encoding}")
    assert bytes(row.body) == raw


@pytest.mark.parametrize("query", ["AccountSid=AC1", "To=%2B74951234567&Caller=client%3Aolga",
                                   "name=%D0%9E%D0%BB%D1%8C%D0%B3%D0%B0&empty=", "a=1&a=2&b=%40home"])
def test_the_address_a_provider_signed_is_seen_with_its_escapes_as_sent(hook_app, query):
    """A provider signs the address as it called it: escapes (%3A, %40, UTF-8) are not decoded and re-encoded."""
    client = hook_app.test_client()
    raw = b'{"event": "call_ended"}'
    url = f"http://localhost/webhooks/hooktest/signed-url?{query}"
    signed = deliver(client, f"signed-url?{query}", body=raw, delivery=f"q-{query}",
                     signature=hooktest.sign(url.encode() + raw))
    assert signed.status_code == 202, signed.get_data(as_text=True)


@pytest.mark.parametrize("signature", ["", "sha256=" + "0" * 64, "sha256=nothex", None])
def test_wrong_or_missing_signature_is_refused_and_kept(hook_app, signature):
    client = hook_app.test_client()
    headers = {}
    raw = json.dumps({"event": "x"}).encode()
    if signature is None:  # no header at all
        response = client.post("/webhooks/hooktest/events", data=raw, content_type="application/json",
                               headers={"X-Delivery-Id": "forged"})
    else:
        response = deliver(client, body=raw, signature=signature, delivery="forged", headers=headers)
    assert response.status_code == 403
    wait_for_jobs(hook_app)
    assert effects(hook_app) == 0
    [row] = deliveries(hook_app)
    assert row.status == "refused" and row.dedup_key is None and row.external_id == "forged"
    assert "signature" in row.error
    # a refused forgery never blocks the real delivery with the same id
    assert deliver(client, body=raw, delivery="forged").status_code == 202


def test_body_over_the_endpoint_limit_is_413(hook_app):
    client = hook_app.test_client()
    big = json.dumps({"event": "x", "pad": "a" * 4000}).encode()
    response = deliver(client, body=big)
    assert response.status_code == 413 and response.json["error"]["code"] == "too_large"
    assert deliveries(hook_app) == []


def test_method_and_content_type(hook_app):
    client = hook_app.test_client()
    response = client.get("/webhooks/hooktest/events")
    assert response.status_code == 405 and response.headers["Allow"] == "POST"
    response = deliver(client, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert client.post("/webhooks/hooktest/nowhere", data=b"{}").status_code == 404
    assert client.post("/webhooks/nobody/events", data=b"{}").status_code == 404
    assert deliveries(hook_app) == []


@pytest.mark.parametrize(("path", "body", "content_type"), [
    ("events", b"{broken", "application/json"),
    ("events", b"[" * 1500, "application/json"),
    ("events", b'{"event": NaN}', "application/json"),
    ("events", b"\xff\xfe", "application/json"),
    ("plain", b"garbage", "text/plain"),
    ("plain", b"\xff", "text/plain"),
])
def test_malformed_bodies_are_400_without_a_trace(hook_app, path, body, content_type):
    response = deliver(hook_app.test_client(), path, body=body, content_type=content_type)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "File \"" not in text
    assert response.json["error"]["code"] == "malformed_body" and response.json["error"]["message"]
    assert deliveries(hook_app) == []


def test_plain_text_endpoint_takes_its_id_from_the_body(hook_app):
    client = hook_app.test_client()
    assert deliver(client, "plain", body=b"id=p-7", content_type="text/plain", delivery=None).status_code == 202
    assert deliver(client, "plain", body=b"id=p-7", content_type="text/plain", delivery=None).status_code == 200
    wait_for_jobs(hook_app)
    assert effects(hook_app, "p-7") == 1


def test_five_identical_deliveries_at_once_have_one_effect(hook_app):
    barrier = threading.Barrier(5)
    codes: list[int] = []
    raw = json.dumps({"event": "call_ended"}).encode()

    def send() -> None:
        client = hook_app.test_client()
        barrier.wait()
        codes.append(deliver(client, body=raw, delivery="same").status_code)

    threads = [threading.Thread(target=send) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    wait_for_jobs(hook_app)
    assert sorted(codes) == [200, 200, 200, 200, 202]
    assert effects(hook_app, "same") == 1 and len(deliveries(hook_app)) == 1


def test_failing_handler_marks_the_delivery_and_replay_from_the_admin_page(hook_app):
    hooktest.FAILING.add("boom")
    client = hook_app.test_client()
    assert deliver(client, delivery="boom").status_code == 202
    assert deliver(client, delivery="fine").status_code == 202  # the other deliveries are not lost
    wait_for_jobs(hook_app)
    [failed] = deliveries(hook_app, external_id="boom")
    assert failed.status == "failed" and "provider exploded on boom" in failed.error
    assert effects(hook_app, "boom") == 0  # the handler's own writes were undone with it
    assert effects(hook_app, "fine") == 1

    admin = create_user(hook_app, "hooks-admin@example.com", is_admin=True)
    browser = hook_app.test_client()
    sign_in(browser, admin.email)
    page = browser.get(f"/admin/webhooks/{failed.id}")
    assert page.status_code == 200 and "provider exploded on boom" in page.get_data(as_text=True)
    assert browser.post(f"/admin/webhooks/{failed.id}/replay").status_code == 400  # no CSRF token
    hooktest.FAILING.clear()
    response = post_form(browser, f"/admin/webhooks/{failed.id}/replay")
    assert response.status_code == 303
    wait_for_jobs(hook_app)
    [replayed] = deliveries(hook_app, external_id="boom")
    assert replayed.status == "processed" and replayed.error is None and replayed.attempts == 2
    assert effects(hook_app, "boom") == 1
    with hook_app.app_context(), unit_of_work():
        assert db.session.scalar(select(func.count(AuditEntry.id)).where(
            AuditEntry.action == "webhook.replayed")) == 1


def test_a_handler_error_is_shown_without_the_module_path(hook_app):
    client = hook_app.test_client()
    assert deliver(client, payload={"no": "event"}, delivery="no-event").status_code == 202  # read by the job
    wait_for_jobs(hook_app)
    [row] = deliveries(hook_app)
    assert row.status == "failed" and row.error == "MalformedBody: no event"
    admin = create_user(hook_app, "hooks-admin@example.com", is_admin=True)
    browser = hook_app.test_client()
    sign_in(browser, admin.email)
    assert "MalformedBody: no event" in browser.get(f"/admin/webhooks/{row.id}").get_data(as_text=True)


def test_refused_delivery_cannot_be_replayed(hook_app):
    client = hook_app.test_client()
    deliver(client, signature="sha256=bad", delivery="f1")
    [row] = deliveries(hook_app)
    admin = create_user(hook_app, "hooks-admin@example.com", is_admin=True)
    browser = hook_app.test_client()
    sign_in(browser, admin.email)
    assert "Replay" not in browser.get(f"/admin/webhooks/{row.id}").get_data(as_text=True)
    post_form(browser, f"/admin/webhooks/{row.id}/replay")
    wait_for_jobs(hook_app)
    assert deliveries(hook_app)[0].status == "refused" and effects(hook_app) == 0


def test_inline_endpoint_answers_within_its_deadline(hook_app):
    client = hook_app.test_client()
    response = deliver(client, "calls/route", {"caller": "+79001234567"}, delivery="call-1")
    assert response.status_code == 200
    assert response.json == {"ring": "ext-101", "caller": "+79001234567"}
    [row] = deliveries(hook_app)
    assert row.status == "processed" and row.answer["status"] == 200
    repeat = deliver(client, "calls/route", {"caller": "+79001234567"}, delivery="call-1")
    assert repeat.json == {"ring": "ext-101", "caller": "+79001234567"}  # the same answer, no second effect
    assert effects(hook_app, "call-1") == 1


def test_inline_endpoint_falls_back_on_timeout(hook_app):
    client = hook_app.test_client()
    started = time.monotonic()
    response = deliver(client, "calls/route", {"caller": "+7900", "think": 1.2}, delivery="call-slow")
    elapsed = time.monotonic() - started
    assert response.status_code == 200 and response.json == {"ring": "operator"}
    assert elapsed < 1.0  # 400 ms deadline, not the handler's 1.2 s
    wait_until(lambda: deliveries(hook_app)[0].status == "processed", timeout=10)
    [row] = deliveries(hook_app)
    assert "deadline" in row.error and json.loads(row.answer["body"]) == {"ring": "operator"}


def test_an_inline_endpoint_whose_handler_failed_answers_its_fallback_to_every_repeat(hook_app):
    """A PBX asking whom to ring understands only its own kind of answer: when the handler failed, the first
    delivery and every repeat of it get the endpoint's fallback, never the pipeline's JSON."""
    client = hook_app.test_client()
    hooktest.FAILING.add("call-broken")
    try:
        for _attempt in range(3):
            response = deliver(client, "calls/route", {"caller": "+7900"}, delivery="call-broken")
            assert response.status_code == 200 and response.json == {"ring": "operator"}, response.get_data()
    finally:
        hooktest.FAILING.discard("call-broken")


def test_allow_list_of_source_addresses(hook_app, make_app, tmp_path):
    client = hook_app.test_client()
    assert deliver(client, "office", delivery="o-1").status_code == 403  # from 127.0.0.1
    inside = deliver(client, "office", delivery="o-2", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert inside.status_code == 202
    [refused, accepted] = deliveries(hook_app)
    assert refused.status == "refused" and "127.0.0.1" in refused.error and accepted.status == "queued"
    # the administrator narrows any endpoint of a plugin
    narrowed = make_app(extra_plugins=[("hooktest", hooktest)], config={"WEBHOOK_ALLOW": {"hooktest": "192.0.2.0/24"}},
                        MAYAK_PLUGINS_FILE=str(plugins_file(tmp_path)))
    assert deliver(narrowed.test_client(), delivery="n-1").status_code == 403
    ok = deliver(narrowed.test_client(), delivery="n-2", environ_base={"REMOTE_ADDR": "192.0.2.9"})
    assert ok.status_code == 202


def test_headers_are_stored_without_secrets(hook_app):
    client = hook_app.test_client()
    client.set_cookie("mayak_session", "stolen")
    deliver(client, headers={"Authorization": "Bearer abc", "X-Provider-Key": "k-123", "X-Api-Token": "t-1",
                             "X-Webhook-Secret": "s", "X-Event-Type": "call"},
            query_string={"token": "q-secret", "account": "42"})
    [row] = deliveries(hook_app)
    stored = json.dumps(row.headers) + json.dumps(row.query)
    for secret in ("Bearer abc", "k-123", "t-1", "stolen", "q-secret"):
        assert secret not in stored
    assert row.headers["x-event-type"] == "call" and row.headers["x-delivery-id"] == "d-1"
    assert row.query == {"account": ["42"]}


def test_admin_page_in_russian_escapes_what_providers_sent(hook_app):
    client = hook_app.test_client()
    deliver(client, "events", {"event": "<script>alert(1)</script>"}, delivery="<img src=x onerror=alert(2)>")
    deliver(client, signature="sha256=bad", delivery="bad-1")
    wait_for_jobs(hook_app)
    boss = create_user(hook_app, "boss@example.com", is_admin=True, locale="ru")
    browser = hook_app.test_client()
    sign_in(browser, boss.email)
    page = browser.get("/admin/webhooks").get_data(as_text=True)
    assert "Вебхуки" in page and "Провайдеры" in page and "отклонена" in page and "обработана" in page
    # the core's own reason for a refusal is stored in English and shown in the reader's language
    assert "Подпись не прошла проверку" in page and "signature check failed" not in page
    assert "<img src=x" not in page and "&lt;img src=x" in page
    assert "hooktest" in page and "calls/route" in page
    row = deliveries(hook_app)[0]
    detail = browser.get(f"/admin/webhooks/{row.id}").get_data(as_text=True)
    assert "<script>alert(1)" not in detail and "&lt;script&gt;alert(1)" in detail
    assert "Заголовки" in detail
    only_refused = browser.get("/admin/webhooks?status=refused&plugin=hooktest").get_data(as_text=True)
    assert "bad-1" in only_refused and "&lt;img" not in only_refused


def test_admin_list_pages_by_keyset(hook_app):
    client = hook_app.test_client()
    for n in range(53):
        deliver(client, delivery=f"k-{n}")
    wait_for_jobs(hook_app)
    admin = create_user(hook_app, "hooks-admin@example.com", is_admin=True)
    browser = hook_app.test_client()
    sign_in(browser, admin.email)
    first = browser.get("/admin/webhooks").get_data(as_text=True)
    assert "k-52" in first and "k-2<" not in first and "before=" in first
    oldest = deliveries(hook_app)[3].id
    rest = browser.get(f"/admin/webhooks?before={oldest}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "k-0" in rest and "<html" not in rest


def test_admin_pages_need_the_webhook_right(hook_app):
    deliver(hook_app.test_client())
    row = deliveries(hook_app)[0]
    clerk = create_user(hook_app, "clerk@example.com")
    browser = hook_app.test_client()
    sign_in(browser, clerk.email)
    assert browser.get("/admin/webhooks").status_code == 403
    assert browser.get(f"/admin/webhooks/{row.id}").status_code == 403
    assert post_form(browser, f"/admin/webhooks/{row.id}/replay").status_code == 403
    viewer = create_user(hook_app, "viewer@example.com", grants={("webhook", "view"): "all"})
    browser = hook_app.test_client()
    sign_in(browser, viewer.email)
    assert browser.get("/admin/webhooks").status_code == 200
    assert post_form(browser, f"/admin/webhooks/{row.id}/replay").status_code == 403


def test_old_deliveries_are_purged_by_the_scheduled_job(hook_app):
    client = hook_app.test_client()
    deliver(client, delivery="old")
    deliver(client, delivery="new")
    wait_for_jobs(hook_app)
    with hook_app.app_context(), unit_of_work():
        old = db.session.scalar(select(WebhookDelivery).where(WebhookDelivery.external_id == "old"))
        old.received_at = utcnow() - timedelta(days=31)
        db.session.commit()
        from core import jobs
        from core.plugins.facades import registry

        assert "core.webhook_purge" in registry().schedules
        jobs.enqueue("core.webhook_purge")
        db.session.commit()
    wait_for_jobs(hook_app)
    assert [r.external_id for r in deliveries(hook_app)] == ["new"]


def test_admin_pages_stay_within_the_query_budget(hook_app):
    from tests.test_query_budget import BUDGET, counted

    client = hook_app.test_client()
    for n in range(60):
        deliver(client, delivery=f"b-{n}", payload={"event": "x", "pad": "p" * 1000})
    deliver(client, signature="sha256=bad", delivery="b-bad")
    wait_for_jobs(hook_app)
    admin = create_user(hook_app, "hooks-admin@example.com", is_admin=True)
    browser = hook_app.test_client()
    sign_in(browser, admin.email)
    row = deliveries(hook_app)[0]
    for url in ("/admin/webhooks", "/admin/webhooks?status=failed", f"/admin/webhooks/{row.id}"):
        browser.get(url)
        with counted(hook_app) as statements:
            page = browser.get(url)
            assert page.status_code == 200
        assert len(statements) <= BUDGET, f"{url}: {len(statements)} statements"
    page = browser.get("/admin/webhooks").get_data(as_text=True)
    assert "ppppp" not in page  # bodies stay on the delivery's own page


def test_provider_health_counts_the_last_hour(hook_app):
    from core.services.platform import webhooks

    client = hook_app.test_client()
    deliver(client, delivery="h-1")
    deliver(client, signature="sha256=bad", delivery="h-2")
    wait_for_jobs(hook_app)
    with hook_app.app_context():
        old = db.session.scalar(select(WebhookDelivery).where(WebhookDelivery.external_id == "h-1"))
        old.received_at = utcnow() - timedelta(hours=2)
        db.session.commit()
        [health] = webhooks.health()
    assert (health.plugin, health.received_last_hour, health.failures_last_hour) == ("hooktest", 1, 1)
    assert health.endpoints == ["calls/route", "events", "form", "office", "plain", "signed-url"]
    assert health.last_event is not None and health.last_event.tzinfo is not None
    assert utcnow() - health.last_event < timedelta(minutes=5)


def test_a_flood_of_forgeries_is_not_all_stored(hook_app):
    from core.services.platform.webhooks import REFUSED_KEPT_PER_MINUTE

    client = hook_app.test_client()
    with hook_app.app_context():
        for n in range(REFUSED_KEPT_PER_MINUTE):
            db.session.add(WebhookDelivery(plugin="hooktest", endpoint="events", method="POST", status="refused",
                                           external_id=f"f-{n}", received_at=utcnow() - timedelta(seconds=30)))
        db.session.commit()
    assert deliver(client, signature="sha256=bad", delivery="one-more").status_code == 403
    assert len(deliveries(hook_app, status="refused")) == REFUSED_KEPT_PER_MINUTE
    assert deliver(client, delivery="real").status_code == 202  # the real provider still gets through
    with hook_app.app_context():  # a minute later refusals are kept again
        for row in db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.status == "refused")):
            row.received_at = utcnow() - timedelta(minutes=2)
        db.session.commit()
    assert deliver(client, signature="sha256=bad", delivery="later").status_code == 403
    assert len(deliveries(hook_app, status="refused")) == REFUSED_KEPT_PER_MINUTE + 1
