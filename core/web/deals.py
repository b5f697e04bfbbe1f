"""Deal pages: the kanban board of a pipeline (drag a card to another stage) and moving a deal."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from core.db import db
from core.models import Pipeline
from core.plugins import provider_facades
from core.services.clients import labels, listing
from core.services.clients import pick as pick_service
from core.services.platform import params
from core.services.platform.access import can, require
from core.services.platform.errors import InvalidInput
from core.services.platform.text import optional_int
from core.services.work import deals, reassign, tasks
from core.web import clients
from core.web.calls import client_phones
from core.web.context import actor, user
from core.web.forms import EmptyForm
from core.web.htmx import fragment, is_htmx, render, trigger
from core.web.vocabulary import seeded_name

bp = Blueprint("deals", __name__, url_prefix="/deals")


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    require(user(), "view", "deal")
    first = next(iter(deals.pipelines()), None)
    if first is None:
        return render("deals/board.html", pipeline=None, pipelines=[], columns={}, form=EmptyForm(),
                      filters=BoardFilters(), owners=[], owner_names={})
    return redirect(url_for("deals.board", pipeline_id=first.id))


@bp.get("/list")
def listing_page():  # type: ignore[no-untyped-def]
    """Every deal the user may see, with the filters, sorts, grouping and saved views of the client lists."""
    return clients.render_list(listing.DEALS, "deals/list.html", body_block="list_body", pipelines=deals.pipelines(),
                               channels=provider_facades.channel_keys(), links_for=labels.linked_names)


@bp.get("/list/count")
def count():  # type: ignore[no-untyped-def]
    return clients.render_count(listing.DEALS, "deals/list.html")


@dataclass(frozen=True)
class BoardFilters:
    """What the board is narrowed to: my deals, one owner's, a search. Kept in the address (and sent along with
    each move) so a redrawn board shows the same cards."""

    mine: bool = False
    owner_id: int | None = None
    q: str = ""

    @classmethod
    def read(cls, source: Any) -> BoardFilters:
        try:
            owner_id = params.optional_id("owner", source.get("owner"))
        except params.BadParameter as exc:
            abort(400, description=str(exc.message))
        return cls(mine=source.get("mine") in ("1", "on", "true"), owner_id=owner_id,
                   q=str(source.get("q") or "").strip()[:200])

    def owner(self) -> int | None:
        return actor().user_id if self.mine else self.owner_id

    def as_args(self) -> dict[str, str]:
        args = {"mine": "1" if self.mine else "", "owner": str(self.owner_id or ""), "q": self.q}
        return {k: v for k, v in args.items() if v}


def _board_context(pipeline: Pipeline, filters: BoardFilters) -> dict[str, Any]:
    owners = clients.assignable_users()
    return {"pipeline": pipeline, "columns": deals.board(actor(), pipeline, owner_id=filters.owner(), q=filters.q),
            "form": EmptyForm(), "filters": filters, "owners": owners,
            "owner_names": {u.id: u.display_name for u in owners}}


@bp.get("/board/<int:pipeline_id>")
def board(pipeline_id: int):  # type: ignore[no-untyped-def]
    """The board; the filter bar asks htmx for the ``board`` block only (and keeps the filters in the address)."""
    require(user(), "view", "deal")
    pipeline = db.get_or_404(Pipeline, pipeline_id)
    return render("deals/board.html", "board", pipelines=deals.pipelines(),
                  **_board_context(pipeline, BoardFilters.read(request.args)))


def _board_fragment(pipeline: Pipeline):  # type: ignore[no-untyped-def]
    return fragment("deals/board.html", "board", **_board_context(pipeline, BoardFilters.read(request.form)))


def _moved_toast(deal: Any, change: Any) -> dict[str, Any]:
    """The toast after a move on the board: where the deal went, with Undo (which posts back the filters)."""
    stage = seeded_name(deal.stage.name)
    toast: dict[str, Any] = {"message": _("Moved to %(stage)s: %(title)s", title=deal.title, stage=stage),
                             "level": "success"}
    if change is not None and change.from_stage_id is not None:
        toast["undo"] = {"url": url_for("deals.undo_move", deal_id=deal.id), "label": _("Undo"),
                         "values": {"change_id": change.id, **BoardFilters.read(request.form).as_args()}}
    return toast


def _deal_to_change(deal_id: int) -> Any:
    """The deal a board or card form posts about: CSRF checked, the actor's edit right, else 404."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        return deals.get(actor(), deal_id, "edit")
    except LookupError:
        abort(404)


