"""Telephony in Chromium (issue 13): a signed PBX webhook makes the caller's card appear on the open page of the
manager whose extension rings, in Russian (how soon is measured in bench/telephony.py, not in a timed test);
answering brings the call note, which survives the card's refreshes and lands in the client's timeline; the
recording plays in the card with the browser's player."""

from __future__ import annotations

import io
import json
import math
import struct
import threading
import time
import wave
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from werkzeug.serving import make_server

from core import create_app
from core.testing.fixtures import TEST_CONFIG, app_environ, create_user, migrate_app
from tests.e2e.support import sign_in, watch
from tests.plugins import telecom

pytestmark = pytest.mark.browser

MANAGER = "manager@example.com"
CLIENT = "+79165554433"


def _tone(seconds: float = 1.5) -> bytes:
    """A real WAV file (a 440 Hz tone) the browser's audio player can decode."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / 8000)))
                                 for n in range(int(8000 * seconds))))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def pbx_site(tmp_path_factory) -> Iterator[tuple[str, object, dict[str, int]]]:
    tmp = tmp_path_factory.mktemp("calls")
    app = create_app(TEST_CONFIG, environ=app_environ(f"sqlite:///{tmp / 'calls.db'}", tmp / "instance",
                                                      MAYAK_LOCALE="ru"), extra_plugins=[("telecom", telecom)])
    migrate_app(app)
    manager = create_user(app, MANAGER, is_admin=True, full_name="Мария Ивановна", locale="ru")
    from core.db import db, unit_of_work
    from core.models import User
    from core.services.clients import contacts
    from core.services.platform.context import Actor
    from core.services.work import deals

    with app.app_context(), unit_of_work():
        boss = db.session.get(User, manager.id)
        boss.extension = "101"
        actor = Actor(boss)
        person = contacts.save(actor, None, {"first_name": "Ольга", "middle_name": "Петровна", "last_name": "Звонкова",
                                             "owner_id": manager.id, "phones": [{"raw": CLIENT}]})
        pipeline = deals.ensure_default_pipeline()
        deals.save(actor, None, {"title": "Поставка кирпича", "pipeline_id": pipeline.id, "amount": "450000",
                                 "contact_id": person.id, "owner_id": manager.id})
        ids = {"contact": person.id}
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", app, ids
    server.shutdown()


def _post_event(app, event: str, call_id: str, **fields: object) -> None:
    """The PBX's signed webhook, through the core's pipeline (signature, de-duplication, the job)."""
    from mayak import hmac_hex

    body = json.dumps({"event": event, "pbx_call_id": call_id, "time": int(datetime.now(UTC).timestamp()),
                       "caller": CLIENT, "internal": "101", **fields}).encode()
    client = app.test_client()
    answer = client.post("/webhooks/telecom/pbx", data=body, content_type="application/json",
                         headers={"X-Signature": hmac_hex(telecom.WEBHOOK_SECRET, body),
                                  "X-Event-Id": f"{call_id}-{event}"})
    assert answer.status_code in (200, 202), answer.get_data(as_text=True)


def test_the_callers_card_appears_and_the_note_reaches_the_timeline(pbx_site, browser):
    base, app, ids = pbx_site
    page = browser.new_page(locale="ru-RU")
    problems = watch(page)
    sign_in(page, base, MANAGER)
    page.goto(f"{base}/deals/")
    page.wait_for_timeout(1600)  # the page is open and polling
    _post_event(app, "start", "b-1")
    toast = page.locator("#call-toasts .call-toast")
    toast.wait_for(state="visible", timeout=15000)
    text = toast.inner_text()
    assert "Входящий звонок" in text and "Ольга Петровна Звонкова" in text and "Поставка кирпича" in text
    assert "450" in text and "Менеджер: Мария Ивановна" in text
    page.screenshot(path=str(pbx_site_shot(app, "toast-ringing.png")), caret="initial")
    _post_event(app, "answer", "b-1")
    note = page.locator("#call-toasts textarea[name=note]")
    note.wait_for(state="visible", timeout=15000)
    note.fill("Клиент согласен на поставку во вторник")
    _post_event(app, "start", "b-2")  # a second call rings while the note is being typed: the cards redraw
    page.locator("#call-toasts .call-toast").nth(1).wait_for(state="visible", timeout=15000)
    assert note.input_value() == "Клиент согласен на поставку во вторник", "the typed note was lost to a redraw"
    for card in page.locator("#call-toasts .call-toast").all():
        assert "Менеджер: Мария Ивановна" in card.inner_text(), card.inner_text()
    page.select_option("#call-toasts select[name=outcome]", "agreed")
    page.screenshot(path=str(pbx_site_shot(app, "toast-note.png")), caret="initial")
    page.click("#call-toasts form.call-note button[type=submit]")
    page.locator("#call-toasts textarea[name=note]").wait_for(state="detached", timeout=15000)
    _post_event(app, "end", "b-1", duration=42)
    from core.jobs.backends import InProcessBackend

    InProcessBackend.wait_all_idle(5)
    page.goto(f"{base}/contacts/{ids['contact']}")
    entry = page.locator(".timeline-entry.kind-call", has_text="Клиент согласен на поставку во вторник")
    assert entry.count() == 1
    words = entry.inner_text()
    assert "Договорились о следующем шаге" in words and "0 мин 42 с" in words and "Мария Ивановна" in words
    assert problems == [], problems
    page.close()


def test_the_recording_plays_in_the_card(pbx_site, browser):
    base, app, ids = pbx_site
    telecom.RECORDINGS["rec-b-3"] = _tone()
    _post_event(app, "start", "b-3")
    _post_event(app, "answer", "b-3")
    _post_event(app, "end", "b-3", duration=30, recording="rec-b-3")
    from core.jobs.backends import InProcessBackend

    deadline = time.monotonic() + 10
    page = browser.new_page(locale="ru-RU")
    problems = watch(page)
    sign_in(page, base, MANAGER)
    while time.monotonic() < deadline:
        InProcessBackend.wait_all_idle(5)
        page.goto(f"{base}/contacts/{ids['contact']}")
        if page.locator(".timeline-entry audio").count():
            break
        time.sleep(0.3)
    player = page.locator(".timeline-entry audio").first
    assert player.get_attribute("aria-label") == "Запись разговора"
    duration = page.evaluate("""async (el) => {
        el.preload = 'auto'; el.load();
        await new Promise((ok, fail) => {
            el.onloadedmetadata = ok; el.onerror = () => fail(el.error && el.error.code); });
        await el.play(); await new Promise(r => setTimeout(r, 300)); el.pause();
        return [el.duration, el.currentTime]; }""", player.element_handle())
    assert 1.4 < duration[0] < 1.6 and duration[1] > 0, duration
    page.screenshot(path=str(pbx_site_shot(app, "card-recording.png")), caret="initial")
    assert problems == [], problems
    page.close()


def pbx_site_shot(app, name: str):  # type: ignore[no-untyped-def]
    """Where a screenshot of the run goes (beside the test instance; kept for a person to look at)."""
    from pathlib import Path

    folder = Path(app.instance_path) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name
