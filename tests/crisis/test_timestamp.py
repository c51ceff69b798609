"""RFC 3161 timestamping of the logbook head: nothing without PLANBLANC_TSA_URL; with
one, the request goes to that address (a loopback server here: tests never reach the
network) and a failure is recorded without breaking anything."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from planblanc.crisis.models import LogbookTimestamp
from planblanc.crisis.services import logbook_timestamp_head

pytestmark = pytest.mark.django_db


def test_it_does_nothing_without_an_authority(crisis, settings):
    settings.PLANBLANC_TSA_URL = ""
    assert logbook_timestamp_head(crisis=crisis) is None
    assert not LogbookTimestamp.objects.exists()


def test_it_sends_a_timestamp_query_and_records_a_refusal(crisis, settings):
    seen: list[tuple[str, bytes]] = []

    class Authority(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.headers["Content-Type"], body))
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.end_headers()
            self.wfile.write(b"not a timestamp reply")

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Authority)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings.PLANBLANC_TSA_URL = f"http://127.0.0.1:{server.server_port}/tsa"
        stamp = logbook_timestamp_head(crisis=crisis, timeout=5)
    finally:
        server.shutdown()
    assert seen and seen[0][0] == "application/timestamp-query"
    # The query's message imprint is the SHA-512 of the head hash (the builder's default).
    assert hashlib.sha512(bytes.fromhex(crisis.head_hash)).digest() in seen[0][1]
    assert stamp is not None and stamp.error and stamp.token is None
    assert stamp.seq == crisis.head_seq and stamp.entry_hash == crisis.head_hash


def test_it_refuses_an_address_that_is_not_http(crisis, settings):
    settings.PLANBLANC_TSA_URL = "file:///etc/passwd"
    stamp = logbook_timestamp_head(crisis=crisis)
    assert stamp is not None and "http" in stamp.error