@bp.post("/<int:deal_id>/move")
def move(deal_id: int):  # type: ignore[no-untyped-def]
    """Move a deal to a stage (the board posts here on drop; the card's stage menu without JavaScript)."""
    deal = _deal_to_change(deal_id)
    back = url_for("deals.card", deal_id=deal.id)
    try:
        stage_id = params.record_id("stage_id", request.form.get("stage_id", ""))
        deals.move(actor(), deal, stage_id, lost_reason=request.form.get("lost_reason", ""),
                   comment=request.form.get("lost_comment", ""))
    except InvalidInput as exc:
        message = str(next(iter(exc.errors.values())))
        if is_htmx():  # the board is redrawn with the card back in place, and says why
            response = _board_fragment(deal.stage.pipeline)
            return trigger(response, {"mayak:toast": {"message": message, "level": "danger"}})
        flash(message, "danger")
        return redirect(back)
    if is_htmx():
        response = _board_fragment(deal.stage.pipeline)
        return trigger(response, {"mayak:toast": _moved_toast(deal, deals.last_change(deal))})
    flash(_("The deal is moved."), "success")
    return redirect(back)


@bp.post("/<int:deal_id>/undo-move")
def undo_move(deal_id: int):  # type: ignore[no-untyped-def]
    """Take back the last move (the Undo of the board's toast): the deal returns to the stage it came from."""
    deal = _deal_to_change(deal_id)
    try:
        deals.undo_move(actor(), deal, params.record_id("change_id", request.form.get("change_id", "")))
    except InvalidInput as exc:
        message, level = str(next(iter(exc.errors.values()))), "danger"
    else:
        stage = seeded_name(deal.stage.name)
        message, level = _("Undone: %(title)s is back in %(stage)s.", title=deal.title, stage=stage), "success"
    if is_htmx():
        return trigger(_board_fragment(deal.stage.pipeline), {"mayak:toast": {"message": message, "level": level}})
    flash(message, level)
    return redirect(url_for("deals.card", deal_id=deal.id))


@bp.get("/pick/<any(contact, company, deal):kind>")
def pick(kind: str):  # type: ignore[no-untyped-def]
    """The record picker's matches (htmx active search) for the deal, task and inbox forms."""
    require(user(), "view", kind)
    typed = request.args.get(f"{kind}_pick_q") or request.args.get("q", "")
    try:
        choices = pick_service.candidates(user(), kind, typed)
    except InvalidInput as exc:
        abort(400, description=str(next(iter(exc.errors.values()))))
    return render("_picker_options.html", choices=choices)


FIELDS = ("title", "pipeline_id", "stage_id", "amount", "currency", "contact_id", "company_id", "channel", "source",
          "expected_close", "probability", "owner_id")


