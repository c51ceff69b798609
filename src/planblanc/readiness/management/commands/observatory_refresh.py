"""Refresh what the observatory reads precomputed: every white plan's completeness score.

The gap rules depend on time (a restore test grows old) and on the establishment's
departments, which change outside the plan's services: run this nightly.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from planblanc.plans.services import plan_completeness_refresh_all


class Command(BaseCommand):
    help = "Recompute the completeness score kept on every white plan (for the observatory)."

    def handle(self, *args: Any, **options: Any) -> None:
        done = plan_completeness_refresh_all()
        self.stdout.write(f"{done} plans refreshed.")
