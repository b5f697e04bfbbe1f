"""Bulk inserts for imports: many rows into one table at the speed of the database driver.

SQLAlchemy's ``executemany`` builds and types every row's parameters in Python, which cost more than the
database's own work once an import writes six rows per line of a file. Here PostgreSQL gets ``COPY`` (psycopg
adapts the values) and SQLite one ``executemany`` of the values run through SQLAlchemy's own bind processors, so
each column is stored exactly as the ORM would store it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import JSON, Table, any_, bindparam, insert, text
from sqlalchemy.dialects.postgresql import ARRAY

from core.db import db


def _sqlite_processors(table: Table, columns: Sequence[str], dialect: Any) -> list[Any]:
    return [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]


def _copy_value(column: Any, value: Any) -> Any:
    """A JSON column's value as COPY takes it (SQL NULL where the column stores None as NULL)."""
    if value is None and column.type.none_as_null:
        return None
    return json.dumps(value, ensure_ascii=False)


def insert_rows(table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in the current transaction."""
    if not rows:
        return
    columns = list(rows[0])
    connection = db.session.connection()
    dialect = connection.dialect
    if dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        json_columns = [(i, table.c[name]) for i, name in enumerate(columns) if isinstance(table.c[name].type, JSON)]
        names = ", ".join(f'"{name}"' for name in columns)
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                values = [row[name] for name in columns]
                for i, column in json_columns:
                    values[i] = _copy_value(column, values[i])
                copy.write_row(values)
        return
    if dialect.name == "sqlite":
        processors = [(i, p) for i, p in enumerate(_sqlite_processors(table, columns, dialect)) if p is not None]
        values = []
        for row in rows:
            value = [row[name] for name in columns]
            for i, process in processors:
                value[i] = process(value[i])
            values.append(tuple(value))
        placeholders = ", ".join("?" for _ in columns)
        names = ", ".join(f'"{name}"' for name in columns)
        # names come from the table's metadata, values go as parameters
        statement = f'INSERT INTO "{table.name}" ({names}) VALUES ({placeholders})'  # noqa: S608
        connection.exec_driver_sql(statement, values)
        return
    db.session.execute(insert(table), list(rows))


def among(column: Any, values: Collection[Any]) -> Any:
    """``column IN values`` for a chunk's worth of values: one array parameter on PostgreSQL (a list of 2,000
    parameters is re-parsed by the driver and re-planned by the server every time), a plain ``IN`` elsewhere."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


def refresh_statistics(tables: Sequence[str]) -> None:
    """Let the planner see how big ``tables`` have grown (commits). A bulk import grows tables faster than
    autovacuum re-analyses them, and a planner that still believes them empty scans them for every lookup.
    Called only by the import run between its committed chunks (:func:`core.services.transfer.imports.run`, a job
    owning its transactions): the commit ends the ANALYZE's own short transaction before the next chunk."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"ANALYZE {', '.join(tables)}")
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA analysis_limit=1000")
        for name in tables:
            connection.exec_driver_sql(f"ANALYZE {name}")
    db.session.commit()


def insert_returning_ids(table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows``; their new ids in the order of ``rows``.

    On PostgreSQL the ids are drawn from the table's sequence in one query and the rows copied in with them.
    (SQLAlchemy's ordered ``RETURNING`` sends one statement per row on SQLite and a slow cast-laden ``VALUES``
    list on PostgreSQL.)
    """
    if not rows:
        return []
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        sequence = session.execute(text("SELECT pg_get_serial_sequence(:table, 'id')"),
                                   {"table": table.name}).scalar_one()
        ids = list(session.execute(text("SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :n)"),
                                   {"sequence": sequence, "n": len(rows)}).scalars())
        insert_rows(table, [{**row, "id": row_id} for row, row_id in zip(rows, ids, strict=True)])
        return ids
    # SQLite: the first row's insert takes the database's write lock, held until commit, and SQLite numbers a new
    # row max(rowid) + 1; so the rest can be numbered here and written in one executemany
    first = session.execute(insert(table).returning(table.c.id), rows[0]).scalar_one()
    ids = list(range(first, first + len(rows)))
    insert_rows(table, [{**row, "id": row_id} for row, row_id in zip(rows[1:], ids[1:], strict=True)])
    return ids
