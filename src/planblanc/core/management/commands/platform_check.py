"""`planblanc check`: is this installation able to work?"""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.core.management import BaseCommand, CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from planblanc.core.selectors import worker_status
from planblanc.core.tasks import ping


class Command(BaseCommand):
    help = "Check the database, migrations, configuration and (with --worker) a task round-trip."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--worker", action="store_true", help="Queue a task and wait for a worker to run it.")
        parser.add_argument("--timeout", type=float, default=30.0)
        parser.add_argument("--deploy", action="store_true", help="Also run Django's deployment checks.")

    def handle(self, *args: Any, **options: Any) -> None:
        problems: list[str] = []
        call_command("check", deploy=options["deploy"], stdout=self.stdout)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        self.stdout.write(f"database: ok ({connection.vendor})")
        pending = MigrationExecutor(connection).migration_plan(
            MigrationExecutor(connection).loader.graph.leaf_nodes()
        )
        if pending:
            raise CommandError(f"{len(pending)} migration(s) not applied: run `planblanc migrate`")
        else:
            self.stdout.write("migrations: ok")
        status = worker_status()
        self.stdout.write(f"workers alive: {status.workers_alive}, queued tasks: {status.queued}")
        if options["worker"]:
            token = uuid.uuid4().hex
            result = ping.enqueue(token)
            deadline = time.monotonic() + options["timeout"]
            while time.monotonic() < deadline:
                result.refresh()
                if result.is_finished:
                    break
                time.sleep(0.2)
            if result.is_finished and result.return_value == token:
                self.stdout.write(f"worker round-trip: ok ({result.status})")
            else:
                problems.append(f"no worker ran a queued task within {options['timeout']:.0f} s")
        if problems:
            raise CommandError("; ".join(problems))
        self.stdout.write(self.style.SUCCESS("everything works"))
