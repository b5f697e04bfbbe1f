"""QUALITY 7, webhooks: only a delivery signed with the provider's secret over the exact bytes sent passes (one
byte tampered, a wrong secret, no signature, a signature over re-serialised JSON: 403 and no handler run), and the
same delivery posted five times at once over real HTTP has exactly one effect."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading

import pytest
import requests

from core.testing.fixtures import wait_for_jobs
from tests.plugins import hooktest
from tests.security.test_login import serving
from tests.test_webhooks_in import deliveries, effects, plugins_file


@pytest.fixture
def hook_app(app, make_app, tmp_path):
    return make_app(extra_plugins=[("hooktest", hooktest)], MAYAK_PLUGINS_FILE=str(plugins_file(tmp_path)))


RAW = b'{"event":"payment_received","amount":"100.00","id":"evt-1"}'


def _post(client, body: bytes, signature: str | None, delivery: str):
    headers = {"X-Delivery-Id": delivery}
    if signature is not None:
        headers["X-Signature"] = signature
    return client.post("/webhooks/hooktest/events", data=body, content_type="application/json", headers=headers)


def _tampered(raw: bytes) -> bytes:
    return raw.replace(b"100.00", b"900.00")  # one byte


def _with_secret(secret: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def test_only_the_valid_signature_passes(hook_app):
    client = hook_app.test_client()
    reserialised = json.dumps(json.loads(RAW), indent=1).encode()  # same JSON, other bytes
    cases = [
        ("tampered", _tampered(RAW), hooktest.sign(RAW)),
        ("wrong-secret", RAW, _with_secret("not-the-secret", RAW)),
        ("missing", RAW, None),
        ("empty", RAW, ""),
        ("reserialised", reserialised, hooktest.sign(RAW)),
        ("truncated", RAW, hooktest.sign(RAW)[:-1]),
        ("upper-case", RAW, hooktest.sign(RAW).upper()),
    ]
    for name, body, signature in cases:
        response = _post(client, body, signature, f"bad-{name}")
        assert response.status_code == 403, name
    assert _post(client, RAW, hooktest.sign(RAW), "good").status_code == 202
    wait_for_jobs(hook_app)
    assert effects(hook_app) == 1 and effects(hook_app, "good") == 1
    refused = deliveries(hook_app, status="refused")
    assert len(refused) == len(cases) and all(r.error == "signature check failed" for r in refused)


def test_five_identical_deliveries_over_http_have_one_effect(hook_app):
    signature = hooktest.sign(RAW)
    with serving(hook_app) as base:
        barrier = threading.Barrier(5)
        codes: list[int] = []

        def send() -> None:
            session = requests.Session()
            barrier.wait()
            response = session.post(f"{base}/webhooks/hooktest/events", data=RAW, timeout=30,
                                    headers={"Content-Type": "application/json", "X-Signature": signature,
                                             "X-Delivery-Id": "evt-1"})
            codes.append(response.status_code)

        threads = [threading.Thread(target=send) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    wait_for_jobs(hook_app)
    assert sorted(codes) == [200, 200, 200, 200, 202]
    assert effects(hook_app, "evt-1") == 1 and len(deliveries(hook_app)) == 1
