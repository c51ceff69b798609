"""`planblanc drill_reports`: staff who forward a phishing drill's message to the report
address (PLANBLANC_DRILL_REPORT_ADDRESS) have reported it.

Two ways in, whichever the mail system offers:
- files: `planblanc drill_reports MAILDIR_OR_FILES…` reads .eml files, directories and
  maildirs (new/ and cur/), e.g. the mailbox the report address delivers to; `--remove`
  deletes each file once read;
- SMTP: `planblanc drill_reports --listen [HOST:PORT]` (PLANBLANC_DRILL_REPORT_BIND by
  default) receives the forwards from the hospital's relay, taking only mail for the
  report address when one is set.

Each message is matched by the drill's signed per-person link found in it (the
forwarded body, an attached original or its headers); forged or expired links count for
nothing. Only the time of the report is recorded, never the message.

The listener runs until SIGTERM or SIGINT (a service manager's stop, Ctrl-C), then closes
its socket: a message being received is answered first."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management import BaseCommand, CommandError
from django.db import close_old_connections, connections

from planblanc.awareness import drills


def _files(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            subdirs = [path / "new", path / "cur"] if (path / "new").is_dir() else [path]
            for folder in subdirs:
                found += sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        else:
            raise CommandError(f"{name}: no such file or directory")
    return found


def _record(raw: bytes) -> drills.ForwardOutcome:
    # Runs in a pool thread of the listener, which lives for months between rare
    # messages: no connection is kept open in between (the database may restart, or
    # need to drop the connection), and a stale one is never reused.
    close_old_connections()
    try:
        return drills.forwarded_report_record(raw=raw)
    finally:
        connections.close_all()


class ReportHandler:
    """aiosmtpd handler: every message received is read as a forwarded report."""

    def __init__(self, address: str, on_outcome: Any = None) -> None:
        self.address = address.lower()
        self.on_outcome = on_outcome

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if self.address and address.lower() != self.address:
            return "550 5.1.1 not the report address"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if len(raw) > drills.MAX_FORWARD_BYTES:
            return "552 5.3.4 message too big"
        outcome = await sync_to_async(_record, thread_sensitive=False)(raw)
        if self.on_outcome:
            self.on_outcome(outcome)
        return "250 OK: thank you for reporting"


class Command(BaseCommand):
    help = "Record the phishing-drill messages that staff forwarded to the report address."

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The listener: `ready` once it accepts connections, stops once `stop` is set (by
        # SIGTERM or SIGINT when run as a process, or by whoever runs it in a thread).
        self.ready = threading.Event()
        self.stop = threading.Event()

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("paths", nargs="*", help=".eml files, directories or maildirs")
        parser.add_argument("--remove", action="store_true", help="Delete each file once read.")
        parser.add_argument("--listen", nargs="?", const=settings.AWARENESS_DRILL_REPORT_BIND, default=None,
                            metavar="HOST:PORT", help="Receive the forwards by SMTP instead.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["listen"]:
            self._listen(options["listen"])
            return
        if not options["paths"]:
            raise CommandError("name .eml files, directories or maildirs, or use --listen")
        total = drills.ForwardOutcome()
        for path in _files(options["paths"]):
            outcome = drills.forwarded_report_record(raw=path.read_bytes()[:drills.MAX_FORWARD_BYTES])
            total.reported += outcome.reported
            total.already += outcome.already
            total.unknown += outcome.unknown
            if options["remove"]:
                path.unlink()
        self.stdout.write(f"reported: {total.reported}, already reported: {total.already}, "
                          f"invalid or expired links: {total.unknown}")

    def _listen(self, bind: str) -> None:
        from aiosmtpd.controller import Controller

        host, _sep, port = bind.rpartition(":")
        if not port.isdigit():
            raise CommandError(f"{bind}: expected HOST:PORT")
        handler = ReportHandler(settings.AWARENESS_DRILL_REPORT_ADDRESS, on_outcome=self._outcome)
        host = host.strip("[]") or "127.0.0.1"
        controller = Controller(handler, hostname=host, port=int(port), data_size_limit=drills.MAX_FORWARD_BYTES)
        controller.start()
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda _signum, _frame: self.stop.set())
        self._say(f"listening on {host}:{port} for forwarded drill messages")
        self.ready.set()
        try:
            self.stop.wait()
        finally:
            controller.stop()
        self._say("stopped")

    def _outcome(self, outcome: drills.ForwardOutcome) -> None:
        self._say(f"reported: {outcome.reported}, already reported: {outcome.already}, "
                  f"invalid or expired links: {outcome.unknown}")

    def _say(self, line: str) -> None:
        # Flushed: a service manager's log (or a pipe) sees each line as it happens.
        self.stdout.write(line)
        self.stdout.flush()
