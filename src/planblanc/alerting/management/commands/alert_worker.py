"""`planblanc alert_worker`: claim and send due deliveries in a loop. Any number may run
on one or many machines. Each writes a heartbeat every second: a worker killed
mid-campaign leaves claimed rows that the others take over once its heartbeat is
PLANBLANC_ALERT_DEAD_WORKER_SECONDS old (or at the end of their lease,
PLANBLANC_ALERT_LEASE_SECONDS, for a claimer without a heartbeat). SIGTERM and
SIGINT stop it between two messages, so that a restart repeats none.

When a Matrix provider is configured, it also reads Matrix replies in a supervised
thread (alerting/matrix_bot.py): one worker of the deployment at a time does, through a
lease in the database; `--no-matrix` leaves that to `planblanc matrix_listen`."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management import BaseCommand

from planblanc.alerting.escalation import escalations_process
from planblanc.alerting.followup import followups_process
from planblanc.alerting.matrix_bot import LISTENER_POLL_SECONDS, listener_start
from planblanc.alerting.models import Delivery, DeliveryStatus
from planblanc.alerting.services import deliveries_process
from planblanc.core.heartbeat import heartbeat_start


class Command(BaseCommand):
    help = "Send alert deliveries (email, SMS, voice, webhooks) as they fall due."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--interval", type=float, default=0.5, help="Seconds between polls when idle.")
        parser.add_argument("--batch", type=int, default=600, help="Deliveries claimed at a time.")
        parser.add_argument(
            "--until-done", action="store_true",
            help="Exit once no delivery is queued or being sent (waiting for expired leases).",
        )
        parser.add_argument("--once", action="store_true", help="Send what is due now, then exit.")
        parser.add_argument(
            "--no-matrix", action="store_true", help="Do not read Matrix replies here (run matrix_listen instead).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        beat = heartbeat_start(kind="alert", on_error=lambda exc: self.stderr.write(f"heartbeat failed: {exc}"))
        try:
            total = self._loop(beat.worker_id, options)
        finally:
            beat.stop()
        if options["verbosity"] > 0:
            self.stdout.write(f"{total} deliveries handled")

    def _loop(self, worker_id: str, options: dict[str, Any]) -> int:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_args: stop.set())
        listener = None
        if not (options["no_matrix"] or options["once"] or options["until_done"]):
            listener = listener_start(stop=stop)
        try:
            return self._send(worker_id, options, stop)
        finally:
            stop.set()
            if listener is not None:
                listener.join(timeout=LISTENER_POLL_SECONDS + 5)

    def _send(self, worker_id: str, options: dict[str, Any], stop: threading.Event) -> int:
        total = 0
        while not stop.is_set():
            # Escalation steps first: each writes its messages into the outbox below.
            handled = escalations_process(worker_id=worker_id)
            handled += followups_process(worker_id=worker_id)
            handled += deliveries_process(worker_id=worker_id, limit=options["batch"], max_rounds=20, stop=stop)
            total += handled
            if handled:
                continue
            if options["once"]:
                break
            if options["until_done"] and not Delivery.objects.filter(
                status__in=(DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.HELD)
            ).exists():
                break
            stop.wait(options["interval"])
        return total
