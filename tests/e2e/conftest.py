"""The one Chromium every browser test drives (Debian's, through Playwright), started once per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.support import chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as launched:
        yield launched
