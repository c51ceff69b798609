"""Thin task entry point: send the awareness reminders that are due (see services)."""

from __future__ import annotations

import datetime
import logging

from django.utils import timezone
from django_tasks import task

logger = logging.getLogger(__name__)


@task()
def reminders_run() -> int:
    """Send every reminder due, then queue the next pass for the next reminder day."""
    from planblanc.awareness import services

    reminded = services.reminders_process()
    upcoming = services.reminders_next_due()
    if upcoming is not None:
        at = timezone.make_aware(datetime.datetime.combine(upcoming, datetime.time(8, 0)))
        reminders_wake(run_after=max(at, timezone.now() + datetime.timedelta(hours=1)))
    return reminded


def reminders_wake(*, run_after: datetime.datetime | None = None) -> None:
    """Queue a reminder pass (now or at `run_after`) unless one is queued for then already."""
    from django_tasks_db.models import DBTaskResult

    try:
        queued = DBTaskResult.objects.filter(status="READY", task_path=reminders_run.module_path)
        if run_after is not None and queued.filter(run_after__lte=run_after).exists():
            return
        (reminders_run.using(run_after=run_after) if run_after else reminders_run).enqueue()
    except Exception:  # the reminders also go out at the next pass or by `planblanc awareness_remind`
        logger.exception("could not queue the awareness reminders")
