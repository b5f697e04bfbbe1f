"""Keyset pagination: every list pages by "rows before this id", never by OFFSET, so page 1,000 costs what
page 1 costs."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from core.db import db
from core.services.platform import params

T = TypeVar("T")


def newest_first(stmt: Select[tuple[T]], id_column: InstrumentedAttribute[Any], limit: int,
                 before_id: int | None = None) -> list[T]:
    """Up to ``limit`` rows of ``stmt`` with ids below ``before_id``, newest (highest id) first.

    ``before_id`` comes from an address: one outside the ids a column can hold is refused here, whatever view
    passed it (:class:`params.BadParameter`), rather than failing in the database."""
    stmt = stmt.order_by(id_column.desc()).limit(limit)
    if before_id is not None:
        params.record_id("before", before_id)
        stmt = stmt.where(id_column < before_id)
    return list(db.session.scalars(stmt))
