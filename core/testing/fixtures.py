"""Pytest fixtures for Mayak and plugin tests.

``app`` is a migrated application on SQLite and, when the server is there, on PostgreSQL (each test that uses it
runs on both); every table is emptied after each test. ``client`` is a Flask test client, ``make_user`` creates
users, ``login`` signs a client in, ``make_app`` builds a separate app with extra plugins or settings.

They work the same in Mayak's own repository and for a plugin installed with pip next to a pip-installed core: a
plugin's ``conftest.py`` overrides ``mayak_plugins`` (the ``plugins.toml`` tables the test apps enable, written into
the test's instance folder) and ``mayak_environ`` (the environment its ``{ env = ... }`` settings read); the apps
run core's migrations and every enabled plugin's.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select, text
from werkzeug.security import generate_password_hash

from core import create_app
from core.config import PROJECT_ROOT
from core.db import db
from core.models import Role, RoleGrant, Team, User
from core.models.base import Base
from core.plugins.facades import registry
from core.testing import services

TEST_PASSWORD = "correct horse battery"
TEST_CONFIG = {"TESTING": True, "JOB_HEARTBEAT_SECONDS": 0.2, "JOB_STALE_SECONDS": 2.0,
               "JOB_RESUBMIT_SECONDS": 2.0, "JOB_RETRY_PAUSE_SECONDS": 0.0}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: needs the PostgreSQL server")
    config.addinivalue_line("markers", "redis: needs the Redis server")


def backend_params() -> list[Any]:
    return [pytest.param("sqlite", id="sqlite"), pytest.param("postgresql", id="postgresql",
                                                                marks=pytest.mark.postgres)]


@pytest.fixture(scope="session", params=backend_params())
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'mayak.db'}"
        return
    url = services.create_postgres_database()
    yield url
    services.drop_postgres_database(url)


PluginTables = Mapping[str, Mapping[str, Any]]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} into plugins.toml")


def plugins_toml(plugins: PluginTables) -> str:
    """``plugins.toml`` text enabling ``plugins``: ``{"hello": {"region": "RU", "api_key": {"env": "HELLO_KEY"}}}``
    (a ``module`` key enables a module that is not installed, as in a real ``plugins.toml``)."""
    lines = []
    for name, table in plugins.items():
        lines.append(f"[plugins.{name}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in table.items())
        lines.append("")
    return "\n".join(lines) or "# no plugins\n"


def write_plugins_file(folder: Path, plugins: PluginTables | str | None, name: str = "plugins.toml") -> Path:
    """The ``plugins.toml`` a test app reads. ``None``: this checkout's own file in Mayak's repository, an empty one
    for a pip-installed core (which ships none); a mapping or TOML text: that, written into ``folder``."""
    if plugins is None and (PROJECT_ROOT / "plugins.toml").is_file():
        return PROJECT_ROOT / "plugins.toml"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    text_ = plugins if isinstance(plugins, str) else plugins_toml(plugins or {})
    path.write_text(text_, encoding="utf-8")
    return path


def app_environ(database_url: str, instance: Path, **extra: str) -> dict[str, str]:
    env = {
        "MAYAK_DATABASE_URL": database_url,
        "MAYAK_INSTANCE_PATH": str(instance),
        "MAYAK_SECRET_KEY": "test-secret-key-0123456789abcdef",
        "MAYAK_LOCALE": "en",
        "MAYAK_TIMEZONE": "UTC",  # fixed, so that dates in assertions do not follow the enabled country rules
    }
    env.update(extra)
    if "MAYAK_PLUGINS_FILE" not in env:
        env["MAYAK_PLUGINS_FILE"] = str(write_plugins_file(instance, None))
    return env


@pytest.fixture(scope="session")
def mayak_plugins() -> PluginTables | str | None:
    """The plugins the ``app`` fixture enables, as ``plugins.toml`` tables. Override it in a plugin's conftest.py:

    ``return {"hello": {"region": "RU", "api_key": {"env": "HELLO_API_KEY"}}}``

    ``None`` (the default) is the checkout's plugins.toml in Mayak's own repository, no plugins otherwise."""
    return None


@pytest.fixture(scope="session")
def mayak_environ() -> dict[str, str]:
    """Extra environment of the test apps, e.g. the variables ``{ env = "NAME" }`` settings name (secrets are read
    from the app's environment, never from the test process's)."""
    return {}


def migrate_app(app: Flask) -> None:
    from core import migrate
    from core.services.users import accounts

    with app.app_context():
        migrate.upgrade()
        accounts.ensure_default_roles(registry().permissions.values())
        db.session.commit()  # services never commit: the fixture is the outermost caller


@pytest.fixture(scope="session")
def migrated_app(database_url: str, tmp_path_factory: pytest.TempPathFactory, mayak_plugins: PluginTables | None,
                 mayak_environ: dict[str, str]) -> Flask:
    """One app per database for the session, migrated: core's revisions, then each enabled plugin's."""
    instance = tmp_path_factory.mktemp("instance")
    plugins_file = write_plugins_file(instance, mayak_plugins)
    app = create_app(TEST_CONFIG, environ=app_environ(database_url, instance, MAYAK_PLUGINS_FILE=str(plugins_file),
                                                      **mayak_environ))
    migrate_app(app)
    return app


def empty_tables(app: Flask) -> None:
    from core import reference_cache
    from core.services.users import accounts

    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
        with db.engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                # every table is emptied, so no reference can dangle; with the checks on, SQLite looks for rows
                # pointing at each deleted one, and a reference without an index (contact.merged_into_id) is a
                # scan per row: 40 s to empty 30,000 contacts. The pragma only works outside a transaction.
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.commit()
            existing = set(db.inspect(conn).get_table_names())
            names = [t for t in tables if t in existing]
            if sqlite:
                for name in names:
                    conn.execute(text(f'DELETE FROM "{name}"'))
            else:
                conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE"))
            conn.commit()
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()
        reference_cache.forget_all()  # ids and tokens start again: nothing this process kept may match them
        accounts.ensure_default_roles(registry().permissions.values())
        db.session.commit()
        db.session.remove()


def wait_for_jobs(app: Flask, timeout: float = 10.0) -> None:
    """Wait until the in-process job thread has run everything submitted so far."""
    from core.jobs import backend

    with app.app_context():
        target = backend()
        wait = getattr(target, "wait_idle", None)
        if wait is not None:
            assert wait(timeout), "in-process jobs did not finish in time"


def wait_for_every_apps_jobs(timeout: float = 10.0) -> None:
    """Wait for the in-process jobs of every app this process built, ``create_app`` called directly included: a
    demo-data job still running in such an app deadlocked the emptying of the tables."""
    from core.jobs.backends import InProcessBackend

    assert InProcessBackend.wait_all_idle(timeout), "in-process jobs did not finish in time"


@pytest.fixture
def app(migrated_app: Flask) -> Iterator[Flask]:
    """The migrated app, emptied after the test. No app context is pushed: each request gets its own, as in
    production (use ``with app.app_context():`` for direct database work)."""
    yield migrated_app
    wait_for_every_apps_jobs()  # this app's and those of every app a test built, however it built them
    empty_tables(migrated_app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_token(client: FlaskClient) -> str:
    """The signed CSRF token a page would embed for this client's session."""
    with client.session_transaction() as session:
        raw = session.get("csrf_token")
    if raw is None:
        for page in ("/", "/login"):
            client.get(page)
            with client.session_transaction() as session:
                raw = session.get("csrf_token")
            if raw is not None:
                break
    assert raw is not None, "no page gave this client a CSRF token"
    app = client.application
    return URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="wtf-csrf-token").dumps(raw)


