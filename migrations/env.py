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
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # SQLite changes a table by copying it and dropping the original; with foreign keys on, that drop would
        # cascade to every child row (ON DELETE CASCADE). Foreign keys are switched off for the migration (the
        # pragma only works outside a transaction) and checked afterwards.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()  # end the transaction the pragma opened, so Alembic's own one commits
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
    if sqlite:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()
        if broken:
            raise RuntimeError(f"the migration left rows pointing nowhere: {broken[:5]}")


run_migrations_online()
