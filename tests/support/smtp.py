"""A real SMTP server (aiosmtpd) on loopback that records what it accepts and can be
told to answer some recipients with an error code."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from typing import Any

from aiosmtpd.controller import Controller

# aiosmtpd logs every command at INFO: thousands of lines per test.
logging.getLogger("mail.log").setLevel(logging.WARNING)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    rcpt: str
    message_id: str
    subject: str
    body: str


@dataclass
class Recorder:
    # address → the SMTP reply to give to RCPT TO (None: accept); called once per attempt.
    rcpt_answer: Callable[[str], str | None] | None = None
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Called after a message is recorded, before the 250 goes back.
    on_message: Callable[[int], None] | None = None
    # Awaited at each RCPT TO with the number of messages recorded so far.
    on_rcpt: Callable[[int], Awaitable[None]] | None = None
    # time.monotonic() of the last message recorded.
    last_received_at: float = 0.0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if self.on_rcpt:
            await self.on_rcpt(len(self.received))
        answer = self.rcpt_answer(address) if self.rcpt_answer else None
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append(Received(rcpt, str(message["Message-ID"]), str(message["Subject"]), text))
            count = len(self.received)
            self.last_received_at = time.monotonic()
        if self.on_message:
            self.on_message(count)
        return "250 Message accepted for delivery"

    def count_by_rcpt(self) -> Counter[str]:
        with self.lock:
            return Counter(r.rcpt for r in self.received)


class SmtpServer:
    def __init__(self, recorder: Recorder | None = None) -> None:
        self.recorder = recorder or Recorder()
        self.port = free_port()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.controller.stop()

    def provider(self, name: str, **options: Any) -> dict[str, Any]:
        return {"name": name, "kind": "smtp", "host": "127.0.0.1", "port": self.port, **options}
