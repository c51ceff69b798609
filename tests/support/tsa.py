"""A timestamping authority on loopback that records each RFC 3161 query and answers
with a reply that is not a timestamp (the platform records the refusal)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import TracebackType


class LocalTimestampAuthority:
    def __init__(self) -> None:
        self.queries: list[tuple[str, bytes]] = []
        queries = self.queries

        class Authority(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                queries.append((self.headers["Content-Type"], body))
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.end_headers()
                self.wfile.write(b"not a timestamp reply")

            def log_message(self, *args: object) -> None:
                pass

        self._server = HTTPServer(("127.0.0.1", 0), Authority)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/tsa"

    def __enter__(self) -> LocalTimestampAuthority:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
