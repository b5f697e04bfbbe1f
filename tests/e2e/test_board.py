"""The deal board in Chromium at 1366×768 (issue 10, item 17): cards name the client, a drag to the next stage
with Undo from the toast, a drag to Lost on the bottom bar asks the reason in a modal."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from core import create_app
from core.db import unit_of_work
from core.testing.fixtures import TEST_CONFIG, app_environ, create_user, migrate_app
from tests.e2e.support import sign_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def board_server(tmp_path_factory) -> Iterator[tuple[str, object, int]]:
    tmp = tmp_path_factory.mktemp("e2e-board")
    app = create_app(TEST_CONFIG, environ=app_environ(f"sqlite:///{tmp / 'board.db'}", tmp / "instance"))
    migrate_app(app)
    boss = create_user(app, "boss@example.com", is_admin=True, full_name="Анна Босс", locale="ru")
    with app.app_context(), unit_of_work():
        from core.db import db
        from core.models import User
        from core.services.clients import companies, contacts
        from core.services.platform.context import Actor
        from core.services.work import deals

        actor = Actor(db.session.get(User, boss.id))
        pipeline = deals.ensure_default_pipeline()
        firm = companies.save(actor, None, {"name": "ООО «Дачник»"})
        person = contacts.save(actor, None, {"first_name": "Пётр", "last_name": "Садовников"})
        deal = deals.save(actor, None, {"title": "Теплица", "pipeline_id": pipeline.id, "amount": "85000",
                                        "contact_id": person.id, "company_id": firm.id})
        deal_id = deal.id
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app, deal_id
    server.shutdown()


def _stage_of(app, deal_id: int) -> tuple[str, str, str]:
    with app.app_context(), unit_of_work():
        from core.db import db
        from core.models import Deal

        db.session.expire_all()
        deal = db.session.get(Deal, deal_id)
        return deal.stage.kind, deal.stage.name, deal.lost_reason


def test_drag_to_next_stage_undo_then_lost_with_the_reason_modal(board_server, browser):
    from playwright.sync_api import expect

    url, app, deal_id = board_server
    page = browser.new_page(locale="ru-RU", viewport={"width": 1366, "height": 768})
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    sign_in(page, url, "boss@example.com")
    page.goto(f"{url}/deals/")
    card = page.locator(".kanban-card", has_text="Теплица")
    assert "Пётр Садовников" in card.inner_text() and "ООО «Дачник»" in card.inner_text()
    columns = page.locator(".kanban-column .kanban-cards")
    first_stage = _stage_of(app, deal_id)[1]

    # Won and Lost are in reach at 1366×768 without scrolling
    for kind in ("won", "lost"):
        box = page.locator(f".kanban-drop.kind-{kind}").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1366
        assert box["y"] + box["height"] <= 768

    # to the next stage, then Undo from the toast
    card.drag_to(columns.nth(1))
    toast = page.locator("#toasts .toast", has_text="Перенесена")
    toast.wait_for(timeout=15000)
    assert _stage_of(app, deal_id)[1] != first_stage
    assert columns.nth(1).locator(".kanban-card", has_text="Теплица").count() == 1
    toast.locator("button.toast-undo").click()
    page.locator("#toasts .toast", has_text="Отменено").wait_for(timeout=15000)
    assert _stage_of(app, deal_id)[1] == first_stage
    assert columns.nth(0).locator(".kanban-card", has_text="Теплица").count() == 1

    # to Lost: the modal asks why; cancelling puts the card back
    page.locator(".kanban-card", has_text="Теплица").drag_to(page.locator(".kanban-drop.kind-lost .kanban-cards"))
    modal = page.locator("#lost-modal")
    modal.wait_for(state="visible", timeout=5000)
    modal.locator("button", has_text="Отмена").click()
    expect(columns.nth(0).locator(".kanban-card", has_text="Теплица")).to_have_count(1)
    assert _stage_of(app, deal_id)[0] == "open"

    page.locator(".kanban-card", has_text="Теплица").drag_to(page.locator(".kanban-drop.kind-lost .kanban-cards"))
    modal.wait_for(state="visible", timeout=5000)
    modal.locator("button[type=submit]").click()
    assert modal.locator("#lost-error").is_visible()  # no reason chosen yet: it says so and waits
    modal.locator("input[name=lost_reason]").nth(0).check()
    modal.locator("textarea[name=lost_comment]").fill("Купили у соседа")
    moved_toasts = page.locator("#toasts .toast", has_text="Перенесена")
    before = moved_toasts.count()
    modal.locator("button[type=submit]").click()
    expect(moved_toasts).to_have_count(before + 1, timeout=15000)
    kind, _, reason = _stage_of(app, deal_id)
    assert kind == "lost" and reason
    assert page.locator(".kanban-column .kanban-card", has_text="Теплица").count() == 0
    assert problems == []
    page.close()


def test_task_form_picks_the_client_by_typing_and_repeats_in_words(board_server, browser):
    url = board_server[0]
    page = browser.new_page(locale="ru-RU", viewport={"width": 1366, "height": 768})
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    sign_in(page, url, "boss@example.com")
    page.goto(f"{url}/tasks/new")
    page.fill("#title", "Позвонить про теплицу")
    page.fill("#due_date", "2031-03-05")
    page.fill("#due_time", "10:00")
    page.locator("#pick-contact_id").press_sequentially("садов", delay=30)
    option = page.locator("#pick-contact_id-options .picker-option", has_text="Пётр Садовников")
    option.wait_for(timeout=5000)
    option.click()
    assert page.input_value("#pick-contact_id") == "Пётр Садовников"
    page.locator("#pick-deal_id").press_sequentially("тепл", delay=30)
    page.locator("#pick-deal_id").press("ArrowDown")
    page.keyboard.press("Enter")  # the keyboard picks too
    assert page.input_value("#pick-deal_id") == "Теплица"
    page.locator("summary", has_text="Повторять").click()
    page.select_option("#repeat", "monthly")
    page.select_option("#month_day", "last")
    page.fill("input[name=count]", "6")
    page.locator("#repeat-words", has_text="каждый месяц в последний день, 6 раз").wait_for(timeout=5000)
    page.locator("form.form-narrow button.btn-primary", has_text="Сохранить").click()
    page.wait_for_url(f"{url}/tasks/recurring")
    body = page.inner_text("main") if page.locator("main").count() else page.inner_text("body")
    assert "Каждый месяц в последний день, 6 раз" in body and "Пётр Садовников" in body and "Теплица" in body
    assert problems == []
    page.close()
