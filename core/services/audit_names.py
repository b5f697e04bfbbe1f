"""Names for the ids an audit log page mentions (users, stages, pipelines, teams, companies, records), read in one
statement per kind for the whole page, so the log can say "Stage: New → Won" instead of ``stage: [1, 3]``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from core.db import db
from core.models import AuditEntry, Company, Contact, Deal, Pipeline, Stage, Task, Team, User

# which kind of record an id under each change key names
KEY_KINDS = {"owner_id": "user", "to": "user", "from": "user", "user_id": "user", "stage": "stage",
             "stage_id": "stage", "pipeline_id": "pipeline", "team_id": "team", "companies": "company",
             "company_id": "company", "contact_id": "contact", "deal_id": "deal"}
TARGET_KINDS = ("contact", "company", "deal", "task", "user", "team", "pipeline")


def _ids(value: Any) -> Iterable[int]:
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        yield value
    elif isinstance(value, str) and value.isdigit() and len(value) < 19:
        yield int(value)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _ids(item)


def names_for(entries: Iterable[AuditEntry]) -> dict[str, dict[int, str]]:
    """``{kind: {id: name}}`` for every id the entries' changes and targets name."""
    wanted: dict[str, set[int]] = {kind: set() for kind in {*KEY_KINDS.values(), *TARGET_KINDS}}
    for entry in entries:
        for key, value in (entry.changes or {}).items():
            if key in KEY_KINDS:
                wanted[KEY_KINDS[key]].update(_ids(value))
        if entry.target_type in TARGET_KINDS and entry.target_id and str(entry.target_id).isdigit() \
                and len(str(entry.target_id)) < 19:
            wanted[entry.target_type].add(int(entry.target_id))
    names: dict[str, dict[int, str]] = {kind: {} for kind in wanted}
    queries = {
        "user": lambda ids: {i: full_name or email for i, full_name, email in db.session.execute(
            select(User.id, User.full_name, User.email).where(User.id.in_(ids)))},
        "stage": lambda ids: dict(db.session.execute(select(Stage.id, Stage.name).where(Stage.id.in_(ids))).all()),
        "pipeline": lambda ids: dict(db.session.execute(select(Pipeline.id, Pipeline.name)
                                                        .where(Pipeline.id.in_(ids))).all()),
        "team": lambda ids: dict(db.session.execute(select(Team.id, Team.name).where(Team.id.in_(ids))).all()),
        "company": lambda ids: dict(db.session.execute(select(Company.id, Company.name)
                                                       .where(Company.id.in_(ids))).all()),
        "contact": lambda ids: {i: Contact.name_of(f, m, last) for i, f, m, last in db.session.execute(
            select(Contact.id, Contact.first_name, Contact.middle_name, Contact.last_name)
            .where(Contact.id.in_(ids)))},
        "deal": lambda ids: dict(db.session.execute(select(Deal.id, Deal.title).where(Deal.id.in_(ids))).all()),
        "task": lambda ids: dict(db.session.execute(select(Task.id, Task.title).where(Task.id.in_(ids))).all()),
    }
    for kind, ids in wanted.items():
        if ids and kind in queries:
            names[kind] = queries[kind](list(ids)[:1000])
    return names
