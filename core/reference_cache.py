"""Reference data that nearly every request reads, kept in each process and checked against the database.

The signed-in user with their teams, roles and grants, an API token, the custom field definitions, a user's saved
views and the list of people work can be given to are read by almost every page and API call, and change a few
times a day. Each kind is a *topic*. A process keeps what it loaded together with the topic's *generation token*
at the time; a request reads every topic's current token in one small statement (the first time it needs cached
data) and uses an entry only when its token is still current.

Any change to a topic's tables — an ORM flush or a bulk ``UPDATE``/``DELETE`` through the session — replaces the
topic's token in ``cache_generation`` just before the writing transaction commits, in that transaction. So the
new token becomes visible exactly when the new data does, to every process on every host, whether or not Redis is
there; a rollback takes the new token back with the data. Tokens are taken last in the transaction and in a fixed
order, so two writers never wait for each other in a cycle. A transaction that changed a topic neither uses nor
fills that topic's entries (it may still roll back).

What a loader returns is shared by every thread of the process: plain values, or ORM objects loaded in a session
of their own and detached from it, which a request turns into its own with :func:`attach` (``Session.merge``
without a query). Changes made through raw SQL (``text()``) outside the session are not seen; nothing in Mayak
writes these tables that way.
"""

from __future__ import annotations

import secrets
import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import event, inspect, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Mapper, Session, SessionTransaction

from core.db import db
from core.models import ApiToken, CacheGeneration, CustomField, Role, RoleGrant, SavedView, Team, User

T = TypeVar("T")

PEOPLE = "people"  # users, teams, roles, grants (and team members, user roles: they change a user, team or role)
API_TOKENS = "api_tokens"
CUSTOM_FIELDS = "custom_fields"
SAVED_VIEWS = "saved_views"

TOPIC_OF_MODEL: dict[type, str] = {User: PEOPLE, Team: PEOPLE, Role: PEOPLE, RoleGrant: PEOPLE,
                                   ApiToken: API_TOKENS, CustomField: CUSTOM_FIELDS, SavedView: SAVED_VIEWS}
TOPIC_OF_TABLE: dict[str, str] = {
    **{model.__table__.name: topic for model, topic in TOPIC_OF_MODEL.items()},  # type: ignore[attr-defined]
    "team_member": PEOPLE, "user_role": PEOPLE,
}
MAX_ENTRIES = 20_000  # a process forgets everything and starts again past this many (users × kinds, tokens)

_TOKENS = "mayak.cache_tokens"  # session.info: this transaction's view of every topic's token
_CHANGED = "mayak.cache_changed"  # session.info: topics this transaction changed (their tokens are replaced at commit)


