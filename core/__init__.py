"""Mayak CRM core: :func:`create_app` builds the Flask application."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import make_url

from core.config import Settings, load_settings
from core.services.work import deal_totals

__version__ = "0.1.0"
SETTINGS_KEY = "mayak.settings"


# Connections a process keeps open: one per thread that works at once (mayak serve's 8 web threads, the job thread
# and the scheduler). With fewer (SQLAlchemy's default is 5), the connections beyond them were opened and closed for
# every request: a new PostgreSQL backend, or SQLite's pragmas run again, per page.
POOL_SIZE = 10


def _engine_options(database_url: str) -> dict[str, Any]:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        options: dict[str, Any] = {"connect_args": {"timeout": 30, "check_same_thread": False}}
        if url.database not in (None, "", ":memory:"):  # a file: a queue of connections (memory: one, shared)
            options["pool_size"] = POOL_SIZE
        return options
    return {"pool_pre_ping": True, "pool_recycle": 1800, "pool_size": POOL_SIZE}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers work while one writer writes; busy_timeout makes writers wait instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # 64 MiB of page cache instead of SQLite's 2 MiB: with 100k contacts the indexes outgrow 2 MiB, and a bulk
    # import then spent most of its time re-reading index pages
    cursor.execute("PRAGMA cache_size=-65536")
    # copy the write-ahead log into the database every 64 MiB rather than every 4 MiB: bulk writes (imports)
    # otherwise rewrite the same index pages at every other commit
    cursor.execute("PRAGMA wal_autocheckpoint=16384")
    cursor.close()


def _check_services(settings: Settings) -> None:
    """Stop start-up with one line when the database or Redis cannot be reached."""
    from redis import Redis
    from redis.exceptions import AuthenticationError, RedisError, ResponseError
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from core.db import db
    from core.errors import StartupError

    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        url = make_url(settings.database_url).render_as_string(hide_password=True)
        raise StartupError(
            f"the database at {url} is unreachable ({reason}); start it or fix MAYAK_DATABASE_URL"
        ) from exc
    if settings.redis_url:
        # Redis refusing the password or the database is a setting to fix; Redis not answering is an outage: pages
        # work without it, jobs wait in the database, and `mayak worker` waits for it to come back
        try:
            Redis.from_url(settings.redis_url, socket_connect_timeout=2).ping()
        except (AuthenticationError, ResponseError) as exc:
            raise StartupError(f"Redis (REDIS_URL) refused the connection ({exc}); fix REDIS_URL") from exc
        except RedisError as exc:
            logging.getLogger("mayak").warning(
                "Redis (REDIS_URL) is unreachable (%s); jobs wait in the database until it answers", exc)


def create_app(
    config: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    extra_plugins: Iterable[tuple[str, ModuleType]] = (),
) -> Flask:
    """Build the app from the environment (``MAYAK_*``), ``plugins.toml`` and optional config overrides.

    Raises :class:`core.errors.StartupError` with one line when anything is misconfigured.
    """
    # reference_cache: its listeners replace the generation tokens on every write, in every process that builds the
    # app (a worker or a command that changes a user must tell the web processes)
    from core import hooks, jobs, logs, reference_cache  # noqa: F401
    from core.api.app import init_api
    from core.db import db
    from core.i18n import init_i18n, installation_defaults
    from core.plugins.facades import EXTENSION_KEY, REGISTRY_KEY, Registry
    from core.plugins.manager import MayakPlugins
    from core.services.platform import storage
    from core.themes import init_themes
    from core.web import init_web

    settings: Settings = load_settings(dict(environ) if environ is not None else None)
    logs.configure(dict(environ) if environ is not None else None)  # MAYAK_LOG_FORMAT=json: one JSON object a line
    app = Flask("core", instance_path=str(settings.instance_path), static_folder="static", template_folder=None)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings.database_url),
        REDIS_URL=settings.redis_url,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.behind_tls,
        SESSION_COOKIE_NAME="mayak_session",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.behind_tls,
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=True,
        MAX_CONTENT_LENGTH=settings.upload_max_mb * 1024 * 1024,  # imports; attachments have their own limit
        IMPORT_KEEP_DAYS=settings.import_keep_days,
        PREFERRED_URL_SCHEME="https" if settings.behind_tls else "http",
    )
    if config:
        app.config.update(config)
    app.extensions[SETTINGS_KEY] = settings

    db.init_app(app)
    deal_totals.install()
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
        _check_services(settings)
        storage.check(settings)  # MAYAK_STORAGE=s3: the bucket answers to the key given, or start-up stops
    from core.web.security import REDIRECT_ORIGINS_KEY

    app.extensions[REDIRECT_ORIGINS_KEY] = storage.redirect_origins(settings)  # presigned downloads' bucket

    manager = MayakPlugins(settings.plugins_file, environ=environ)
    with app.app_context():  # plugin settings may be checked against the installation's (MAYAK_FETCH_ALLOW)
        manager.load(hooks, extra=extra_plugins)
    app.extensions[EXTENSION_KEY] = manager
    with app.app_context():  # register_* hooks may read their plugin's settings through the facades
        app.extensions[REGISTRY_KEY] = Registry(manager)
        init_themes(app, settings, manager)
        settings = installation_defaults(settings)
        app.extensions[SETTINGS_KEY] = settings
        init_i18n(app, settings, manager)
        jobs.init_app(app)
        init_web(app)
        init_api(app)
        from core.commands import CORE_COMMANDS
        from core.db import command_unit_of_work

        for command in [*CORE_COMMANDS, *manager.collect("register_commands")]:
            app.cli.add_command(command_unit_of_work(command))  # one unit of work per command
    return app


