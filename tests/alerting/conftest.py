from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.smtp import SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def fast_retries(settings: Any) -> Any:
    settings.ALERTING_RETRY_BASE_SECONDS = 0
    settings.ALERTING_MAX_ATTEMPTS = 4
    return settings


# Tests where a gateway (Kannel, a voice platform) calls the live server back while the
# test thread itself works in the database. On SQLite the test database lives in memory
# and the live server's thread shares the test thread's one connection, so the two
# interleave their savepoints; a server database gives each thread its own connection,
# as in production. The same tests run in the PostgreSQL pass of ./scripts/test.
needs_server_database = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="gateway callbacks into the live server need a server database (run with DATABASE_URL=postgres://…)",
)
