"""Pipelines and their stages, as administrators shape them: names, order, won/lost stages, probabilities,
the currency of new deals, and the list of reasons a deal can be lost for."""

from __future__ import annotations

from typing import Any

from babel.numbers import list_currencies
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from core.db import db, savepoint
from core.models import Deal, Pipeline, Stage
from core.models.deals import STAGE_KINDS
from core.services.platform import audit
from core.services.platform.access import require
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.services.platform.text import clean, flag, optional_int

ENTITY = "pipeline"


def all_pipelines() -> list[Pipeline]:
    return list(db.session.scalars(select(Pipeline).order_by(Pipeline.archived, Pipeline.position, Pipeline.id)))


def _stages(pipeline: Pipeline, rows: list[dict[str, Any]], errors: dict[str, Any]) -> list[Stage]:
    """The stages in the order given; rows without a name are dropped (a stage holding deals cannot be)."""
    existing = {s.id: s for s in pipeline.stages}
    kept: list[Stage] = []
    names: set[str] = set()
    for index, row in enumerate(rows):
        name = clean(str(row.get("name") or ""), 120)
        stage = existing.get(optional_int(row.get("id")) or -1)
        if not name:
            continue
        kind = str(row.get("kind") or "open")
        probability = optional_int(row.get("probability"))
        if kind not in STAGE_KINDS:
            errors[f"stages.{index}"] = _l("A stage is open, won or lost.")
        if probability is None or not 0 <= probability <= 100:
            errors[f"stages.{index}"] = _l("The probability is a whole number from 0 to 100.")
            probability = 0
        if name.casefold() in names:
            errors[f"stages.{index}"] = _l("Two stages are called %(name)s; give each its own name.", name=name)
        names.add(name.casefold())
        stage = stage or Stage(pipeline=pipeline)
        stage.name, stage.kind, stage.probability, stage.position = name, kind, probability, len(kept)
        kept.append(stage)
    kinds = {s.kind for s in kept}
    if not {"open", "won", "lost"} <= kinds:
        errors["stages"] = _l("A pipeline needs at least one open stage, one won stage and one lost stage.")
    dropped = [s for s in existing.values() if s not in kept]
    if dropped:
        used = dict(db.session.execute(select(Deal.stage_id, func.count(Deal.id))
                                       .where(Deal.stage_id.in_([s.id for s in dropped]))
                                       .group_by(Deal.stage_id)).all())
        for stage in dropped:
            if used.get(stage.id):
                errors["stages"] = _l("The stage %(name)s holds %(count)s deal(s): move them before removing it.",
                                      name=stage.name, count=used[stage.id])
    return kept


def save(actor: Actor, pipeline: Pipeline | None, values: dict[str, Any]) -> Pipeline:
    """Create or change a pipeline: ``name``, ``currency``, ``lost_reasons`` (list or lines), ``archived``,
    ``stages`` (ordered rows of ``id``, ``name``, ``kind``, ``probability``)."""
    require(actor.user, "edit", ENTITY)
    with savepoint():  # refused input undoes this save only, not the caller's work
        errors: dict[str, Any] = {}
        target = pipeline or Pipeline(position=(db.session.scalar(select(func.max(Pipeline.position))) or 0) + 1)
        with db.session.no_autoflush:
            target.name = clean(str(values.get("name") or ""), 120)
            if not target.name:
                errors["name"] = _l("Name the pipeline, such as 'Sales' or 'Repeat orders'.")
            elif db.session.scalar(select(Pipeline.id).where(Pipeline.name == target.name,
                                                             Pipeline.id != (target.id or -1))):
                errors["name"] = _l("Another pipeline is called %(name)s.", name=target.name)
            currency = str(values.get("currency") or target.currency or "RUB").upper()[:3]
            if currency not in list_currencies():
                errors["currency"] = _l("Use a three-letter currency code, such as RUB or USD.")
            target.currency = currency
            reasons = values.get("lost_reasons") or []
            reasons = reasons.splitlines() if isinstance(reasons, str) else list(reasons)
            target.lost_reasons = list(dict.fromkeys(r for r in (clean(str(r), 200) for r in reasons) if r))
            target.archived = flag(values.get("archived"), default=False)
            target.stages = _stages(target, list(values.get("stages") or []), errors)
        if errors:
            raise InvalidInput(errors)
        if pipeline is None:
            db.session.add(target)
        db.session.flush()
        audit.record(actor, "pipeline.saved", ENTITY, target.id,
                     {"name": target.name, "stages": [s.name for s in target.stages]})
    return target
