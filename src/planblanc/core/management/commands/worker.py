"""`planblanc worker`: the Django tasks database worker, plus a heartbeat row that the
interface reads to warn when background work has stopped."""

from __future__ import annotations

from typing import Any

from django.core.management import BaseCommand, call_command

from planblanc.core.heartbeat import heartbeat_start


class Command(BaseCommand):
    help = "Run a background worker (several may run, on one or many machines)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--interval", type=float, default=0.5, help="Seconds between polls when idle.")
        parser.add_argument("--batch", action="store_true", help="Run what is queued, then exit.")
        parser.add_argument("--max-tasks", type=int, default=None)
        parser.add_argument("--queue-name", default="*")

    def handle(self, *args: Any, **options: Any) -> None:
        beat = heartbeat_start(kind="task", on_error=lambda exc: self.stderr.write(f"heartbeat failed: {exc}"))
        worker_id = beat.worker_id
        # Exercises left running by a worker that died: queue their worker step again.
        from planblanc.exercises.run import wake_run_worker_if_live

        wake_run_worker_if_live()
        # Crises left active: their logbook timestamps and digests go on.
        from planblanc.crisis.tasks import logbook_anchor_schedule

        logbook_anchor_schedule()
        # Phishing drills left half sent: their outbox goes on.
        from planblanc.awareness.drills import drill_wake_if_due

        drill_wake_if_due()
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
            beat.stop()
