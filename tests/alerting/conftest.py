from __future__ import annotations

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
