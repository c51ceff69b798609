"""A Kannel smsbox `sendsms` endpoint on loopback that records each request as Kannel
would receive it (the query string, decoded as Kannel decodes it) and accepts it: the
exact bytes of an SMS as the Kannel provider sends them, without a running Kannel."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class SendSms:
    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.raw_queries: list[bytes] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                query = urlsplit(self.path).query
                recorder.raw_queries.append(query.encode("ascii"))
                recorder.requests.append({k: v[0] for k, v in parse_qs(query, encoding="utf-8").items()})
                body = b"0: Accepted for delivery"
                self.send_response(202)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SendSms:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def provider(self, name: str = "kannel", **options: Any) -> dict[str, Any]:
        return {
            "name": name, "kind": "kannel", "url": f"http://127.0.0.1:{self.port}/cgi-bin/sendsms",
            "username": "planblanc", "password": "sms-password", "from": "PlanBlanc",
            "callback_url": "http://127.0.0.1:9", "secret": "mo-secret-for-tests", **options,
        }

    def texts_to(self, number: str) -> list[str]:
        return [r["text"] for r in self.requests if r.get("to") == number]
