"""The Zadarma plugin's test apps: a Russian installation (``l10n_ru``) with the plugin enabled with the protocol
notes' test key and secret, call times in Moscow's zone, and an API address nothing answers at (tests that talk to
the API build an app pointed at the loopback fake, ``zadarma_app``).

The core's fixtures are imported rather than named in ``pytest_plugins``: this folder sits inside Mayak's own test
run, where only the top-level conftest may declare plugins; imported here they are this folder's own (a migrated
app per database with this plugin enabled)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from mayak.testing import (  # noqa: F401 (fixtures, registered by being imported)
    admin,
    admin_client,
    app,
    client,
    database_url,
    login,
    make_app,
    make_user,
    migrated_app,
)
from plugins.zadarma.tests.zadarma_fake import KEY, SECRET, FakeZadarma, fake_zadarma

SECRET_VARIABLE = "ZADARMA_TEST_API_SECRET"
UNREACHABLE = "http://127.0.0.1:9"  # refused by the outbound guard (loopback is not allowed by default)


@pytest.fixture(scope="session")
def mayak_plugins() -> dict[str, dict[str, object]]:
    return {"l10n_ru": {}, "zadarma": {"api_key": KEY, "api_secret": {"env": SECRET_VARIABLE}, "api_url": UNREACHABLE,
                        "timezone": "Europe/Moscow"}}


@pytest.fixture(scope="session")
def mayak_environ() -> dict[str, str]:
    return {SECRET_VARIABLE: SECRET}


@pytest.fixture
def zadarma() -> Iterator[FakeZadarma]:
    with fake_zadarma() as account:
        yield account


@pytest.fixture
def zadarma_app(app: Flask, make_app: Callable[..., Flask], zadarma: FakeZadarma) -> Flask:  # noqa: F811
    """The plugin talking to the loopback fake of Zadarma's API (on the ``app`` fixture's database)."""
    return make_app(plugins={"zadarma": {"api_url": zadarma.url}}, MAYAK_FETCH_ALLOW="127.0.0.1")
