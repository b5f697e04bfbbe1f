"""Names for the ids an audit log page mentions (users, stages, pipelines, teams, companies, records), read in one
statement per kind for the whole page, so the log can say "Stage: New → Won" instead of ``stage: [1, 3]``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, literal_column, select, union_all

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
    parts = []
    for kind, ids in wanted.items():
        if ids and kind in _COLUMNS:
            model, columns = _COLUMNS[kind]
            # the kind is one of _COLUMNS' own keys, never a request value; empty text in SQL for missing parts
            cols = [func.coalesce(getattr(model, c), literal_column("''")) if c else literal_column("''")
                    for c in columns]
            parts.append(select(literal_column(f"'{kind}'"), model.id, *cols)
                         .where(model.id.in_(sorted(ids)[:1000])))
    if parts:  # one statement for the whole page, whatever kinds it names
        for kind, ident, a, b, c in db.session.execute(union_all(*parts)):
            if kind == "user":
                names[kind][ident] = a or b
            elif kind == "contact":
                names[kind][ident] = Contact.name_of(a, b, c)
            else:
                names[kind][ident] = a
    return names


# the columns that make each kind's name: (model, three columns or None)
_COLUMNS: dict[str, tuple[Any, tuple[str | None, str | None, str | None]]] = {
    "user": (User, ("full_name", "email", None)),
    "contact": (Contact, ("first_name", "middle_name", "last_name")),
    "stage": (Stage, ("name", None, None)),
    "pipeline": (Pipeline, ("name", None, None)),
    "team": (Team, ("name", None, None)),
    "company": (Company, ("name", None, None)),
    "deal": (Deal, ("title", None, None)),
    "task": (Task, ("title", None, None)),
}
