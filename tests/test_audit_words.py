"""Issue 10, item 22: the audit log says what happened in words, in the reader's language — action names, records
by name, changes as "old → new" with stage and owner names — never raw codes (``deal.stage_changed``,
``stage: [1, 3]``)."""

from __future__ import annotations

import ast
import re
from html import unescape
from pathlib import Path

from core.config import PROJECT_ROOT
from core.db import db, unit_of_work
from core.models import Stage, User
from core.services.clients import companies, contacts
from core.services.platform.context import Actor
from core.services.work import deals
from core.web import audit_words


def _written_actions() -> tuple[set[str], list[str]]:
    """The action codes the code writes: constants (and either side of a conditional) as they are, f-strings as
    patterns."""
    codes: set[str] = set()
    patterns: list[str] = []

    def take(node: ast.AST) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            codes.add(node.value)
        elif isinstance(node, ast.IfExp):
            take(node.body)
            take(node.orelse)
        elif isinstance(node, ast.JoinedStr):
            patterns.append("".join(re.escape(v.value) if isinstance(v, ast.Constant) else "[a-z_]+"
                                    for v in node.values))

    for path in [*(PROJECT_ROOT / "core").rglob("*.py"), *(PROJECT_ROOT / "plugins").rglob("*.py")]:
        if "tests" in path.parts:
            continue
        for call in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
            if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                    and call.func.attr in ("record", "record_refusal")
                    and isinstance(call.func.value, ast.Name) and call.func.value.id in ("audit", "tokens")
                    and len(call.args) >= 2):
                take(call.args[1])
    return codes, patterns


def test_every_action_the_code_writes_has_words():
    codes, patterns = _written_actions()
    assert len(codes) > 30
    missing = sorted(code for code in codes if code not in audit_words.ACTIONS)
    assert not missing, f"audit actions without a label in core/web/audit_words.py: {missing}"
    for pattern in patterns:
        assert any(re.fullmatch(pattern, code) for code in audit_words.ACTIONS), pattern


def _rows(html: str) -> list[str]:
    body = html.split('id="audit-rows"', 1)[1].split("</tbody>", 1)[0]
    return [unescape(re.sub(r"<[^>]+>", " ", row)) for row in body.split("<tr")[1:]]


def test_the_log_says_what_happened_in_words(app, admin, admin_client, make_user):
    seller = make_user("seller@example.com", full_name="Мария Продавцова")
    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, admin.id))
        contact = contacts.save(actor, None, {"first_name": "Ольга", "last_name": "Егорова", "city": "Тверь"})
        contacts.save(actor, contact, {"city": "Казань", "owner_id": seller.id}, partial=True)
        company = companies.save(actor, None, {"name": "ООО Кама"})
        companies.reassign(actor, [company.id], seller.id)
        pipeline = deals.ensure_default_pipeline()
        deal = deals.save(actor, None, {"title": "Поставка труб", "pipeline_id": pipeline.id,
                                        "contact_id": contact.id})
        stages = list(db.session.scalars(db.select(Stage).where(Stage.pipeline_id == pipeline.id)
                                         .order_by(Stage.position)))
        first, second = stages[0].name, stages[1].name
        deals.move(actor, deal, stages[1].id)
        db.session.commit()
    expected = (("en", ("Deal moved to another stage", "Contact changed", "Companies given to another owner")),
                ("ru", ("Сделка переведена на другой этап", "Контакт изменён",
                        "Компании переданы другому ответственному")))
    for locale, words in expected:
        with app.app_context(), unit_of_work():
            db.session.execute(db.update(User).where(User.id == admin.id).values(locale=locale))
            db.session.commit()
        html = admin_client.get("/admin/audit").get_data(as_text=True)
        rows = _rows(html)
        text = " ".join(rows)
        for word in words:
            assert word in text, (locale, word)
        assert f"{first} → {second}" in text, locale
        assert "Тверь → Казань" in text and "Мария Продавцова" in text and "Поставка труб" in text
        assert not re.search(r"\b(deal|contact|company)\.[a-z_]+\b", text), f"raw codes shown: {text[:400]}"
        assert not re.search(r"\[\s*\d+\s*,\s*\d+\s*\]", text), "raw id lists shown"
        # the filter offers the same words
        assert ">" + words[0] + "</option>" in html
    assert admin_client.get("/admin/audit?action=deal.stage_changed").status_code == 200


def test_a_page_of_the_log_stays_within_the_query_budget(app, admin, admin_client, make_user):
    from tests.test_query_budget import BUDGET, counted

    seller = make_user("seller@example.com", full_name="Мария Продавцова")
    with app.app_context(), unit_of_work():
        actor = Actor(db.session.get(User, admin.id))
        pipeline = deals.ensure_default_pipeline()
        stage = db.session.scalars(db.select(Stage).where(Stage.pipeline_id == pipeline.id)
                                   .order_by(Stage.position)).all()[1]
        for n in range(30):
            contact = contacts.save(actor, None, {"first_name": f"Ольга{n}", "owner_id": seller.id})
            company = companies.save(actor, None, {"name": f"Кама {n}"})
            companies.reassign(actor, [company.id], seller.id)
            deal = deals.save(actor, None, {"title": f"Поставка {n}", "pipeline_id": pipeline.id,
                                            "contact_id": contact.id})
            deals.move(actor, deal, stage.id)
        db.session.commit()
        stage_name = stage.name
    admin_client.get("/admin/audit")
    with counted(app) as statements:
        html = admin_client.get("/admin/audit").get_data(as_text=True)
    assert "Мария Продавцова" in html and stage_name in html
    assert len(statements) <= BUDGET, "\n".join(statements)
