"""Thin task entry points of the crisis app."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import task


@task()
def logbook_anchor_tick() -> int:
    """Timestamp the heads that moved and send the digests that are due, then come back
    while a crisis is active (see crisis/anchoring.py)."""
    from planblanc.crisis.anchoring import crisis_digest_due, logbook_anchor_due

    done = logbook_anchor_due() + crisis_digest_due()
    logbook_anchor_schedule(after_seconds=_tick_seconds())
    return done


def _tick_seconds() -> int:
    periods = [s for s in (settings.LOGBOOK_ANCHOR_SECONDS, settings.CRISIS_DIGEST_SECONDS) if s > 0]
    return max(5, min(min(periods, default=300), 60))


def logbook_anchor_schedule(*, after_seconds: float = 0) -> bool:
    """Queue the tick unless one is queued already or no crisis is active."""
    from django_tasks_db.models import DBTaskResult

    from planblanc.crisis.models import Crisis, CrisisStatus

    if not Crisis.objects.filter(status=CrisisStatus.ACTIVE).exists():
        return False
    name = f"{logbook_anchor_tick.module_path}"
    if DBTaskResult.objects.filter(status="READY", task_path=name).exists():
        return False
    logbook_anchor_tick.using(run_after=timezone.now() + timedelta(seconds=after_seconds)).enqueue()
    return True
