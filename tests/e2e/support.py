"""Shared by the phone and search browser tests: a live server over a Russian book of clients, and Chromium."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from core import create_app
from core.testing.fixtures import TEST_CONFIG, TEST_PASSWORD, app_environ, create_user, migrate_app

CHROMIUM = "/usr/bin/chromium"
EMAIL = "manager@example.com"


def seed_russian_book(app: Any, owner_id: int) -> dict[str, int]:
    """Clients with long Russian names, companies, deals in several stages, tasks and inbox items."""
    from core.db import db, unit_of_work
    from core.models import User, utcnow
    from core.services.clients import companies, contacts, timeline
    from core.services.platform.context import Actor
    from core.services.work import deals, inbox, tasks

    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, owner_id))
        pipeline = deals.ensure_default_pipeline()
        firm = companies.save(actor, None, {"name": "ООО «Ромашка — Северо-Западная Строительная Компания»",
                                            "city": "Санкт-Петербург", "industry": "Строительство и ремонт",
                                            "phones": [{"raw": "+7 812 765-43-21"}]})
        ids: dict[str, int] = {"company": firm.id, "pipeline": pipeline.id}
        people = [("Константин", "Константинович", "Преображенский-Воскресенский"), ("Анна", "Сергеевна", "Иванова"),
                  ("Пётр", "Ильич", "Чайковский"), ("Екатерина", "Александровна", "Длиннофамильная")]
        for n, (first, middle, last) in enumerate(people):
            person = contacts.save(actor, None, {
                "first_name": first, "middle_name": middle, "last_name": last, "city": "Нижний Новгород",
                "phones": [{"raw": f"+7 916 555-{n:02d}-{n + 10:02d}"}],
                "emails": [{"address": f"ochen.dlinnyi.adres.{n}@primer-kompanii.example.com"}],
                "companies": [{"company_id": firm.id, "job_title": "Заместитель генерального директора"}],
                "tags": ["постоянный клиент", "опт"]})
            timeline.record(kind="note", contact_id=person.id, author_id=owner_id,
                            body="Обсудили поставку, клиент просит перезвонить в четверг после обеда")
            stage = pipeline.stages[n % 3]
            deal = deals.save(actor, None, {"title": f"Поставка металлоконструкций для склада №{n + 1}",
                                            "pipeline_id": pipeline.id, "stage_id": stage.id,
                                            "amount": f"{(n + 1) * 1250000}.50", "contact_id": person.id,
                                            "company_id": firm.id})
            task = tasks.save(actor, None, {"title": f"Перезвонить и согласовать спецификацию №{n + 1}",
                                            "contact_id": person.id, "deal_id": deal.id,
                                            "due_at": (utcnow() + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")})
            if n == 0:
                task.due_at = utcnow() - timedelta(days=1)
                ids.update(contact=person.id, deal=deal.id)
            inbox.receive(inbox.IncomingItem(channel="web_form", name=f"Посетитель сайта {n}",
                                             phone=f"+7 903 000-00-{n:02d}",
                          subject="Заявка на расчёт стоимости металлоконструкций"))
        db.session.commit()
        return ids


@contextmanager
def live_server(tmp: Path) -> Iterator[tuple[str, dict[str, int]]]:
    # a Russian installation: seeded names (pipeline, stages) in Russian as well
    app = create_app(TEST_CONFIG, environ=app_environ(f"sqlite:///{tmp / 'e2e.db'}", tmp / "instance",
                                                       MAYAK_LOCALE="ru"))
    migrate_app(app)
    boss = create_user(app, EMAIL, is_admin=True, full_name="Мария Ивановна Руководительница", locale="ru")
    ids = seed_russian_book(app, boss.id)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", ids
    finally:
        server.shutdown()


@contextmanager
def chromium() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        from core.testing.services import unavailable

        unavailable("Debian's chromium", CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Any, base: str, email: str = EMAIL) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def watch(page: Any) -> list[str]:
    """Console errors, page errors and failed responses, collected for the test to assert empty."""
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console: {msg.text} (at {msg.location.get('url')}:"
                                                   f"{msg.location.get('lineNumber')})")
            if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return problems


def signed_in_page(browser: Any, base: str, email: str, problems: list[str], *, expected_errors: str = "") -> Any:
    """A new page in Russian at 1366 px, signed in as ``email``; console and page errors are appended to
    ``problems`` (console messages containing ``expected_errors``, such as a form's deliberate 422, excepted)."""
    page = browser.new_page(locale="ru-RU", viewport={"width": 1366, "height": 900})
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" and not (expected_errors and expected_errors in msg.text) else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    sign_in(page, base, email)
    return page
