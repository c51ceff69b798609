"""`planblanc matrix_listen`: the Matrix (Tchap) bot reads replies and answers them
(acknowledgements with arrival time, `!mc` logbook entries, `!etat`). Run one per
deployment; it reconnects by itself. SIGTERM/SIGINT stop it after the current sync."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management import BaseCommand, CommandError

from planblanc.alerting.matrix_bot import MatrixListener, matrix_options


class Command(BaseCommand):
    help = "Read and answer replies in Matrix (Tchap) rooms."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--poll-seconds", type=int, default=30, help="Long-poll length of each sync.")

    def handle(self, *args: Any, **options: Any) -> None:
        config = matrix_options()
        if config is None:
            raise CommandError("No Matrix provider in PLANBLANC_CHANNELS ({\"matrix\": [{\"kind\": \"matrix\", …}]}).")
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_args: stop.set())
        listener = MatrixListener(config)
        listener.run(stop=stop, timeout_ms=options["poll_seconds"] * 1000)
        self.stdout.write(f"{listener.handled} messages handled")
