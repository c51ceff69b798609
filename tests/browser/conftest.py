"""Real-browser journeys: the demo region served by a live server, driven in Debian's
Chromium through Playwright's sync API (Playwright never downloads a browser here).

Every page opened through `browse` is watched: a console error, an uncaught script
error, a Content-Security-Policy violation or a failed request to our own server
fails the test at the next `assert_clean()` (see support.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api

from tests.browser.support import CHROMIUM_ARGS, Watched

CHROMIUM = Path(os.environ.get("PLANBLANC_CHROMIUM", "/usr/bin/chromium"))


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    # Chromium and Playwright are declared test dependencies: missing, the run fails.
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM} (apt-get install chromium): real-browser journeys cannot run")
    # Playwright's sync API keeps an event loop in this thread, which Django's
    # async-safety check takes for async code: the test's own ORM calls are sync.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            yield browser
            browser.close()


@pytest.fixture
def site(chromium: Any, live_server: Any, transactional_db: Any) -> str:
    """The live server's address, with the demo region loaded."""
    from planblanc.core.demo import demo_load

    demo_load()
    return live_server.url


@pytest.fixture
def language_site(chromium: Any, live_server: Any, transactional_db: Any) -> str:
    """The live server's address, with an empty database."""
    return live_server.url


DESKTOP = {"width": 1600, "height": 900}


@pytest.fixture
def browse(chromium: Any) -> Iterator[Callable[..., Watched]]:
    """browse(site, **context_options) → a watched page in a fresh browser profile."""
    contexts: list[Any] = []

    def open_page(base_url: str, **options: Any) -> Watched:
        # A desktop screen unless told otherwise (the menu unfolds from 1400px).
        options = {"locale": "fr-FR", "timezone_id": "Europe/Paris", "viewport": DESKTOP, **options}
        context = chromium.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return Watched(context.new_page(), base_url)

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the phone journey keeps one picture per page (pytest's temporary tree)."""
    return tmp_path_factory.mktemp("screenshots")
