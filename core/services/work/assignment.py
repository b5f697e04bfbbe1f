"""Who gets a new lead: the first active rule (by position) for the pipeline and channel that is within its
working hours picks a person by round robin, least load (open deals + open tasks) or a fixed owner."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from core.db import db, savepoint
from core.models import AssignmentRule, Deal, Stage, Task, Team, User, utcnow
from core.models.inbox import ASSIGNMENT_STRATEGIES
from core.plugins import provider_facades
from core.services.platform import audit
from core.services.platform.access import require
from core.services.platform.context import Actor
from core.services.platform.errors import InvalidInput
from core.services.platform.text import clean, flag, optional_int


def rules() -> list[AssignmentRule]:
    return list(db.session.scalars(select(AssignmentRule).order_by(AssignmentRule.position, AssignmentRule.id)))


def within_hours(rule: AssignmentRule, now: datetime) -> bool:
    if not rule.work_days and not (rule.work_start and rule.work_end):
        return True
    try:
        local = now.astimezone(ZoneInfo(rule.timezone or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        local = now
    if rule.work_days and local.weekday() not in rule.work_days:
        return False
    if rule.work_start and rule.work_end:
        return rule.work_start <= local.strftime("%H:%M") < rule.work_end
    return True


def matching_rule(pipeline_id: int | None, channel: str, now: datetime | None = None) -> AssignmentRule | None:
    now = now or utcnow()
    for rule in rules():
        if not rule.active:
            continue
        if rule.pipeline_id is not None and rule.pipeline_id != pipeline_id:
            continue
        if rule.channel and rule.channel != channel:
            continue
        if within_hours(rule, now):
            return rule
    return None


def _candidates(rule: AssignmentRule) -> list[User]:
    if rule.team_id is None:
        return []
    team = db.session.get(Team, rule.team_id)
    return sorted((u for u in (team.members if team else []) if u.is_active), key=lambda u: u.id)


def _load(user_ids: list[int]) -> dict[int, int]:
    deals = dict(db.session.execute(
        select(Deal.owner_id, func.count(Deal.id)).join(Stage, Stage.id == Deal.stage_id)
        .where(Deal.owner_id.in_(user_ids), Deal.deleted_at.is_(None), Stage.kind == "open")
        .group_by(Deal.owner_id)).all())
    tasks = dict(db.session.execute(
        select(Task.owner_id, func.count(Task.id))
        .where(Task.owner_id.in_(user_ids), Task.deleted_at.is_(None), Task.status == "open")
        .group_by(Task.owner_id)).all())
    return {uid: deals.get(uid, 0) + tasks.get(uid, 0) for uid in user_ids}


def pick(rule: AssignmentRule) -> int | None:
    """The person ``rule`` gives the next lead to (round robin remembers its place under a row lock)."""
    if rule.strategy == "fixed":
        user = db.session.get(User, rule.user_id) if rule.user_id else None
        return user.id if user is not None and user.is_active else None
    people = _candidates(rule)
    if not people:
        return None
    if rule.strategy == "least_loaded":
        load = _load([u.id for u in people])
        return min(people, key=lambda u: (load[u.id], u.id)).id
    # re-read under a row lock (populate_existing: not the copy this session already holds) so two leads arriving
    # at once on PostgreSQL do not go to the same person
    locked = db.session.scalar(select(AssignmentRule).where(AssignmentRule.id == rule.id).with_for_update()
                               .execution_options(populate_existing=True))
    last = locked.last_user_id if locked is not None else None
    following = [u for u in people if last is None or u.id > last]
    chosen = (following or people)[0]
    rule.last_user_id = chosen.id
    return chosen.id


def save_rule(actor: Actor, rule: AssignmentRule | None, values: dict[str, Any]) -> AssignmentRule:
    require(actor.user, "edit", "inbox_settings")
    with savepoint():  # refused input undoes this save only, not the caller's work
        errors: dict[str, Any] = {}
        target = rule or AssignmentRule()
        target.name = clean(str(values.get("name") or ""), 120)
        if not target.name:
            errors["name"] = _l("Name the rule, such as 'Site leads to the sales team'.")
        strategy = str(values.get("strategy") or "round_robin")
        if strategy not in ASSIGNMENT_STRATEGIES:
            errors["strategy"] = _l("Choose round robin, least loaded or a fixed person.")
        target.strategy = strategy
        target.pipeline_id = optional_int(values.get("pipeline_id"))
        channel = str(values.get("channel") or "") or None
        if channel is not None and channel not in provider_facades.channel_keys():
            errors["channel"] = _l("Choose how the request came in.")
        target.channel = channel
        target.team_id = optional_int(values.get("team_id"))
        target.user_id = optional_int(values.get("user_id"))
        if strategy == "fixed" and target.user_id is None:
            errors["user_id"] = _l("Choose the person who gets every lead.")
        if strategy != "fixed" and target.team_id is None:
            errors["team_id"] = _l("Choose the team whose members share the leads.")
        days = values.get("work_days") or []
        target.work_days = sorted({int(d) for d in ([days] if isinstance(days, str) else days)
                                   if str(d).isdigit() and 0 <= int(d) <= 6})
        target.work_start = str(values.get("work_start") or "")[:5]
        target.work_end = str(values.get("work_end") or "")[:5]
        if bool(target.work_start) != bool(target.work_end) or (
                target.work_start and not (_hhmm(target.work_start) and _hhmm(target.work_end)
                                           and target.work_start < target.work_end)):
            errors["work_start"] = _l("Give the working hours as HH:MM to HH:MM, the start before the end.")
        target.timezone = str(values.get("timezone") or target.timezone or "UTC")
        try:
            ZoneInfo(target.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            errors["timezone"] = _l("Use a time zone name such as Europe/Moscow.")
        follow = values.get("follow_up_minutes")
        target.follow_up_minutes = optional_int(follow)
        if follow not in (None, "") and (target.follow_up_minutes is None or not 0 < target.follow_up_minutes <= 10080):
            errors["follow_up_minutes"] = _l("Call back within 1 minute to 7 days, or leave empty for no task.")
        target.active = flag(values.get("active"))
        target.position = optional_int(values.get("position")) or 0
        if errors:
            raise InvalidInput(errors)
        if rule is None:
            db.session.add(target)
        db.session.flush()
        audit.record(actor, "assignment_rule.saved", "inbox_settings", target.id, {"name": target.name})
    return target


def set_active(actor: Actor, rule: AssignmentRule, active: bool) -> None:
    require(actor.user, "edit", "inbox_settings")
    rule.active = active
    audit.record(actor, "assignment_rule.switched", "inbox_settings", rule.id, {"active": active})
    db.session.flush()


def delete_rule(actor: Actor, rule: AssignmentRule) -> None:
    require(actor.user, "edit", "inbox_settings")
    audit.record(actor, "assignment_rule.deleted", "inbox_settings", rule.id, {"name": rule.name})
    db.session.delete(rule)
    db.session.flush()


def _hhmm(text: str) -> bool:
    try:
        datetime.strptime(text, "%H:%M")
    except ValueError:
        return False
    return True

