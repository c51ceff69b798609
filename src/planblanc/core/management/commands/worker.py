"""`planblanc worker`: the Django tasks database worker, plus a heartbeat row that the
interface reads to warn when background work has stopped."""

from __future__ import annotations

import os
import socket
import threading
from typing import Any

from django.core.management import BaseCommand, call_command
from django.db import close_old_connections, connection
from django.utils import timezone
from django.utils.crypto import get_random_string

from planblanc.core.models import WorkerHeartbeat

HEARTBEAT_SECONDS = 5


class Command(BaseCommand):
    help = "Run a background worker (several may run, on one or many machines)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--interval", type=float, default=0.5, help="Seconds between polls when idle.")
        parser.add_argument("--batch", action="store_true", help="Run what is queued, then exit.")
        parser.add_argument("--max-tasks", type=int, default=None)
        parser.add_argument("--queue-name", default="*")

    def handle(self, *args: Any, **options: Any) -> None:
        worker_id = f"{socket.gethostname()[:40]}-{os.getpid()}-{get_random_string(6)}"
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(worker_id, stop), daemon=True)
        self._beat_once(worker_id, started=True)
        beat.start()
        # Exercises left running by a worker that died: queue their worker step again.
        from planblanc.exercises.run import wake_run_worker_if_live

        wake_run_worker_if_live()
        try:
            worker_options: dict[str, Any] = {
                "queue_name": options["queue_name"], "interval": options["interval"], "batch": options["batch"],
                "reload": False, "worker_id": worker_id[:64], "startup_delay": False,
                "verbosity": options["verbosity"],
            }
            if options["max_tasks"]:
                worker_options["max_tasks"] = options["max_tasks"]
            call_command("db_worker", **worker_options)
        finally:
            stop.set()
            beat.join(timeout=2)
            WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()

    def _beat_once(self, worker_id: str, *, started: bool = False) -> None:
        now = timezone.now()
        defaults: dict[str, Any] = {"last_seen_at": now, "hostname": socket.gethostname()[:200], "pid": os.getpid()}
        if started:
            defaults["started_at"] = now
        WorkerHeartbeat.objects.update_or_create(
            worker_id=worker_id, defaults=defaults, create_defaults={**defaults, "started_at": now}
        )

    def _heartbeat(self, worker_id: str, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                self._beat_once(worker_id)
            except Exception as exc:  # a missed beat is shown in the UI; never kill the worker
                self.stderr.write(f"heartbeat failed: {exc}")
            finally:
                close_old_connections()
        connection.close()
