"""PDF from our own HTML and CSS (WeasyPrint), shared by every printable document: the
plan's paper kit, the crisis logbook, regulatory notifications, lessons-learned reports.

Nothing is fetched while printing: these documents are printed when the network may be
down, and their content must not depend on (or leak to) any server. Only inline data:
URLs are read; anything else is an error, found by the tests rather than at 3 a.m."""

from __future__ import annotations

import logging
from typing import Any

# WeasyPrint logs a line per page at INFO level: a CHU's 116-page kit would flood the log.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)


def _offline_url_fetcher() -> Any:
    # WeasyPrint is slow to import: loaded only when a PDF is made.
    from weasyprint.urls import URLFetcher

    class OfflineURLFetcher(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            if not url.startswith("data:"):
                raise ValueError(f"printing fetches nothing over the network or disk: {url}")
            return super().fetch(url, headers)

    return OfflineURLFetcher(allowed_protocols={"data"})


def render_pdf(*, html: str, css: str) -> bytes:
    """The document `html` laid out with the stylesheet `css`, as PDF bytes."""
    # WeasyPrint is slow to import: loaded only when a PDF is made.
    from weasyprint import CSS, HTML

    fetcher = _offline_url_fetcher()
    content: bytes = HTML(string=html, url_fetcher=fetcher, base_url=None).write_pdf(
        stylesheets=[CSS(string=css, url_fetcher=fetcher)]
    )
    return content