class _Store:
    """One process's entries for one database: ``(topic, key) -> (token, value)``."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, Hashable], tuple[int, Any]] = {}
        self.lock = threading.Lock()

    def put(self, key: tuple[str, Hashable], token: int, value: Any) -> None:
        with self.lock:
            if len(self.entries) >= MAX_ENTRIES:
                self.entries.clear()
            self.entries[key] = (token, value)


_stores: weakref.WeakKeyDictionary[Engine, _Store] = weakref.WeakKeyDictionary()
_stores_lock = threading.Lock()


def _store() -> _Store:
    engine = db.engine
    store = _stores.get(engine)
    if store is None:
        with _stores_lock:
            store = _stores.setdefault(engine, _Store())
    return store


def forget_all() -> None:
    """Drop this process's entries for the current app's database (after a restore, or when tests empty it)."""
    with _stores_lock:
        _stores.pop(db.engine, None)


_ready: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


def _table_ready(connection: Connection) -> bool:
    """Whether ``cache_generation`` exists (not before core_0017 is applied); asked until it does."""
    engine = connection.engine
    if _ready.get(engine):
        return True
    ready = inspect(connection).has_table(CacheGeneration.__tablename__)
    if ready:
        _ready[engine] = True
    return ready


def current_tokens(session: Session) -> dict[str, int] | None:
    """Every topic's token as this transaction sees it: one statement, the first time a transaction asks
    (``None`` before the table exists: nothing is kept then)."""
    held = session.info.get(_TOKENS)
    if held is None:
        connection = session.connection()
        if not _table_ready(connection):
            return None
        rows = connection.execute(select(CacheGeneration.topic, CacheGeneration.token))
        held = session.info[_TOKENS] = {topic: token for topic, token in rows}
    return held


def cached(topic: str, key: Hashable, load: Callable[[], T]) -> T:
    """``load()``'s value for ``key`` in ``topic``, from this process's memory while the topic has not changed.

    ``load`` must return something safe to share between threads: plain values, or ORM objects loaded through
    :func:`detached_session` (hand those to the request with :func:`attach`). ``None`` is not kept: a lookup
    that found nothing (an unknown API token) asks again next time, so guesses cannot fill the memory."""
    session = db.session()
    if topic in session.info.get(_CHANGED, ()):
        return load()  # this transaction changed the topic and may yet roll back: keep it out of the memory
    tokens = current_tokens(session)
    if tokens is None:
        return load()
    token = tokens.get(topic, 0)
    store = _store()
    hit = store.entries.get((topic, key))
    if hit is not None and hit[0] == token:
        return hit[1]
    value = load()
    if value is not None:
        store.put((topic, key), token, value)
    return value


def detached_session() -> Session:
    """A session on the current transaction's connection, for loading what :func:`cached` keeps: what it loads
    stays out of the request's identity map and is detached, fully loaded, when the session closes (``with``)."""
    return Session(bind=db.session.connection(), expire_on_commit=False, autoflush=False)


def attach(instance: T) -> T:
    """The request's own copy of a cached ORM object (and of the related objects loaded with it), without a query."""
    return db.session.merge(instance, load=False)


# --- noticing changes --------------------------------------------------------------------------------------------


def _changed(session: Session | None, topic: str) -> None:
    if session is not None:
        session.info.setdefault(_CHANGED, set()).add(topic)


def _on_write(_mapper: Mapper[Any], _connection: Connection, target: Any) -> None:
    _changed(Session.object_session(target), TOPIC_OF_MODEL[_topic_model(type(target))])


def _topic_model(cls: type) -> type:
    for base in cls.__mro__:
        if base in TOPIC_OF_MODEL:
            return base
    raise KeyError(cls)


for _model in TOPIC_OF_MODEL:
    for _name in ("after_insert", "after_update", "after_delete"):
        event.listen(_model, _name, _on_write, propagate=True)


@event.listens_for(Session, "do_orm_execute")
def _on_bulk_write(state: Any) -> None:
    """A bulk ``update(User)…``/``delete(…)``/``insert(…)`` executed through the session changes its topic too."""
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(state.statement, "table", None)
    topic = TOPIC_OF_TABLE.get(getattr(table, "name", ""))
    if topic is not None:
        _changed(state.session, topic)


@event.listens_for(Session, "before_commit")
def _replace_tokens(session: Session) -> None:
    """Flush what is left first (so every change is known), then replace the changed topics' tokens, in a fixed
    order and as the transaction's last writes: a writer holding a token's row lock only waits to commit. A
    savepoint's release (also a "commit" to SQLAlchemy) replaces nothing: the outermost commit does."""
    if session.in_nested_transaction():
        return
    session.flush()
    changed = session.info.get(_CHANGED)
    if not changed:
        return
    connection = session.connection()
    if not _table_ready(connection):
        return
    upsert = _upsert_for(connection)
    for topic in sorted(changed):
        connection.execute(upsert(topic))


def _upsert_for(connection: Connection) -> Callable[[str], Any]:
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert

    def upsert(topic: str) -> Any:
        stmt = insert(CacheGeneration).values(topic=topic, token=secrets.randbits(62))
        return stmt.on_conflict_do_update(index_elements=[CacheGeneration.topic],
                                          set_={"token": stmt.excluded.token})
    return upsert


@event.listens_for(Session, "after_transaction_end")
def _forget_transaction(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended: committed or rolled back
        session.info.pop(_TOKENS, None)
        session.info.pop(_CHANGED, None)
