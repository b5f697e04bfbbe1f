"""Inserts that meet a racing twin on a unique constraint instead of failing on it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

from core.db import db


def insert_ignoring_duplicates(model: Any, rows: list[dict[str, Any]], *unique: Any) -> Any:
    """``INSERT … ON CONFLICT (unique…) DO NOTHING`` on PostgreSQL and SQLite alike.

    Another transaction inserting the same key waits for this one (or this one for it), then inserts nothing: no
    UNIQUE violation, no rolled-back unit of work. Read the rows back afterwards to get the winner."""
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model).values(rows).on_conflict_do_nothing(index_elements=list(unique))
