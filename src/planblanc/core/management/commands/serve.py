"""`planblanc serve`: the production web server (gunicorn), never runserver."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.conf import settings
from django.core.management import BaseCommand


class Command(BaseCommand):
    help = "Serve the web application with gunicorn."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--bind", default=settings.WEB_BIND)
        parser.add_argument("--workers", type=int, default=settings.WEB_WORKERS)
        parser.add_argument("--threads", type=int, default=settings.WEB_THREADS)

    def handle(self, *args: Any, **options: Any) -> None:
        command = [
            sys.executable, "-m", "gunicorn", "planblanc.wsgi:application",
            "--bind", options["bind"], "--workers", str(options["workers"]), "--threads", str(options["threads"]),
            "--worker-class", "gthread", "--timeout", "60", "--graceful-timeout", "20",
            "--access-logfile", "-", "--forwarded-allow-ips", settings.WEB_FORWARDED_ALLOW_IPS,
        ]
        os.execv(sys.executable, command)  # noqa: S606  (replace this process: signals go straight to gunicorn)
