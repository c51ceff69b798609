"""`planblanc serve`: the production web server (gunicorn), never runserver."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management import BaseCommand


class Command(BaseCommand):
    help = "Serve the web application with gunicorn."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--bind", default=os.environ.get("PLANBLANC_BIND", "127.0.0.1:8000"))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("PLANBLANC_WEB_WORKERS", "2")))
        parser.add_argument("--threads", type=int, default=int(os.environ.get("PLANBLANC_WEB_THREADS", "4")))

    def handle(self, *args: Any, **options: Any) -> None:
        command = [
            sys.executable, "-m", "gunicorn", "planblanc.wsgi:application",
            "--bind", options["bind"], "--workers", str(options["workers"]), "--threads", str(options["threads"]),
            "--worker-class", "gthread", "--timeout", "60", "--graceful-timeout", "20",
            "--access-logfile", "-", "--forwarded-allow-ips", os.environ.get("PLANBLANC_FORWARDED_ALLOW_IPS", "127.0.0.1"),
        ]
        os.execv(sys.executable, command)  # noqa: S606  (replace this process: signals go straight to gunicorn)
