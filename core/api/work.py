"""``/api/v1`` for the sales flow: pipelines, deals (with moves between stages), tasks and the inbox (submit,
accept, reject) — the same services and permission scopes as the web pages."""

from __future__ import annotations

from typing import Any

from flask import jsonify, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from core.api import actor, bp, json_body
from core.api.validation import ApiError, query_args
from core.db import db
from core.models import Deal, InboxItem, Task
from core.services.platform.access import filter_query, require
from core.services.platform.errors import InvalidInput
from core.services.work import deals, inbox, tasks

PAGE = 50


def db_scalars(stmt: Any) -> Any:
    return db.session.scalars(stmt)


def _created(payload: dict[str, Any], location: str):  # type: ignore[no-untyped-def]
    response = jsonify({"data": payload})
    response.status_code = 201
    response.headers["Location"] = location
    return response


def _page(rows: list[Any], serialize: Any) -> dict[str, Any]:
    return {"data": [serialize(r) for r in rows[:PAGE]], "next_cursor": str(rows[PAGE - 1].id) if len(rows) > PAGE
            else None}


def _after(stmt: Any, column: Any, args: dict[str, Any]) -> Any:
    after = args.get("after")
    return stmt.where(column < after) if after else stmt


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
    args = query_args()
    stmt = filter_query(actor().user, "view", "deal", select(Deal).where(Deal.deleted_at.is_(None)), Deal.owner_id)
    for name in ("pipeline_id", "stage_id", "owner_id", "contact_id", "company_id"):
        if isinstance(args.get(name), int):
            stmt = stmt.where(getattr(Deal, name) == args[name])
    rows = list(db_scalars(_after(stmt, Deal.id, args).order_by(Deal.id.desc()).limit(PAGE + 1)))
    return jsonify(_page(rows, serialize_deal))


@bp.post("/deals")
def create_deal():  # type: ignore[no-untyped-def]
    require(actor().user, "create", "deal")  # a refusal comes before any word about the body
    deal = deals.save(actor(), None, json_body("Deal"))
    return _created(serialize_deal(deal), url_for("api.get_deal", deal_id=deal.id))


@bp.get("/deals/<int:deal_id>")
def get_deal(deal_id: int):  # type: ignore[no-untyped-def]
    return jsonify({"data": serialize_deal(deals.get(actor(), deal_id))})


@bp.patch("/deals/<int:deal_id>")
def update_deal(deal_id: int):  # type: ignore[no-untyped-def]
    deal = deals.get(actor(), deal_id, "edit")
    values = json_body("DealChanges")
    return jsonify({"data": serialize_deal(deals.save(actor(), deal, values, partial=True))})


@bp.post("/deals/<int:deal_id>/move")
def move_deal(deal_id: int):  # type: ignore[no-untyped-def]
    """Body: ``{"stage_id": 5, "lost_reason": "..."}`` (the reason is required for a lost stage)."""
    deal = deals.get(actor(), deal_id, "edit")
    body = json_body("Move")
    deals.move(actor(), deal, body["stage_id"], lost_reason=body.get("lost_reason") or "")
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
    args = query_args()
    stmt = filter_query(actor().user, "view", "task", select(Task).where(Task.deleted_at.is_(None)), Task.owner_id)
    if isinstance(args.get("status"), str):
        stmt = stmt.where(Task.status == args["status"])
    for name in ("owner_id", "deal_id", "contact_id", "company_id"):
        if isinstance(args.get(name), int):
            stmt = stmt.where(getattr(Task, name) == args[name])
    rows = list(db_scalars(_after(stmt, Task.id, args).order_by(Task.id.desc()).limit(PAGE + 1)))
    return jsonify(_page(rows, serialize_task))


@bp.post("/tasks")
def create_task():  # type: ignore[no-untyped-def]
    require(actor().user, "create", "task")
    task = tasks.save(actor(), None, json_body("Task"))
    return _created(serialize_task(task), url_for("api.get_task", task_id=task.id))


@bp.get("/tasks/<int:task_id>")
def get_task(task_id: int):  # type: ignore[no-untyped-def]
    return jsonify({"data": serialize_task(tasks.get(actor(), task_id))})


@bp.patch("/tasks/<int:task_id>")
def update_task(task_id: int):  # type: ignore[no-untyped-def]
    task = tasks.get(actor(), task_id, "edit")
    values = json_body("TaskChanges")
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
    args = query_args()
    status = args.get("status") if isinstance(args.get("status"), str) else "new"
    after = args.get("after") if isinstance(args.get("after"), int) else None
    rows = inbox.listing(actor(), status, before_id=after, limit=PAGE + 1)
    return jsonify(_page(rows, serialize_item))


@bp.post("/inbox")
def submit_inbox():  # type: ignore[no-untyped-def]
    """Submit a lead (contact centres, telephony bridges). ``Idempotency-Key`` makes a repeated delivery return
    the first item (200 instead of 201)."""
    require(actor().user, "submit", "lead")
    body = json_body("InboxItem")
    key = query_args().get("Idempotency-Key") or body.get("idempotency_key")
    if not ((body.get("phone") or "").strip() or (body.get("email") or "").strip()):
        raise InvalidInput({"phone": _l("Give a phone or an email so the manager can reach the client.")})
    try:
        item, created, _updated = inbox.receive(inbox.IncomingItem(
            channel=body.get("channel") or "phone", source=f"api:{actor().user_id}", name=body.get("name") or "",
            phone=body.get("phone") or "", email=body.get("email") or "", subject=body.get("subject") or "",
            body=body.get("body") or "", utm=body.get("utm") or {}, submitted_by_id=actor().user_id,
            external_id=key))
    except inbox.KeyReused as exc:
        raise ApiError(409, "idempotency_key_reused", str(exc.message)) from None
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
    body = json_body("Accept", required=False)
    item = inbox.accept(actor(), item, deal_id=body.get("deal_id"))
    return jsonify({"data": serialize_item(item)})


@bp.post("/inbox/<int:item_id>/reject")
def reject_inbox_item(item_id: int):  # type: ignore[no-untyped-def]
    item = inbox.get(actor(), item_id, "edit")
    return jsonify({"data": serialize_item(inbox.reject(actor(), item, json_body("Reject")["reason"]))})
