"""`planblanc demo`: everything on one laptop, in one process group.

Migrates the SQLite database under the data directory, loads the invented demo region,
then runs the web server and a background worker side by side until Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import BaseCommand, call_command

from planblanc.core.demo import DEMO_PASSWORD

# Without a relay configured, the demo's alerts go to a folder of .eml files (and voice
# calls to the log), so that declaring a crisis or sending an alert shows real messages
# with working acknowledgement links instead of failures against a missing relay.
DEMO_CHANNELS = json.dumps({
    "email": [{"name": "demo-mailbox", "kind": "mailbox"}],
    "voice": [{"name": "demo-voice", "kind": "voice_log"}],
    "webhook": [{"name": "webhook", "kind": "webhook"}],
})


def demo_alerting_env(environ: dict[str, str], url: str) -> dict[str, str]:
    """Channel and public-address settings for the demo's processes, unless given."""
    return {
        "PLANBLANC_CHANNELS": environ.get("PLANBLANC_CHANNELS") or DEMO_CHANNELS,
        "PLANBLANC_PUBLIC_URL": environ.get("PLANBLANC_PUBLIC_URL") or url.rstrip("/"),
    }


class Command(BaseCommand):
    help = "Run the demonstration: database, demo data, web server and worker."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--bind", default=settings.WEB_BIND)
        parser.add_argument("--no-serve", action="store_true", help="Prepare the data, then exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("load_demo", stdout=self.stdout)
        url = f"http://{options['bind']}/"
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Plan Blanc Numérique: {url}"))
        self.stdout.write(f"Data directory: {settings.DATA_DIR}")
        self.stdout.write(f"Password for every demo login: {DEMO_PASSWORD}")
        self.stdout.write("Administrator logins enrol an authenticator app (TOTP) at first login.")
        if options["no_serve"]:
            return
        env = {**os.environ, "PLANBLANC_DEMO": "1", "PLANBLANC_DATA_DIR": str(settings.DATA_DIR)}
        env.update(demo_alerting_env(env, url))
        if env["PLANBLANC_CHANNELS"] == DEMO_CHANNELS:
            self.stdout.write(f"Alert emails are written to {settings.DATA_DIR / 'demo-mailbox'} (.eml files).")
        base = [sys.executable, "-m", "planblanc"]
        children = [
            subprocess.Popen([*base, "serve", "--bind", options["bind"], "--workers", "2"], env=env),  # noqa: S603
            subprocess.Popen([*base, "worker"], env=env),  # noqa: S603
        ]
        self.stdout.write("Web server and worker started; Ctrl-C stops both.")

        def stop(*_args: Any) -> None:
            for child in children:
                if child.poll() is None:
                    child.terminate()

        signal.signal(signal.SIGTERM, stop)
        try:
            # If either dies, stop the other: a demo without its worker would silently lose alerts.
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            stop()
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
