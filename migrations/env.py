"""Alembic environment shared by core and every plugin.

``core.migrate`` runs it once per migration unit (core, then each enabled plugin) with the unit's own
version table and table filter in ``config.attributes``; the database connection comes from the Flask app.
"""

from __future__ import annotations

from alembic import context
from flask import current_app

from core.db import db
from core.models.base import Base

config = context.config
unit = config.attributes["unit"]


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    if type_ == "table":
        return unit.owns_table(name)
    table = getattr(obj, "table", None)
    if table is not None:
        return unit.owns_table(table.name)
    return True


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        with current_app.app_context(), db.engine.connect() as conn:
            _run(conn)
    else:
        _run(connection)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=unit.version_table,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        user_module_prefix="core.models.base.",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
