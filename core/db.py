"""The Flask-SQLAlchemy handle and the unit-of-work rule. Kept apart from the other extensions so services can use
it without importing anything web-specific.

One unit of work per request, job and command: services add, change and flush, but never commit; the outermost
caller commits once when its work succeeded and rolls back when it failed. The web and API layers do it for every
request (:mod:`core.web.transactions`), the job runner after each job function, CLI commands and scripts with
:func:`unit_of_work`. A write that must survive a failure of the rest (a duplicate delivery, one bad import row)
goes in a SAVEPOINT (:func:`savepoint`), never in a commit or a rollback of its own.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask.cli import ScriptInfo
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, SessionTransaction

from core.models.base import Base

db = SQLAlchemy(model_class=Base)


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """The outermost caller's transaction (a CLI command, a script, a test): commit when the block ends normally,
    roll back when it raises. The commit ends the unit: what it loaded keeps its values (not expired), so the
    caller can still print or return them after the block."""
    session = db.session()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    keep, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = keep


def command_unit_of_work(command: click.Command) -> click.Command:
    """Make ``command`` (and each subcommand of a group) one unit of work: what it wrote is committed when it
    returns and rolled back when it fails (an error, a ``ClickException``). Core and plugin commands are wrapped
    when the app registers them, so a command never commits by itself."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            command_unit_of_work(sub)
    inner = command.callback
    if inner is None or getattr(inner, "_mayak_unit_of_work", False):
        return command

    @functools.wraps(inner)
    def run(*args: Any, **kwargs: Any) -> Any:
        info = click.get_current_context().find_object(ScriptInfo)
        if info is None:  # not run through the mayak command (a bare click test): no app to work in
            return inner(*args, **kwargs)
        with info.load_app().app_context(), unit_of_work() as session:
            try:
                return inner(*args, **kwargs)
            except (SystemExit, click.exceptions.Exit) as stop:  # an exit with status 0 is a success
                if getattr(stop, "exit_code", getattr(stop, "code", 1)) in (0, None):
                    session.commit()
                raise

    run._mayak_unit_of_work = True  # type: ignore[attr-defined]
    command.callback = run
    return command


def own_transactions(command: click.Command) -> click.Command:
    """Mark a long-running command (a server, a queue worker, the scheduler, a provider's listener) that is not one
    unit of work: it runs for days and commits each piece of work itself (a job, a tick). Wrapped like the others, its
    whole life was one open transaction, which a forked work horse inherited and whose final commit waited on locks
    at exit."""
    if command.callback is not None:
        command.callback._mayak_unit_of_work = True  # type: ignore[attr-defined]
    return command


class _WholeTransaction:
    """What :func:`savepoint` yields when the transaction had written nothing: undoing the block is undoing it all."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def rollback(self) -> None:
        self._session.rollback()


@contextmanager
def savepoint() -> Iterator[SessionTransaction | _WholeTransaction]:
    """A SAVEPOINT inside the caller's transaction: an exception raised in the block (an ``IntegrityError`` on a
    unique key, a refused row) undoes only the block's writes and propagates; the caller's earlier writes stay.

    When the transaction has written nothing yet (the usual single save of a request), there is nothing earlier to
    keep: the block runs in the transaction itself and a failure rolls the transaction back, which saves the
    SAVEPOINT and RELEASE statements. The yielded object's ``rollback()`` undoes the block either way."""
    session = db.session()
    if nothing_written(session):
        try:
            yield _WholeTransaction(session)
            # the block's rows are sent before it ends, as a SAVEPOINT's release would: a unique key met here is
            # raised inside the caller's ``except`` around the block, not at some later autoflush outside it
            session.flush()
        except BaseException:
            session.rollback()
            raise
        return
    with session.begin_nested() as nested:
        yield nested


_WROTE = "mayak.wrote"  # Connection.info: a write was sent in the connection's current transaction
_WRITES = ("INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE", "WITH", "CREATE", "DROP", "ALTER")


def nothing_written(session: Session) -> bool:
    """Whether ``session``'s transaction has sent no write and holds none waiting to be flushed."""
    if session.new or session.deleted or session.dirty:
        return False
    if session.get_transaction() is None:
        return True
    return not session.connection().info.get(_WROTE)


@event.listens_for(Engine, "before_cursor_execute")
def _note_writes(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    if not conn.info.get(_WROTE) and statement.lstrip()[:8].upper().startswith(_WRITES):
        conn.info[_WROTE] = True


@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _forget_writes(conn: Connection) -> None:
    conn.info.pop(_WROTE, None)


@event.listens_for(Engine, "savepoint")
def _sqlite_savepoint_writes(conn: Connection, _name: str) -> None:
    """On SQLite, a SAVEPOINT opened outside a transaction starts one with ``BEGIN IMMEDIATE``.

    The sqlite3 driver begins its transaction just before the first INSERT/UPDATE, so the reads before it see
    the newest data and the write lock is waited for (``busy_timeout``). A bare SAVEPOINT would begin a deferred
    transaction instead: the reads after it hold a snapshot, and when another connection commits meanwhile, the
    first write fails at once with "database is locked" (SQLite cannot upgrade a stale snapshot). A unit of work
    that opens a savepoint is about to write: it takes the write lock first, waiting for it as any writer does.
    """
    if conn.dialect.name != "sqlite":
        return
    raw = conn.connection.dbapi_connection
    if raw is not None and not raw.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


# SQLSTATE classes of a connection that failed or was cut: 08 (connection exception), 57P01-57P03 (the server is
# shutting down or not accepting connections yet)
_UNREACHABLE_STATES = ("08", "57P01", "57P02", "57P03")


def database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be reached (refused, cut, restarting) rather than that a
    statement was wrong: work that failed this way is waited for and tried again, never counted as a failure."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:  # the DBAPI error may be wrapped by the job's own
        seen.add(id(current))
        if isinstance(current, DBAPIError):
            if current.connection_invalidated:
                return True
            state = getattr(current.orig, "sqlstate", None)
            if isinstance(current, OperationalError) and (state is None or state.startswith(_UNREACHABLE_STATES)):
                # psycopg's refusals and cuts carry no SQLSTATE or class 08; SQLite's "database is locked" is
                # an OperationalError too, but a busy database is not an unreachable one
                return "locked" not in str(current.orig) and "sqlite" not in type(current.orig).__module__
            return False
        current = current.__cause__ or current.__context__
    return False
