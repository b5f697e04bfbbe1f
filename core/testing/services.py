"""Finding the PostgreSQL and Redis servers tests talk to, and throwaway databases on them."""

from __future__ import annotations

import os
import socket
import uuid
from contextlib import suppress
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"


def services_required() -> bool:
    """On CI (``MAYAK_TEST_REQUIRE_SERVICES=1``) a missing server fails the test instead of skipping it."""
    return os.environ.get("MAYAK_TEST_REQUIRE_SERVICES") == "1"


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url.replace("postgresql+psycopg", "postgresql"))
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def unavailable(what: str, url: str) -> None:
    message = f"{what} is not reachable at {url}: start it (see README, Tests) to run this test"
    if services_required():
        pytest.fail(message)
    pytest.skip(message)


def postgres_admin_url() -> str:
    return os.environ.get("MAYAK_TEST_POSTGRES_URL", DEFAULT_POSTGRES)


def redis_url() -> str:
    url = os.environ.get("MAYAK_TEST_REDIS_URL", DEFAULT_REDIS)
    if not _reachable(url, 6379):
        unavailable("Redis", url)
    return url


def postgres_available() -> bool:
    return _reachable(postgres_admin_url(), 5432)


def create_postgres_database(prefix: str = "mayak_test") -> str:
    """Create an empty database and return its URL."""
    admin = postgres_admin_url()
    if not postgres_available():
        unavailable("PostgreSQL", admin)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    name = make_url(url).database
    engine = create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
    with suppress(Exception), engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()
