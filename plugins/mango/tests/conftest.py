"""The mango plugin's test apps: the plugin enabled with its key and salt from the apps' environment, its API
address pointing at a loopback Mango (``mango_loopback``) that the guarded ``fetch`` may reach.

Mayak's fixtures are taken from ``mayak.testing`` by name (``pytest_plugins`` only works in the top conftest,
and this folder is collected beside Mayak's own tests too); defined here, they give this folder apps of its own.
``app`` is Mayak's: every table is emptied after each test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from mango_loopback import MangoServer
from mango_support import KEY, SALT

from mayak.testing import (  # noqa: F401  (fixtures, found by pytest by name)
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


@pytest.fixture(scope="session")
def mango_server() -> Iterator[MangoServer]:
    server = MangoServer(KEY, SALT).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mayak_plugins(mango_server: MangoServer) -> dict[str, Any]:
    return {"mango": {"api_key": {"env": "MANGO_API_KEY"}, "api_salt": {"env": "MANGO_API_SALT"},
                      "api_url": mango_server.url, "route_incoming": True}}


@pytest.fixture(scope="session")
def mayak_environ() -> dict[str, str]:
    return {"MANGO_API_KEY": KEY, "MANGO_API_SALT": SALT, "MAYAK_FETCH_ALLOW": "127.0.0.1"}


@pytest.fixture
def mango(mango_server: MangoServer) -> MangoServer:
    """The loopback Mango, emptied for the test."""
    return mango_server.reset()
