"""Pipelines and deals: the default pipeline, creating and changing deals, moving them between stages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import list_currencies
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Bundle, joinedload

from core.db import db, savepoint
from core.models import (
    Company,
    Contact,
    Deal,
    DealItem,
    Payment,
    Pipeline,
    Stage,
    StageChange,
    StageTotal,
    Task,
    utcnow,
)
from core.plugins import provider_facades
from core.plugins.events import DealCreated, DealLost, DealStageChanged, DealUpdated, DealWon
from core.services.clients import client_fields, custom_fields, timeline
from core.services.platform import audit, events, ownership
from core.services.platform.access import filter_query, require
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.services.platform.text import N_, clean, installation_text, search_key

ENTITY = "deal"
# What the first pipeline is seeded with: message ids, written in the installation's language when seeded and shown
# in each reader's language while nobody has renamed them (core.web.vocabulary.seeded_name)
DEFAULT_PIPELINE_NAME = N_("Sales")
DEFAULT_STAGES = (
    (N_("New request"), "open", 10), (N_("Qualification"), "open", 25), (N_("Proposal sent"), "open", 50),
    (N_("Negotiation"), "open", 75), (N_("Won"), "won", 100), (N_("Lost"), "lost", 0),
)
DEFAULT_LOST_REASONS = (N_("Too expensive"), N_("Chose a competitor"), N_("No budget"), N_("Stopped answering"),
                        N_("Not our client"))


def ensure_default_pipeline(currency: str = "RUB") -> Pipeline:
    """The first pipeline of an installation (created once, in the installation's language)."""
    existing = db.session.scalar(select(Pipeline).order_by(Pipeline.position, Pipeline.id))
    if existing is not None:
        return existing
    # the installation's language, not that of whoever happens to trigger the seeding in a request
    pipeline = Pipeline(name=installation_text(DEFAULT_PIPELINE_NAME), currency=currency, position=0,
                        lost_reasons=[installation_text(reason) for reason in DEFAULT_LOST_REASONS])
    pipeline.stages = [Stage(name=installation_text(name), kind=kind, probability=probability, position=n)
                       for n, (name, kind, probability) in enumerate(DEFAULT_STAGES)]
    db.session.add(pipeline)
    db.session.flush()
    return pipeline


def get(actor: Actor, deal_id: int, action: str = "view", *, details: bool = False) -> Deal:
    """The deal if ``actor`` may ``action`` it; with ``details`` its lines, payments and pipeline come in the same
    statement (the deal's page shows them all)."""
    options = [joinedload(Deal.items), joinedload(Deal.payments),
               joinedload(Deal.stage).joinedload(Stage.pipeline)] if details else []
    deal = db.session.get(Deal, deal_id, options=options)
    if deal is None or deal.deleted_at is not None:
        raise LookupError(deal_id)
    require(actor.user, action, ENTITY, deal)
    return deal


def _amount(value: Any, errors: dict[str, Any]) -> Decimal:
    text = str(value if value is not None else "0").replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        amount = Decimal(text or "0")
    except InvalidOperation:
        errors["amount"] = _l("Enter the amount as a number, such as 150000 or 1 250,50.")
        return Decimal("0")
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        errors["amount"] = _l("The amount must be zero or more.")
        return Decimal("0")
    return amount.quantize(Decimal("0.01"))


def _stage(pipeline_id: int | None, stage_id: Any, errors: dict[str, Any]) -> tuple[Pipeline | None, Stage | None]:
    try:  # a posted id that is no number (or no integer column holds) is no pipeline, not a failed query
        pipeline = db.session.get(Pipeline, int(pipeline_id)) if pipeline_id and 0 < int(pipeline_id) < 2**31 \
            else None
    except (TypeError, ValueError):
        pipeline = None
    if pipeline is None or pipeline.archived:
        errors["pipeline_id"] = _l("Choose a pipeline.")
        return None, None
    if stage_id in (None, ""):
        return pipeline, pipeline.stages[0] if pipeline.stages else None
    try:
        stage = db.session.get(Stage, int(stage_id))
    except (TypeError, ValueError):
        stage = None
    if stage is None:
        errors["stage_id"] = _l("Choose a stage.")
    elif stage.pipeline_id != pipeline.id:
        errors["stage_id"] = _l("This stage belongs to another pipeline; choose one of %(pipeline)s.",
                                pipeline=pipeline.name)
        stage = None
    return pipeline, stage



def save(actor: Actor, deal: Deal | None, values: dict[str, Any], *, partial: bool = False) -> Deal:
    if deal is None:
        require(actor.user, "create", ENTITY)
    else:
        require(actor.user, "edit", ENTITY, deal)
    with savepoint():  # refused input undoes this save only, not the caller's work
        errors: dict[str, Any] = {}
        target = deal or Deal()
        before = events.column_values(deal) if deal is not None else {}
        if not partial or "title" in values:
            target.title = clean(str(values.get("title") or ""), 300)
            target.search_title = search_key(target.title)
            if not target.title:
                errors["title"] = _l("Give the deal a title, such as what the client wants.")
        if deal is None or "pipeline_id" in values or "stage_id" in values:
            pipeline, stage = _stage(values.get("pipeline_id") or (deal.pipeline_id if deal else None),
                                     values.get("stage_id"), errors)
            if pipeline is not None and stage is not None:
                if deal is not None and stage.id != deal.stage_id:
                    errors["stage_id"] = _l("Move the deal between stages with the board or the stage menu.")
                target.pipeline_id, target.stage_id = pipeline.id, stage.id
                if deal is None:
                    target.currency = pipeline.currency
        if "amount" in values:
            target.amount = _amount(values.get("amount"), errors)
        if "currency" in values and values.get("currency"):
            currency = str(values["currency"]).upper()[:3]
            if currency not in list_currencies():
                errors["currency"] = _l("Use a three-letter currency code, such as RUB or USD.")
            target.currency = currency
        if "contact_id" in values:
            target.contact_id = client_fields.visible_link(Contact, "contact", values["contact_id"], "contact_id",
                                                           actor, errors, _l("Choose a client from the list."))
        if "company_id" in values:
            target.company_id = client_fields.visible_link(Company, "company", values["company_id"], "company_id",
                                                           actor, errors, _l("Choose a client from the list."))
        for name in ("source", "lost_reason"):
            if name in values:
                setattr(target, name, clean(str(values.get(name) or ""), 200))
        if "channel" in values:
            channel = str(values.get("channel") or "other")
            if channel not in provider_facades.channel_keys():
                errors["channel"] = _l("Choose how the request came in.")
            target.channel = channel
        if "expected_close" in values:
            target.expected_close = None
            if values.get("expected_close"):
                try:
                    target.expected_close = custom_fields.parse_date(values["expected_close"])
                except ValueError:
                    errors["expected_close"] = _l("Enter the date as DD.MM.YYYY.")
        if "probability" in values and values.get("probability") not in (None, ""):
            try:
                probability = int(values["probability"])
                if not 0 <= probability <= 100:
                    raise ValueError
                target.probability = probability
            except (TypeError, ValueError):
                errors["probability"] = _l("The probability is a whole number from 0 to 100.")
        previous_owner = deal.owner_id if deal else None
        if not partial or "owner_id" in values:
            target.owner_id = client_fields.resolve_owner(actor, ENTITY, values.get("owner_id"), previous_owner,
                                                          errors)
            if target.owner_id != (previous_owner if deal else actor.user_id) and "owner_id" not in errors \
                    and not ownership.may_assign_to(actor, ENTITY, target.owner_id):
                errors["owner_id"] = _l("You may not give deals to this user; choose one from the list.")
            target.team_id = client_fields.team_of(target.owner_id)
        if errors:
            raise InvalidInput(errors)
        target.updated_at = utcnow()
        if deal is None:
            db.session.add(target)
            db.session.flush()
            record_created(actor, target)
        else:
            if previous_owner != target.owner_id:
                ownership.record(actor, ENTITY, target.id, previous_owner, target.owner_id, "")
            audit.record(actor, "deal.updated", ENTITY, target.id, {k: str(v) for k, v in values.items()})
            changed = events.changed_since(before, target)
            if changed:
                events.emit(DealUpdated(subject_id=target.id, origin=actor.origin, changed=changed,
                                        owner_id=target.owner_id))
    return target


def record_created(actor: Actor, deal: Deal) -> None:
    """What every new deal leaves behind (joins the caller's transaction): the first stage in its history, an
    entry on the client's timeline, the audit row and the ``deal_created`` event."""
    deal.search_title = search_key(deal.title)
    db.session.add(StageChange(deal_id=deal.id, from_stage_id=None, to_stage_id=deal.stage_id,
                               actor_id=actor.user_id))
    if deal.contact_id or deal.company_id:
        stage = db.session.get(Stage, deal.stage_id)
        timeline.record(kind="deal", contact_id=deal.contact_id, company_id=deal.company_id,
                        author_id=actor.user_id, title=deal.title,
                        data={"deal_id": deal.id, "title": deal.title, "amount": str(deal.amount or 0),
                              "currency": deal.currency, "stage": stage.name if stage else ""})
    audit.record(actor, "deal.created", ENTITY, deal.id, {"title": deal.title})
    events.emit(DealCreated(subject_id=deal.id, origin=actor.origin, pipeline_id=deal.pipeline_id,
                            stage_id=deal.stage_id, owner_id=deal.owner_id, contact_id=deal.contact_id,
                            company_id=deal.company_id, amount=deal.amount, currency=deal.currency or ""))


def move(actor: Actor, deal: Deal, stage_id: int, *, lost_reason: str = "", comment: str = "") -> Deal:
    """Move a deal to another stage of its pipeline, with history; won/lost stages close it.

    A move to a lost stage needs a reason: one of the pipeline's reasons when it has a list (reports group by
    them), any text otherwise; ``comment`` is free text kept with the move on the timeline."""
    require(actor.user, "edit", ENTITY, deal)
    stage = db.session.get(Stage, stage_id)
    if stage is None or stage.pipeline_id != deal.pipeline_id:
        raise InvalidInput({"stage_id": _l("This stage belongs to another pipeline; choose one of %(pipeline)s.",
                                           pipeline=deal.stage.pipeline.name)})
    reason = clean(lost_reason, 200)
    if stage.kind == "lost":
        reasons = stage.pipeline.lost_reasons
        if not reason and not deal.lost_reason:
            raise InvalidInput({"lost_reason": _l("Say why the deal was lost.")})
        if reason and reasons and reason not in reasons:
            raise InvalidInput({"lost_reason": _l("Choose the reason from the list: %(reasons)s.",
                                                  reasons=", ".join(reasons))})
    if stage.id == deal.stage_id:
        return deal
    _change_stage(actor, deal, stage, reason=reason, comment=clean(comment, 500))
    db.session.flush()
    return deal


def _change_stage(actor: Actor, deal: Deal, stage: Stage, *, reason: str = "", comment: str = "",
                  undo_of: int | None = None) -> StageChange:
    """Put ``deal`` in ``stage`` with its history row, timeline entry, audit row and events (no commit)."""
    previous = db.session.get(Stage, deal.stage_id)
    deal.stage_id, deal.stage = stage.id, stage  # the relationship too: nothing expires it before the commit
    deal.closed_at = utcnow() if stage.kind in ("won", "lost") else None
    if stage.kind == "lost":
        deal.lost_reason = reason or deal.lost_reason  # kept when the deal leaves: an Undo brings it back
    deal.updated_at = utcnow()
    change = StageChange(deal_id=deal.id, from_stage_id=previous.id if previous else None, to_stage_id=stage.id,
                         actor_id=actor.user_id)
    db.session.add(change)
    db.session.flush()
    if deal.contact_id or deal.company_id:
        data: dict[str, Any] = {"deal_id": deal.id, "title": deal.title, "from": change.from_stage_id,
                                "to": stage.id, "from_name": previous.name if previous else "",
                                "stage": stage.name, "stage_kind": stage.kind}
        if stage.kind == "lost":
            data["reason"] = deal.lost_reason
        if comment:
            data["comment"] = comment
        if undo_of is not None:
            data["undo"] = True
        timeline.record(kind="stage", contact_id=deal.contact_id, company_id=deal.company_id,
                        author_id=actor.user_id, title=deal.title, data=data)
    details: dict[str, Any] = {"stage": [change.from_stage_id, stage.id]}
    if undo_of is not None:
        details["undo_of"] = undo_of
    audit.record(actor, "deal.stage_changed", ENTITY, deal.id, details)
    moved = {"subject_id": deal.id, "origin": actor.origin, "from_stage_id": change.from_stage_id,
             "to_stage_id": stage.id, "owner_id": deal.owner_id}
    events.emit(DealStageChanged(**moved))
    if stage.kind == "won":
        events.emit(DealWon(**moved, contact_id=deal.contact_id, company_id=deal.company_id,
                            amount=deal.amount or Decimal("0"), currency=deal.currency or ""))
    elif stage.kind == "lost":
        events.emit(DealLost(**moved, contact_id=deal.contact_id, company_id=deal.company_id,
                             lost_reason=deal.lost_reason or ""))
    return change


def last_change(deal: Deal) -> StageChange | None:
    """The deal's latest stage change (what the board's Undo takes back)."""
    return db.session.scalar(select(StageChange).where(StageChange.deal_id == deal.id)
                             .order_by(StageChange.id.desc()).limit(1))


def undo_move(actor: Actor, deal: Deal, change_id: int) -> Deal:
    """Take back the move ``change_id``: the deal goes back to the stage it came from, as a new, recorded move.

    Only the deal's latest move can be taken back (a later move would be silently lost otherwise)."""
    require(actor.user, "edit", ENTITY, deal)
    change = last_change(deal)
    if change is None or change.id != change_id or change.from_stage_id is None \
            or change.to_stage_id != deal.stage_id:
        raise InvalidInput({"change_id": _l("The deal has moved since; move it on the board instead.")})
    back = db.session.get(Stage, change.from_stage_id)
    if back is None or back.pipeline_id != deal.pipeline_id:
        raise InvalidInput({"change_id": _l("The stage the deal came from no longer exists.")})
    _change_stage(actor, deal, back, undo_of=change.id)
    db.session.flush()
    return deal


def pipelines() -> list[Pipeline]:
    return list(db.session.scalars(select(Pipeline).where(Pipeline.archived.is_(False))
                                   .order_by(Pipeline.position, Pipeline.id)))


@dataclass(frozen=True)
class BoardCard:
    """A deal as the board shows it, read as a row (a board draws hundreds; no entity is built for them): the
    deal's ``id``, ``title``, ``amount``, ``currency``, ``owner_id``, ``stage_id`` and ``contact_id``, and the
    names of its client, read with it."""

    deal: Any
    contact_name: str
    company_name: str
    next_due: datetime | None = None  # the soonest due time of the deal's open tasks


BOARD_COLUMNS = Bundle("deal", Deal.id, Deal.title, Deal.amount, Deal.currency, Deal.owner_id, Deal.stage_id,
                       Deal.contact_id)


def board(actor: Actor, pipeline: Pipeline, per_stage: int = 50, *, owner_id: int | None = None,
          q: str = "") -> dict[int, dict[str, Any]]:
    """For each stage of ``pipeline``: the deals ``actor`` may see (newest first, up to ``per_stage``; none for
    won and lost stages), each with its contact's and company's name, their count and the sum of their amounts.

    ``owner_id`` keeps one person's deals, ``q`` the deals whose title or client (name, phone, email, company)
    matches. Two statements whatever the number of stages or deals: the totals (the running totals of
    :mod:`deal_totals` without a search, a count over the capped search matches with one), and the newest cards
    of each column with their clients' names and the next due time of their open tasks."""
    from core.services.clients.listing import DEALS, search_condition

    matching = search_condition(DEALS, q) if q and q.strip() else None

    def visible(stmt: Any) -> Any:
        stmt = stmt.where(Deal.deleted_at.is_(None), Deal.pipeline_id == pipeline.id)
        if owner_id is not None:
            stmt = stmt.where(Deal.owner_id == owner_id)
        if matching is not None:
            stmt = stmt.where(matching)
        return filter_query(actor.user, "view", ENTITY, stmt, Deal.owner_id)

    stage_ids = [stage.id for stage in pipeline.stages]
    if matching is None:
        totals_stmt = filter_query(actor.user, "view", ENTITY, select(StageTotal.stage_id, func.sum(StageTotal.count),
                                                                      func.sum(StageTotal.amount)),
                                   StageTotal.owner_id).where(StageTotal.stage_id.in_(stage_ids))
        if owner_id is not None:
            totals_stmt = totals_stmt.where(StageTotal.owner_id == owner_id)
        totals_stmt = totals_stmt.group_by(StageTotal.stage_id)
    else:  # the search matches at most a few hundred deals (listing.SEARCH_CAP per way of matching)
        totals_stmt = visible(select(Deal.stage_id, func.count(Deal.id), func.sum(Deal.amount))).group_by(
            Deal.stage_id)
    totals = {stage_id: (count, amount) for stage_id, count, amount in db.session.execute(totals_stmt)}
    # the newest cards of each stage: one index range scan per stage (ix_deal_board), sent as one statement
    # won and lost deals are not shown as cards (the board's bottom bar counts them and takes drops)
    per_column = [visible(select(Deal.id).where(Deal.stage_id == stage.id)).order_by(Deal.id.desc())
                  .limit(per_stage).subquery() for stage in pipeline.stages if stage.kind == "open"]
    shown_ids = union_all(*[select(column.c.id) for column in per_column]) if per_column else None
    next_due = (select(func.min(Task.due_at)).where(Task.deal_id == Deal.id, Task.status == "open",
                                                    Task.deleted_at.is_(None)).correlate(Deal).scalar_subquery())
    rows = db.session.execute(
        select(BOARD_COLUMNS, Contact.first_name, Contact.middle_name, Contact.last_name, Company.name, next_due)
        .outerjoin(Contact, Contact.id == Deal.contact_id).outerjoin(Company, Company.id == Deal.company_id)
        .where(Deal.id.in_(shown_ids)).order_by(Deal.id.desc())
    ) if shown_ids is not None else []
    by_stage: dict[int, list[BoardCard]] = {}
    for deal, first, middle, last, company, due in rows:
        contact = Contact.name_of(first or "", middle or "", last or "") if deal.contact_id else ""
        if due is not None and due.tzinfo is None:
            due = due.replace(tzinfo=UTC)
        by_stage.setdefault(deal.stage_id, []).append(BoardCard(deal, contact, company or "", due))
    columns: dict[int, dict[str, Any]] = {}
    for stage in pipeline.stages:
        count, amount = totals.get(stage.id, (0, Decimal("0")))
        columns[stage.id] = {"stage": stage, "deals": by_stage.get(stage.id, []), "count": count or 0,
                             "sum": Decimal(amount or 0)}
    return columns


def for_client(actor: Actor, *, contact_id: int | None = None, company_id: int | None = None,
               limit: int = 20) -> list[Deal]:
    """A client's deals that ``actor`` may see, open first, then the latest closed (the purchase history)."""
    stmt = select(Deal).where(Deal.deleted_at.is_(None))
    stmt = stmt.where(Deal.contact_id == contact_id) if contact_id is not None else stmt.where(
        Deal.company_id == company_id)
    stmt = filter_query(actor.user, "view", ENTITY, stmt, Deal.owner_id)
    return list(db.session.scalars(stmt.order_by(Deal.closed_at.is_not(None), Deal.id.desc()).limit(limit)))


def history(deal: Deal) -> list[StageChange]:
    return list(db.session.scalars(select(StageChange).where(StageChange.deal_id == deal.id)
                                   .order_by(StageChange.id)))


def _quantity(value: Any, errors: dict[str, Any]) -> Decimal:
    text = str(value if value not in (None, "") else "1").replace(" ", "").replace(",", ".")
    try:
        quantity = Decimal(text)
    except InvalidOperation:
        quantity = Decimal("-1")
    if not quantity.is_finite() or quantity <= 0 or quantity >= Decimal("1e9"):
        errors["quantity"] = _l("The quantity is a number above zero, such as 1 or 2,5.")
        return Decimal("1")
    return quantity.quantize(Decimal("0.001"))


def add_item(actor: Actor, deal: Deal, values: dict[str, Any]) -> DealItem:
    """Add a product or service line; the deal's amount becomes the sum of its lines."""
    require(actor.user, "edit", ENTITY, deal)
    errors: dict[str, Any] = {}
    name = clean(str(values.get("name") or ""), 300)
    if not name:
        errors["name"] = _l("Name the product or service.")
    price = _amount(values.get("price"), errors)
    if "amount" in errors:
        errors["price"] = errors.pop("amount")
    quantity = _quantity(values.get("quantity"), errors)
    if errors:
        raise InvalidInput(errors)
    item = DealItem(deal_id=deal.id, name=name, price=price, quantity=quantity, position=len(deal.items))
    deal.items.append(item)
    _total(deal)
    audit.record(actor, "deal.item_added", ENTITY, deal.id, {"name": name, "price": str(price)})
    events.emit(DealUpdated(subject_id=deal.id, origin=actor.origin, changed=("amount", "items"),
                            owner_id=deal.owner_id))
    db.session.flush()
    return item


def remove_item(actor: Actor, deal: Deal, item_id: int) -> None:
    require(actor.user, "edit", ENTITY, deal)
    item = next((i for i in deal.items if i.id == item_id), None)
    if item is None:
        raise LookupError(item_id)
    deal.items.remove(item)
    _total(deal)
    audit.record(actor, "deal.item_removed", ENTITY, deal.id, {"name": item.name})
    events.emit(DealUpdated(subject_id=deal.id, origin=actor.origin, changed=("amount", "items"),
                            owner_id=deal.owner_id))
    db.session.flush()


def _total(deal: Deal) -> None:
    if deal.items:
        deal.amount = sum((i.price * i.quantity for i in deal.items), Decimal("0")).quantize(Decimal("0.01"))
    deal.updated_at = utcnow()


def add_payment(actor: Actor, deal: Deal, values: dict[str, Any]) -> Payment:
    """Record money received; it shows on the deal and in the client's purchase history (timeline)."""
    require(actor.user, "edit", ENTITY, deal)
    errors: dict[str, Any] = {}
    amount = _amount(values.get("amount"), errors)
    if not errors and amount <= 0:
        errors["amount"] = _l("The amount must be more than zero.")
    paid_at = utcnow()
    if values.get("paid_on"):
        try:
            day = custom_fields.parse_date(values["paid_on"])
            paid_at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        except ValueError:
            errors["paid_on"] = _l("Enter the date as DD.MM.YYYY.")
    if errors:
        raise InvalidInput(errors)
    payment = Payment(deal_id=deal.id, amount=amount, paid_at=paid_at, note=clean(str(values.get("note") or ""), 300),
                      author_id=actor.user_id)
    deal.payments.append(payment)
    db.session.flush()
    if deal.contact_id or deal.company_id:
        timeline.record(kind="payment", contact_id=deal.contact_id, company_id=deal.company_id,
                        author_id=actor.user_id, title=deal.title, occurred_at=paid_at,
                        data={"deal_id": deal.id, "payment_id": payment.id, "amount": str(amount),
                              "currency": deal.currency, "title": deal.title, "note": payment.note})
    audit.record(actor, "deal.payment_added", ENTITY, deal.id, {"amount": str(amount)})
    events.emit(DealUpdated(subject_id=deal.id, origin=actor.origin, changed=("payments",),
                            owner_id=deal.owner_id))
    db.session.flush()
    return payment


def paid(deal: Deal) -> Decimal:
    return sum((p.amount for p in deal.payments), Decimal("0"))
