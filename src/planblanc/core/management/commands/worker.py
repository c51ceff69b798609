"""`planblanc worker`: the Django tasks database worker, plus a heartbeat row that the
interface reads to warn when background work has stopped.

The exercises' queue (live runs firing their injects) has a loop of its own in every
worker, beside the loop of the other tasks: a campaign being sent, a PDF being built or
an import being applied never makes an inject of a running exercise late."""

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
        from planblanc.exercises.run import EXERCISES_QUEUE, wake_run_worker_if_live

        wake_run_worker_if_live()
        # Crises left active: their logbook timestamps and digests go on.
        from planblanc.crisis.tasks import logbook_anchor_schedule

        logbook_anchor_schedule()
        # Phishing drills left half sent: their outbox goes on.
        from planblanc.awareness.drills import drill_wake_if_due

        drill_wake_if_due()
        # Awareness launches left half prepared or half invited: their steps go on.
        from planblanc.awareness.tasks import launches_wake_unfinished

        launches_wake_unfinished()
        # Regional exercises left half prepared: the establishments not done yet are prepared.
        from planblanc.exercises.regional import regional_preparations_wake

        regional_preparations_wake()
        exercises = None
        worker_options: dict[str, Any] = {
            "queue_name": options["queue_name"], "interval": options["interval"], "batch": options["batch"],
            "reload": False, "worker_id": worker_id[:64], "startup_delay": False,
            "verbosity": options["verbosity"],
        }
        if options["queue_name"] == "*" and not options["batch"] and not options["max_tasks"]:
            exercises = exercises_loop_start(worker_id=worker_id, interval=min(options["interval"], 0.5))
            worker_options["exclude_queues"] = EXERCISES_QUEUE
        try:
            if options["max_tasks"]:
                worker_options["max_tasks"] = options["max_tasks"]
            call_command("db_worker", **worker_options)
        finally:
            if exercises is not None:
                exercises.running = False
            beat.stop()


def exercises_loop_start(*, worker_id: str, interval: float) -> Any:
    """Serve the exercises' queue in a thread of its own; returns its loop (set
    `running` to False to stop it after the current task)."""
    import threading

    from django.db import connection
    from django_tasks_db.management.commands.db_worker import Worker

    from planblanc.exercises.run import EXERCISES_QUEUE

    loop = Worker(
        queue_names=[EXERCISES_QUEUE], interval=interval, batch=False, backend_name="default",
        startup_delay=False, max_tasks=None, worker_id=f"{worker_id[:55]}-exercises", excluded_queue_names=[],
    )

    def run() -> None:
        try:
            loop.run()
        finally:
            connection.close()

    threading.Thread(target=run, name="exercises-queue", daemon=True).start()
    return loop
