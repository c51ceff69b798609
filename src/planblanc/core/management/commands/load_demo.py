from typing import Any

from django.core.management import BaseCommand

from planblanc.accounts.audit import request_context
from planblanc.core.demo import DEMO_PASSWORD, demo_load


class Command(BaseCommand):
    help = "Load the invented demonstration region (does nothing if already loaded)."

    def handle(self, *args: Any, **options: Any) -> None:
        with request_context(via="cli"):
            logins = demo_load()
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}):")
        for login in logins:
            self.stdout.write(f"  {login.username:<16} {login.role:<20} {login.scope}")