@bp.route("/new", methods=["GET", "POST"], defaults={"deal_id": None})
@bp.route("/<int:deal_id>/edit", methods=["GET", "POST"])
def edit(deal_id: int | None):  # type: ignore[no-untyped-def]
    """Create or change a deal; ``?contact_id=`` or ``?company_id=`` prefill the client (from a card)."""
    if deal_id is None:
        require(user(), "create", "deal")
        deal = None
    else:
        try:
            deal = deals.get(actor(), deal_id, "edit")
        except LookupError:
            abort(404)
    errors: dict[str, str] = {}
    values: dict[str, str] = {k: v for k, v in request.args.items() if k in FIELDS}
    if request.method == "POST" and EmptyForm().validate_on_submit():
        values = {k: request.form.get(k, "") for k in FIELDS if k in request.form}
        if deal is not None:  # stages change on the board, not in the form
            values.pop("stage_id", None)
            values.pop("pipeline_id", None)
        try:
            saved = deals.save(actor(), deal, values, partial=deal is not None)
        except InvalidInput as exc:
            errors = {k: str(v) for k, v in exc.errors.items()}
        else:
            flash(_("The deal is saved."), "success")
            return redirect(url_for("deals.card", deal_id=saved.id))
    owners = reassign.assignable(actor(), "deal", clients.assignable_users())
    if deal is not None and deal.owner_id not in {u.id for u in owners} and deal.owner_id is not None:
        owners = [*owners, *[u for u in clients.assignable_users() if u.id == deal.owner_id]]  # keep the current
    chosen = SimpleNamespace(contact_id=_chosen("contact_id", values, deal), company_id=_chosen("company_id", values,
                                                                                                 deal))
    client_names = labels.visible_names(user(), [chosen])
    for field, kind in (("contact_id", "contact"), ("company_id", "company")):
        if field in values and optional_int(values[field]) not in client_names[kind]:
            values[field] = ""  # an id from the address or post the user may not see: as if it did not exist
    return render("deals/form.html", deal=deal, values=values, errors=errors, pipelines=deals.pipelines(),
                  client_names=client_names,
                  owners=owners, form=EmptyForm(), channels=provider_facades.channel_keys(),
                  status=422 if errors else 200)


def _chosen(field: str, values: dict[str, str], deal: Any) -> int | None:
    """The client the form shows as chosen: what was typed, else what the deal has."""
    return optional_int(values.get(field)) if field in values else getattr(deal, field, None)


@bp.get("/<int:deal_id>")
def card(deal_id: int):  # type: ignore[no-untyped-def]
    """The deal: its facts, line items, payments, stage history and open tasks."""
    try:
        deal = deals.get(actor(), deal_id, details=True)
    except LookupError:
        abort(404)
    stages = {s.id: s.name for s in deal.stage.pipeline.stages}
    return render("deals/card.html", deal=deal, links=labels.linked_names([deal]), history=deals.history(deal),
                  client_phones=client_phones(deal.contact_id),
                  owner_changes=reassign.history("deal", deal.id), stages=stages,
                  paid=deals.paid(deal), open_tasks=tasks.for_record(actor(), deal_id=deal.id),
                  names={u.id: u.display_name for u in clients.assignable_users()}, form=EmptyForm(),
                  can_edit=can(user(), "edit", "deal", deal))


def _deal_action(deal_id: int, action):  # type: ignore[no-untyped-def]
    deal = _deal_to_change(deal_id)
    try:
        action(deal)
    except InvalidInput as exc:
        for message in exc.errors.values():
            flash(str(message), "danger")
    except LookupError:
        abort(404)
    return redirect(url_for("deals.card", deal_id=deal_id))


@bp.post("/<int:deal_id>/items")
def add_item(deal_id: int):  # type: ignore[no-untyped-def]
    return _deal_action(deal_id, lambda deal: deals.add_item(actor(), deal, request.form.to_dict()))


@bp.post("/<int:deal_id>/items/<int:item_id>/delete")
def remove_item(deal_id: int, item_id: int):  # type: ignore[no-untyped-def]
    return _deal_action(deal_id, lambda deal: deals.remove_item(actor(), deal, item_id))


@bp.post("/<int:deal_id>/payments")
def add_payment(deal_id: int):  # type: ignore[no-untyped-def]
    return _deal_action(deal_id, lambda deal: deals.add_payment(actor(), deal, request.form.to_dict()))
