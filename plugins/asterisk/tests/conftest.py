"""The asterisk plugin's test apps: the plugin enabled with an AMI secret and a routing token from the apps'
environment (the AMI address is set per test, to a fake manager interface on a loopback port), numbers read in
Russia's region as the PBX sends them.

The core's fixtures are imported from ``mayak.testing`` rather than named in ``pytest_plugins``: this folder sits
inside Mayak's own test run, where only the top-level conftest may declare plugins. Like the plugin, the tests use
only the public API. The folder is not a package, so its modules are named ``asterisk_*``/``test_asterisk_*`` to
stay unique in the whole run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from asterisk_fake import SECRET, TOKEN, FakeAmi, fake_ami
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from mayak.testing import (  # noqa: F401 (fixtures, registered by being imported)
    admin,
    admin_client,
    app,
    client,
    database_url,
    make_app,
    make_user,
    migrated_app,
)
from plugins.asterisk.provider import forget_calls_in_progress

SECRET_VARIABLE = "ASTERISK_TEST_AMI_SECRET"
TOKEN_VARIABLE = "ASTERISK_TEST_ROUTING_TOKEN"


@pytest.fixture(scope="session")
def mayak_plugins() -> dict[str, dict[str, object]]:
    return {"asterisk": {"module": "plugins.asterisk.plugin", "host": "127.0.0.1", "port": 9,
                         "secret": {"env": SECRET_VARIABLE}, "routing_token": {"env": TOKEN_VARIABLE},
                         "keepalive": 1}}


@pytest.fixture(scope="session")
def mayak_environ() -> dict[str, str]:
    return {SECRET_VARIABLE: SECRET, TOKEN_VARIABLE: TOKEN, "MAYAK_PHONE_REGION": "RU"}  # the PBX sends 79161234567


CATALOGUE = Path(__file__).resolve().parents[1] / "translations" / "ru" / "LC_MESSAGES" / "messages.po"


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogue() -> None:
    """The Russian catalogue compiled as ``make compile-translations`` does (the .mo is not kept in git), before
    any test app reads it."""
    compiled = CATALOGUE.with_suffix(".mo")
    if not compiled.exists() or compiled.stat().st_mtime < CATALOGUE.stat().st_mtime:
        with CATALOGUE.open("rb") as source, compiled.open("wb") as target:
            write_mo(target, read_po(source))


@pytest.fixture
def ami() -> Iterator[FakeAmi]:
    forget_calls_in_progress()  # every test's streams reuse the same Linkedids
    with fake_ami() as server:
        yield server
