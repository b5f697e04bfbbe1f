"""The API for deals, pipelines, tasks and the inbox (issue 4): same services, same scopes, JSON errors naming the
field, idempotent lead submission."""

from __future__ import annotations

from core.db import db, unit_of_work
from core.models import User
from core.services.platform.context import Actor
from core.services.users import tokens


def _auth(app, user) -> dict[str, str]:
    with app.app_context(), unit_of_work():
        token = tokens.create(Actor(None, via="test"), db.session.get(User, user.id), "test")
    return {"Authorization": f"Bearer {token}"}


def test_deal_lifecycle_through_the_api(app, client, admin):
    api = _auth(app, admin)
    pipelines = client.get("/api/v1/pipelines", headers=api).json["data"]
    if not pipelines:
        with app.app_context(), unit_of_work():
            from core.services.work import deals

            deals.ensure_default_pipeline()
        pipelines = client.get("/api/v1/pipelines", headers=api).json["data"]
    pipeline = pipelines[0]
    won = next(s["id"] for s in pipeline["stages"] if s["kind"] == "won")
    lost = next(s["id"] for s in pipeline["stages"] if s["kind"] == "lost")
    bad = client.post("/api/v1/deals", json={"title": "", "pipeline_id": pipeline["id"], "amount": "много"},
                      headers=api)
    assert bad.status_code == 422 and set(bad.json["error"]["fields"]) == {"title", "amount"}
    made = client.post("/api/v1/deals", json={"title": "Окна", "pipeline_id": pipeline["id"], "amount": "1 250,50"},
                       headers=api)
    assert made.status_code == 201 and made.json["data"]["amount"] == "1250.50"
    deal_id = made.json["data"]["id"]
    no_reason = client.post(f"/api/v1/deals/{deal_id}/move", json={"stage_id": lost}, headers=api)
    assert no_reason.status_code == 422 and "lost_reason" in no_reason.json["error"]["fields"]
    moved = client.post(f"/api/v1/deals/{deal_id}/move", json={"stage_id": won}, headers=api)
    assert moved.json["data"]["status"] == "won" and moved.json["data"]["closed_at"]
    listed = client.get(f"/api/v1/deals?pipeline_id={pipeline['id']}", headers=api).json
    assert [d["id"] for d in listed["data"]] == [deal_id]
    assert client.patch(f"/api/v1/deals/{deal_id}", json={"stage_id": lost}, headers=api).status_code == 422


def test_tasks_through_the_api_with_scopes(app, client, admin, make_user):
    seller = make_user("seller@example.com", grants={("task", "view"): "own", ("task", "create"): "own",
                                                     ("task", "edit"): "own"})
    boss_api, seller_api = _auth(app, admin), _auth(app, seller)
    secret = client.post("/api/v1/tasks", json={"title": "Секрет начальника"}, headers=boss_api)
    assert secret.status_code == 201
    bad = client.post("/api/v1/tasks", json={"title": "x", "due_at": "2001-01-01T10:00:00Z"}, headers=seller_api)
    assert bad.status_code == 422 and "due_at" in bad.json["error"]["fields"]
    mine = client.post("/api/v1/tasks", json={"title": "Моё", "due_at": "2099-01-01T10:00:00Z",
                                              "remind_minutes": 30}, headers=seller_api).json["data"]
    assert mine["remind_at"].startswith("2099-01-01T09:30")
    listed = client.get("/api/v1/tasks", headers=seller_api).json["data"]
    assert [t["title"] for t in listed] == ["Моё"]
    assert client.get(f"/api/v1/tasks/{secret.json['data']['id']}", headers=seller_api).status_code == 403
    done = client.patch(f"/api/v1/tasks/{mine['id']}", json={"status": "done"}, headers=seller_api)
    assert done.json["data"]["status"] == "done" and done.json["data"]["completed_at"]


def test_inbox_submit_is_idempotent_and_accept_works(app, client, admin, make_user):
    centre = make_user("centre@example.com", grants={("lead", "submit"): "own", ("lead", "view"): "own"})
    centre_api, boss_api = _auth(app, centre), _auth(app, admin)
    missing = client.post("/api/v1/inbox", json={"name": "Без связи"}, headers=centre_api)
    assert missing.status_code == 422 and "phone" in missing.json["error"]["fields"]
    headers = {**centre_api, "Idempotency-Key": "cc-77"}
    first = client.post("/api/v1/inbox", json={"name": "Лид", "phone": "+7 916 555 44 33"}, headers=headers)
    again = client.post("/api/v1/inbox", json={"name": "Лид", "phone": "+7 916 555 44 33"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    item_id = first.json["data"]["id"]
    assert again.json["data"]["id"] == item_id
    assert client.get(f"/api/v1/inbox/{item_id}", headers=centre_api).status_code == 200
    assert client.post(f"/api/v1/inbox/{item_id}/accept", headers=centre_api).status_code == 403
    accepted = client.post(f"/api/v1/inbox/{item_id}/accept", headers=boss_api).json["data"]
    assert accepted["status"] == "accepted" and accepted["deal_id"]
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"/deals", "/deals/{deal_id}/move", "/tasks", "/inbox", "/inbox/{item_id}/accept"} <= set(paths)
