"""Pipelines as administrators shape them (issue 4): stages in order with won/lost kinds, lost reasons from a list,
and nothing removed that still holds deals."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db import db, unit_of_work
from core.models import Pipeline, User
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.services.work import deals, pipelines
from core.testing.fixtures import post_form


def _actor(app_user_id: int) -> Actor:
    return Actor(db.session.get(User, app_user_id))


def _stages(*rows):
    return [{"name": n, "kind": k, "probability": p} for n, k, p in rows]


def test_pipeline_validation(app, admin):
    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        deals.ensure_default_pipeline()
        with pytest.raises(InvalidInput) as info:
            pipelines.save(actor, None, {"name": "", "currency": "рубли",
                                         "stages": _stages(("Новая", "open", 10), ("новая", "open", 200))})
        assert {"name", "currency", "stages", "stages.1"} <= set(info.value.errors)
        with pytest.raises(InvalidInput) as info:
            pipelines.save(actor, None, {"name": str(deals.pipelines()[0].name),
                                         "stages": _stages(("A", "open", 1), ("B", "won", 100), ("C", "lost", 0))})
        assert "Another pipeline" in str(info.value.errors["name"])


def test_reorder_rename_and_keep_stages_with_deals(app, admin):
    with app.app_context(), unit_of_work():
        actor = _actor(admin.id)
        made = pipelines.save(actor, None, {"name": "Повторные заказы", "currency": "usd",
                                            "lost_reasons": "Дорого\nУшли к конкурентам\nДорого",
                                            "stages": _stages(("Заявка", "open", 10), ("Счёт", "open", 60),
                                                              ("Оплачено", "won", 100), ("Отказ", "lost", 0))})
        assert made.currency == "USD" and made.lost_reasons == ["Дорого", "Ушли к конкурентам"]
        ids = {s.name: s.id for s in made.stages}
        deal = deals.save(actor, None, {"title": "Заказ", "pipeline_id": made.id})
        assert deal.stage_id == ids["Заявка"]
        with pytest.raises(InvalidInput) as info:  # dropping the stage that holds the deal
            pipelines.save(actor, made, {"name": made.name, "stages": [
                {"id": ids["Счёт"], "name": "Счёт", "kind": "open", "probability": 60},
                {"id": ids["Оплачено"], "name": "Оплачено", "kind": "won", "probability": 100},
                {"id": ids["Отказ"], "name": "Отказ", "kind": "lost", "probability": 0}]})
        assert "holds 1 deal" in str(info.value.errors["stages"])
        pipelines.save(actor, made, {"name": made.name, "lost_reasons": ["Дорого"], "stages": [
            {"id": ids["Счёт"], "name": "Счёт выставлен", "kind": "open", "probability": 70},
            {"id": ids["Заявка"], "name": "Заявка", "kind": "open", "probability": 10},
            {"id": ids["Оплачено"], "name": "Оплачено", "kind": "won", "probability": 100},
            {"id": ids["Отказ"], "name": "Отказ", "kind": "lost", "probability": 0}]})
        stored = db.session.get(Pipeline, made.id)
        assert [s.name for s in stored.stages] == ["Счёт выставлен", "Заявка", "Оплачено", "Отказ"]
        assert [s.id for s in stored.stages] == [ids["Счёт"], ids["Заявка"], ids["Оплачено"], ids["Отказ"]]
        with pytest.raises(InvalidInput) as info:
            deals.move(actor, deal, ids["Отказ"], lost_reason="Не понравился менеджер")
        assert "Дорого" in str(info.value.errors["lost_reason"])
        deals.move(actor, deal, ids["Отказ"], lost_reason="Дорого")
        assert deal.lost_reason == "Дорого"


def test_admin_pages(app, admin_client, make_user, client, login):
    new = admin_client.get("/admin/pipelines/new")
    assert new.status_code == 200 and "New request" in new.text
    bad = post_form(admin_client, "/admin/pipelines/new", {
        "name": "Тендеры", "stage_id": ["", ""], "stage_name": ["Подача", "Победа"],
        "stage_kind": ["open", "won"], "stage_probability": ["20", "100"], "stage_order": ["1", "2"]})
    assert bad.status_code == 422 and "one lost stage" in bad.text and "Подача" in bad.text
    saved = post_form(admin_client, "/admin/pipelines/new", {
        "name": "Тендеры", "currency": "RUB", "lost_reasons": "Проиграли тендер",
        "stage_id": ["", "", ""], "stage_name": ["Победа", "Подача", "Проигрыш"],
        "stage_kind": ["won", "open", "lost"], "stage_probability": ["100", "20", "0"], "stage_order": ["2", "1", "3"]})
    assert saved.status_code == 302
    with app.app_context(), unit_of_work():
        tender = db.session.scalar(select(Pipeline).where(Pipeline.name == "Тендеры"))
        assert [s.name for s in tender.stages] == ["Подача", "Победа", "Проигрыш"]
    assert "Тендеры" in admin_client.get("/admin/pipelines/").text
    seller = make_user("seller@example.com", grants={("deal", "view"): "own"})
    login(seller)
    assert client.get("/admin/pipelines/").status_code == 403
