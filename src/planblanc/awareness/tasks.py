"""Thin task entry points: send the awareness reminders that are due, and run a launch's
preparation and invitations a few seconds at a time (see services)."""

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


# A launch's task works this long, then queues itself again: a national launch (minutes
# of writing) never holds a worker's queue for long, and other tasks run in between.
LAUNCH_SLICE_SECONDS = 20.0


@task()
def launch_run(launch_id: int) -> bool:
    """Run a launch's steps for a slice of time; queue the rest. True if work remains."""
    from planblanc.awareness import services

    remains = services.launch_run(launch_id=launch_id, seconds=LAUNCH_SLICE_SECONDS)
    if remains:
        launch_wake(launch_id=launch_id)
    return remains


def launch_wake(*, launch_id: int) -> None:
    """Queue the launch's task unless one is queued already (an extra one finds nothing)."""
    from django_tasks_db.models import DBTaskResult

    try:
        queued = DBTaskResult.objects.filter(status="READY", task_path=launch_run.module_path)
        if any(args.get("args") == [launch_id] for args in queued.values_list("args_kwargs", flat=True)[:100]):
            return
        launch_run.enqueue(launch_id)
    except Exception:  # a worker's start queues every unfinished launch again
        logger.exception("could not queue the awareness launch %s", launch_id)


def launches_wake_unfinished() -> None:
    """At a worker's start: launches left half done by a worker that died go on."""
    from planblanc.awareness import services

    for launch_id in services.launches_unfinished():
        launch_wake(launch_id=launch_id)
