"""How related rows are loaded with a page of records, per database.

PostgreSQL: joined eager loads (one statement; building the IN-lists of selectin loads costs more there than
running them). SQLite: selectin loads (its planner would join before applying the page's LIMIT).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import joinedload, selectinload

from core.db import db


def with_related(*attributes: Any) -> list[Any]:
    loader = joinedload if db.engine.dialect.name == "postgresql" else selectinload
    return [loader(attribute) for attribute in attributes]
