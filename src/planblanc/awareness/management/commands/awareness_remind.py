"""`planblanc awareness_remind`: send the awareness reminders due today (safe to run while
workers run the same pass: each campaign's reminder is claimed once)."""

from __future__ import annotations

from typing import Any

from django.core.management import BaseCommand


class Command(BaseCommand):
    help = "Send the awareness campaigns' reminders that are due (once per campaign)."

    def handle(self, *args: Any, **options: Any) -> None:
        from planblanc.awareness import services

        reminded = services.reminders_process()
        self.stdout.write(f"{reminded} people reminded")
