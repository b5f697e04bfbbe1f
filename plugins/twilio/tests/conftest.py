"""The twilio plugin's tests: the core's fixtures (imported, not ``pytest_plugins``: this conftest is not at the
root of the repository's test run), a loopback Twilio REST API for the whole session, and test apps that enable
the plugin against it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from twilio_fake import FakeTwilio, serve
from twilio_support import ACCOUNT, FALLBACK, LINE, TOKEN

from mayak.testing import (  # noqa: F401 (fixtures and the markers' hook, registered for these tests)
    admin,
    admin_client,
    app,
    client,
    database_url,
    make_app,
    make_user,
    migrated_app,
    pytest_configure,
)


@pytest.fixture(scope="session")
def twilio_server() -> Iterator[FakeTwilio]:
    with serve(FakeTwilio(ACCOUNT, TOKEN, (LINE,))) as fake:
        yield fake


@pytest.fixture
def twilio_api(twilio_server: FakeTwilio) -> FakeTwilio:
    """The loopback Twilio, forgetting what earlier tests asked of it."""
    twilio_server.reset()
    return twilio_server


@pytest.fixture(scope="session")
def mayak_plugins(twilio_server: FakeTwilio) -> dict[str, dict[str, object]]:
    return {"l10n_ru": {}, "twilio": {"account_sid": ACCOUNT, "auth_token": {"env": "TWILIO_AUTH_TOKEN"},
                       "api_url": twilio_server.url, "caller_id": LINE, "fallback": FALLBACK, "ring_seconds": 20}}


@pytest.fixture(scope="session")
def mayak_environ() -> dict[str, str]:
    return {"TWILIO_AUTH_TOKEN": TOKEN, "MAYAK_FETCH_ALLOW": "127.0.0.1"}
