from typing import Any

from django.core.management import BaseCommand

from planblanc.accounts.audit import request_context
from planblanc.actors import command
from planblanc.core.demo import DEMO_PASSWORD, demo_load
from planblanc.readiness import loader as referential_loader
from planblanc.readiness import services as readiness_services


class Command(BaseCommand):
    help = "Load the invented demonstration region (does nothing if already loaded)."

    def handle(self, *args: Any, **options: Any) -> None:
        with request_context(via="cli"):
            logins = demo_load()
            # The bundled referentials (ANSSI hygiene, CaRE, governance, NIS), so that the
            # readiness pages have something to assess; loading again only updates them.
            referentials, _warnings = readiness_services.referentials_load(
                paths=referential_loader.bundled_paths(), actor=command("load_demo"),
            )
        self.stdout.write(f"Referentials loaded: {len(referentials)}")
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}):")
        for login in logins:
            self.stdout.write(f"  {login.username:<16} {login.role:<20} {login.scope}")
