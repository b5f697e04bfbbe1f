"""Administration → Pipelines: create pipelines, name and order their stages, mark won and lost stages, set the
probability of each stage, the currency of new deals and the reasons a deal can be lost for."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from core.db import db
from core.models import Pipeline
from core.models.deals import STAGE_KINDS
from core.services.platform.access import require
from core.services.platform.errors import InvalidInput
from core.services.work import pipelines
from core.web.context import actor, user
from core.web.forms import EmptyForm
from core.web.htmx import render

bp = Blueprint("pipelines", __name__, url_prefix="/admin/pipelines")
NEW_STAGE_ROWS = 2


def _stage_rows(form: Any) -> list[dict[str, Any]]:
    ids, names = form.getlist("stage_id"), form.getlist("stage_name")
    kinds, chances, places = form.getlist("stage_kind"), form.getlist("stage_probability"), form.getlist("stage_order")
    rows = [{"id": i, "name": n, "kind": k, "probability": p, "order": o}
            for i, n, k, p, o in zip(ids, names, kinds, chances, places, strict=False)]

    def place(item: tuple[int, dict[str, Any]]) -> tuple[float, int]:
        index, row = item
        try:
            return float(str(row["order"]).replace(",", ".")), index
        except ValueError:
            return float(index + 1), index

    return [row for _index, row in sorted(enumerate(rows), key=place)]


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    require(user(), "edit", "pipeline")
    return render("pipelines/index.html", rows=pipelines.all_pipelines())


@bp.route("/new", methods=["GET", "POST"], defaults={"pipeline_id": None})
@bp.route("/<int:pipeline_id>", methods=["GET", "POST"])
def edit(pipeline_id: int | None):  # type: ignore[no-untyped-def]
    require(user(), "edit", "pipeline")
    pipeline = db.session.get(Pipeline, pipeline_id) if pipeline_id else None
    if pipeline_id and pipeline is None:
        abort(404)
    errors: dict[str, str] = {}
    rows: list[dict[str, Any]] = [{"id": s.id, "name": s.name, "kind": s.kind, "probability": s.probability}
                                  for s in (pipeline.stages if pipeline else [])]
    if request.method == "POST" and EmptyForm().validate_on_submit():
        rows = _stage_rows(request.form)
        values = {"name": request.form.get("name", ""), "currency": request.form.get("currency", ""),
                  "lost_reasons": request.form.get("lost_reasons", ""),
                  "archived": request.form.get("archived", ""), "stages": rows}
        try:
            saved = pipelines.save(actor(), pipeline, values)
        except InvalidInput as exc:
            errors = {k: str(v) for k, v in exc.errors.items()}
            pipeline = db.session.get(Pipeline, pipeline_id) if pipeline_id else None
        else:
            flash(_("The pipeline is saved."), "success")
            return redirect(url_for("pipelines.edit", pipeline_id=saved.id))
    elif pipeline is None:
        rows = [{"name": name, "kind": kind, "probability": chance} for name, kind, chance in
                ((_("New request"), "open", 10), (_("In progress"), "open", 50), (_("Won"), "won", 100),
                 (_("Lost"), "lost", 0))]
    return render("pipelines/form.html", pipeline=pipeline, rows=rows + [{"kind": "open", "probability": 0}] *
                  NEW_STAGE_ROWS, errors=errors, kinds=STAGE_KINDS, form=EmptyForm(),
                  status=422 if errors else 200)
