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
nothing. Only the time of the report is recorded, never the message."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management import BaseCommand, CommandError

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
        outcome = await sync_to_async(drills.forwarded_report_record, thread_sensitive=False)(raw=raw)
        if self.on_outcome:
            self.on_outcome(outcome)
        return "250 OK: thank you for reporting"


class Command(BaseCommand):
    help = "Record the phishing-drill messages that staff forwarded to the report address."

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
        handler = ReportHandler(settings.AWARENESS_DRILL_REPORT_ADDRESS,
                                on_outcome=lambda o: self.stdout.write(f"reported: {o.reported}"))
        controller = Controller(handler, hostname=host or "127.0.0.1", port=int(port),
                                data_size_limit=drills.MAX_FORWARD_BYTES)
        controller.start()
        self.stdout.write(f"listening on {host}:{port} for forwarded drill messages")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()
            asyncio.set_event_loop(None)
