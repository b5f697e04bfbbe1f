"""``/api/v1`` for the sales flow: pipelines, deals (with moves between stages), tasks and the inbox (submit,
accept, reject) — the same services and permission scopes as the web pages."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request, url_for
from sqlalchemy import select

from core.api import actor, bp, json_body
from core.db import db
from core.models import Deal, InboxItem, Task
from core.models.deals import CHANNELS
from core.services import deals, inbox, tasks
from core.services.access import filter_query, require
from core.services.errors import InvalidInput

PAGE = 50


def db_scalars(stmt: Any) -> Any:
    return db.session.scalars(stmt)


def _body() -> dict[str, Any]:
    return json_body("closed_at", "completed_at")


def _created(payload: dict[str, Any], location: str):  # type: ignore[no-untyped-def]
    response = jsonify({"data": payload})
    response.status_code = 201
    response.headers["Location"] = location
    return response


def _page(rows: list[Any], serialize: Any) -> dict[str, Any]:
    return {"data": [serialize(r) for r in rows[:PAGE]], "next_cursor": str(rows[PAGE - 1].id) if len(rows) > PAGE
            else None}


def _after(stmt: Any, column: Any) -> Any:
    after = request.args.get("after", type=int)
    return stmt.where(column < after) if after else stmt


def _int_arg(name: str) -> int | None:
    value = request.args.get(name)
    if value in (None, ""):
        return None
    if not value.isdigit():
        raise InvalidInput({name: f"{name} is a whole number"})
    return int(value)


# --- pipelines and deals -------------------------------------------------------------------------------


@bp.get("/pipelines")
def list_pipelines():  # type: ignore[no-untyped-def]
    require(actor().user, "view", "deal")
    return jsonify({"data": [{"id": p.id, "name": p.name, "currency": p.currency, "stages": [
        {"id": s.id, "name": s.name, "kind": s.kind, "position": s.position, "probability": s.probability}
        for s in p.stages]} for p in deals.pipelines()]})


def serialize_deal(deal: Deal) -> dict[str, Any]:
    return {"id": deal.id, "title": deal.title, "pipeline_id": deal.pipeline_id, "stage_id": deal.stage_id,
            "stage": deal.stage.name, "status": deal.stage.kind, "amount": str(deal.amount),
            "currency": deal.currency, "contact_id": deal.contact_id, "company_id": deal.company_id,
            "owner_id": deal.owner_id, "source": deal.source, "channel": deal.channel, "utm": deal.utm,
            "expected_close": deal.expected_close.isoformat() if deal.expected_close else None,
            "probability": deal.probability, "lost_reason": deal.lost_reason,
            "created_at": deal.created_at.isoformat(), "updated_at": deal.updated_at.isoformat(),
            "closed_at": deal.closed_at.isoformat() if deal.closed_at else None}


@bp.get("/deals")
def list_deals():  # type: ignore[no-untyped-def]
    """Deals you may see, newest first; filters ``pipeline_id``, ``stage_id``, ``owner_id``, ``contact_id``."""
    require(actor().user, "view", "deal")
    stmt = filter_query(actor().user, "view", "deal", select(Deal).where(Deal.deleted_at.is_(None)), Deal.owner_id)
    for name in ("pipeline_id", "stage_id", "owner_id", "contact_id", "company_id"):
        value = _int_arg(name)
        if value is not None:
            stmt = stmt.where(getattr(Deal, name) == value)
    rows = list(db_scalars(_after(stmt, Deal.id).order_by(Deal.id.desc()).limit(PAGE + 1)))
    return jsonify(_page(rows, serialize_deal))


@bp.post("/deals")
def create_deal():  # type: ignore[no-untyped-def]
    deal = deals.save(actor(), None, _body())
    return _created(serialize_deal(deal), url_for("api.get_deal", deal_id=deal.id))


@bp.get("/deals/<int:deal_id>")
def get_deal(deal_id: int):  # type: ignore[no-untyped-def]
    return jsonify({"data": serialize_deal(deals.get(actor(), deal_id))})


@bp.patch("/deals/<int:deal_id>")
def update_deal(deal_id: int):  # type: ignore[no-untyped-def]
    deal = deals.get(actor(), deal_id, "edit")
    values = _body()
    if "stage_id" in values or "pipeline_id" in values:
        raise InvalidInput({"stage_id": "Move a deal with POST /deals/{id}/move."})
    return jsonify({"data": serialize_deal(deals.save(actor(), deal, values, partial=True))})


@bp.post("/deals/<int:deal_id>/move")
def move_deal(deal_id: int):  # type: ignore[no-untyped-def]
    """Body: ``{"stage_id": 5, "lost_reason": "..."}`` (the reason is required for a lost stage)."""
    deal = deals.get(actor(), deal_id, "edit")
    body = _body()
    try:
        stage_id = int(body.get("stage_id"))
    except (TypeError, ValueError):
        raise InvalidInput({"stage_id": "stage_id is the id of a stage of the deal's pipeline"}) from None
    deals.move(actor(), deal, stage_id, lost_reason=str(body.get("lost_reason") or ""))
    return jsonify({"data": serialize_deal(deal)})


# --- tasks ---------------------------------------------------------------------------------------------


def serialize_task(task: Task) -> dict[str, Any]:
    def stamp(value: Any) -> str | None:
        return value.isoformat() if value else None

    return {"id": task.id, "title": task.title, "notes": task.notes, "owner_id": task.owner_id,
            "author_id": task.author_id, "contact_id": task.contact_id, "company_id": task.company_id,
            "deal_id": task.deal_id, "due_at": stamp(task.due_at), "priority": task.priority,
            "status": task.status, "remind_at": stamp(task.remind_at), "remind_via": task.remind_via,
            "recurrence_id": task.recurrence_id, "created_at": stamp(task.created_at),
            "completed_at": stamp(task.completed_at)}


@bp.get("/tasks")
def list_tasks():  # type: ignore[no-untyped-def]
    """Tasks you may see, newest first; filters ``status`` (open/done/cancelled), ``owner_id``, ``deal_id``,
    ``contact_id``."""
    require(actor().user, "view", "task")
    stmt = filter_query(actor().user, "view", "task", select(Task).where(Task.deleted_at.is_(None)), Task.owner_id)
    status = request.args.get("status")
    if status:
        stmt = stmt.where(Task.status == status)
    for name in ("owner_id", "deal_id", "contact_id", "company_id"):
        value = _int_arg(name)
        if value is not None:
            stmt = stmt.where(getattr(Task, name) == value)
    rows = list(db_scalars(_after(stmt, Task.id).order_by(Task.id.desc()).limit(PAGE + 1)))
    return jsonify(_page(rows, serialize_task))


@bp.post("/tasks")
def create_task():  # type: ignore[no-untyped-def]
    task = tasks.save(actor(), None, _body())
    return _created(serialize_task(task), url_for("api.get_task", task_id=task.id))


@bp.get("/tasks/<int:task_id>")
def get_task(task_id: int):  # type: ignore[no-untyped-def]
    return jsonify({"data": serialize_task(tasks.get(actor(), task_id))})


@bp.patch("/tasks/<int:task_id>")
def update_task(task_id: int):  # type: ignore[no-untyped-def]
    task = tasks.get(actor(), task_id, "edit")
    values = _body()
    status = values.pop("status", None)
    if values:
        task = tasks.save(actor(), task, values, partial=True)
    if status is not None:
        task = tasks.set_status(actor(), task, str(status))
    return jsonify({"data": serialize_task(task)})


# --- inbox ---------------------------------------------------------------------------------------------


def serialize_item(item: InboxItem | inbox.SubmittedItem) -> dict[str, Any]:
    if isinstance(item, inbox.SubmittedItem):  # its submitter's view: what was sent, nothing learned after
        return {"id": item.id, "channel": item.channel, "status": item.status, "name": item.name,
                "phone": item.phone, "email": item.email, "subject": item.subject, "body": item.body,
                "utm": item.utm, "received_at": item.received_at.isoformat()}
    return {"id": item.id, "channel": item.channel, "status": item.status, "proposal": item.proposal,
            "name": item.name, "phone": item.phone, "phone_e164": item.phone_e164, "email": item.email,
            "subject": item.subject, "body": item.body, "utm": item.utm, "contact_id": item.contact_id,
            "deal_id": item.deal_id, "owner_id": item.owner_id, "reject_reason": item.reject_reason,
            "received_at": item.received_at.isoformat()}


@bp.get("/inbox")
def list_inbox():  # type: ignore[no-untyped-def]
    inbox.require_view(actor())
    status = request.args.get("status", "new")
    rows = inbox.listing(actor(), status, before_id=_int_arg("after"), limit=PAGE + 1)
    return jsonify(_page(rows, serialize_item))


@bp.post("/inbox")
def submit_inbox():  # type: ignore[no-untyped-def]
    """Submit a lead (contact centres, telephony bridges). ``Idempotency-Key`` makes a repeated delivery return
    the first item (200 instead of 201)."""
    require(actor().user, "submit", "lead")
    body = _body()
    channel = str(body.get("channel") or "phone")
    if channel not in CHANNELS:
        raise InvalidInput({"channel": f"channel is one of {', '.join(CHANNELS)}"})
    if not (str(body.get("phone") or "").strip() or str(body.get("email") or "").strip()):
        raise InvalidInput({"phone": "Give a phone or an email so the manager can reach the client."})
    item, created = inbox.receive(
        channel=channel, source=f"api:{actor().user_id}", name=str(body.get("name") or ""),
        phone=str(body.get("phone") or ""), email=str(body.get("email") or ""),
        subject=str(body.get("subject") or ""), body=str(body.get("body") or ""),
        utm={k: str(v) for k, v in (body.get("utm") or {}).items()} if isinstance(body.get("utm"), dict) else {},
        submitted_by_id=actor().user_id,
        idempotency_key=request.headers.get("Idempotency-Key") or body.get("idempotency_key"))
    response = jsonify({"data": serialize_item(inbox.present(actor(), item))})
    response.status_code = 201 if created else 200
    return response


@bp.get("/inbox/<int:item_id>")
def get_inbox_item(item_id: int):  # type: ignore[no-untyped-def]
    return jsonify({"data": serialize_item(inbox.view(actor(), item_id))})


@bp.post("/inbox/<int:item_id>/accept")
def accept_inbox_item(item_id: int):  # type: ignore[no-untyped-def]
    """Body (optional): ``{"deal_id": 7}`` to add the request to that deal instead of the proposal."""
    item = inbox.get(actor(), item_id, "edit")
    body = request.get_json(silent=True) or {}
    item = inbox.accept(actor(), item, deal_id=body.get("deal_id") if isinstance(body, dict) else None)
    return jsonify({"data": serialize_item(item)})


@bp.post("/inbox/<int:item_id>/reject")
def reject_inbox_item(item_id: int):  # type: ignore[no-untyped-def]
    item = inbox.get(actor(), item_id, "edit")
    return jsonify({"data": serialize_item(inbox.reject(actor(), item, str(_body().get("reason") or "")))})