def post_form(client: FlaskClient, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """POST a form with this client's CSRF token, as the browser would."""
    payload = {"csrf_token": csrf_token(client), **(data or {})}
    return client.post(url, data=payload, **kwargs)


def create_user(app: Flask, email: str, *, password: str = TEST_PASSWORD, is_admin: bool = False,
                grants: dict[tuple[str, str], str] | None = None, teams: list[Team] | None = None,
                full_name: str = "", locale: str | None = None) -> User:
    """Create a user directly (bypassing the service) with an optional private role holding ``grants``.

    Returns a detached copy whose columns can be read outside the app context.
    """
    with app.app_context():
        return _create_user(email, password, is_admin, grants, [t.id for t in teams or []], full_name, locale)


TEST_HASH_METHOD = "pbkdf2:sha256:1000"


@functools.lru_cache(maxsize=64)
def test_password_hash(password: str) -> str:
    """The stored hash of a test user's password. Sign-in checks it exactly as in production (the method is part of
    the hash); only the deliberate slowness of the production method is left out: scrypt takes 0.12 s to make and
    again to check, and a run creates and signs in a few thousand users."""
    return generate_password_hash(password, method=TEST_HASH_METHOD)


def _create_user(email: str, password: str, is_admin: bool, grants: dict[tuple[str, str], str] | None,
                 team_ids: list[int], full_name: str, locale: str | None) -> User:
    teams = list(db.session.scalars(select(Team).where(Team.id.in_(team_ids)))) if team_ids else []
    user = User(email=email, password_hash=test_password_hash(password), is_admin=is_admin, full_name=full_name,
                locale=locale, teams=teams)
    if grants:
        role = Role(name=f"role for {email}", grants=[RoleGrant(entity=e, action=a, scope=s)
                                                      for (e, a), s in grants.items()])
        user.roles = [role]
    db.session.add(user)
    db.session.commit()
    db.session.refresh(user)
    db.session.expunge(user)
    return user


@pytest.fixture
def make_user(app: Flask) -> Callable[..., User]:
    return lambda email, **kwargs: create_user(app, email, **kwargs)


def sign_in(client: FlaskClient, email: str, password: str = TEST_PASSWORD) -> Any:
    response = post_form(client, "/login", {"email": email, "password": password})
    assert response.status_code == 302, f"sign-in of {email} failed with {response.status_code}"
    return response


@pytest.fixture
def login(client: FlaskClient) -> Callable[..., Any]:
    return lambda user, password=TEST_PASSWORD: sign_in(client, user.email, password)


@pytest.fixture
def admin(app: Flask) -> User:
    return create_user(app, "admin@example.com", is_admin=True, full_name="Ada Admin")


@pytest.fixture
def admin_client(app: Flask, admin: User) -> FlaskClient:
    client = app.test_client()
    sign_in(client, admin.email)
    return client


def _has_own_migrations(app: Flask) -> bool:
    return any((info.migrations_dir / "versions").is_dir() and not info.bundled
               for info in app.extensions["mayak.plugins"].enabled)


@pytest.fixture
def make_app(app: Flask, database_url: str, tmp_path: Path, mayak_plugins: PluginTables | str | None,
             mayak_environ: dict[str, str]) -> Iterator[Callable[..., Flask]]:
    """Build another app on the same database. When the test ends, its in-process jobs are waited for and its
    connections closed before ``app`` empties the tables (``app`` is requested for that order: a job still running
    in a built app deadlocked the emptying, and each app's pool held connections until the run ran out of them).

    ``plugins``: the ``plugins.toml`` tables it enables (``{"hello": {"region": "RU"}}``; with ``"module": ...`` for
    a module that is not installed), written into the test's folder; each table is merged over the same plugin's
    table in ``mayak_plugins``, so a plugin's test changes one setting only; ``extra_plugins``: ``(name, module)`` pairs
    registered without settings; ``config``: Flask config overrides; keywords: environment values
    (``MAYAK_FETCH_ALLOW=...``, the variables its ``{ env = ... }`` settings name). ``migrate``: run core's and the
    plugins' migrations (default: when a plugin it enables that is not bundled has migrations of its own)."""
    counter = itertools.count(1)
    built_apps: list[Flask] = []

    def build(extra_plugins: list[tuple[str, ModuleType]] | None = None, config: dict[str, Any] | None = None,
              plugins: PluginTables | str | None = None, migrate: bool | None = None, **environ: str) -> Flask:
        extra = dict(mayak_environ)
        if isinstance(plugins, Mapping) and isinstance(mayak_plugins, Mapping):
            plugins = {**mayak_plugins, **{name: {**mayak_plugins.get(name, {}), **table}
                                           for name, table in plugins.items()}}
        if plugins is not None:
            extra["MAYAK_PLUGINS_FILE"] = str(write_plugins_file(tmp_path, plugins, f"plugins-{next(counter)}.toml"))
        env = app_environ(database_url, tmp_path / "instance", **{**extra, **environ})
        built = create_app({**TEST_CONFIG, **(config or {})}, environ=env, extra_plugins=extra_plugins or [])
        built_apps.append(built)
        if migrate or (migrate is None and _has_own_migrations(built)):
            migrate_app(built)
        return built

    yield build
    for built in built_apps:
        wait_for_jobs(built)
        dispose_engines(built)


def dispose_engines(app: Flask) -> None:
    """Close the connections ``app``'s engines hold in their pools."""
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()


def form_fields(html: str) -> dict[str, str]:
    """Hidden inputs of a page, to post a form the way the browser would."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
