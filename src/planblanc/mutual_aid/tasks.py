"""Thin task entry points: escalate the help requests nobody answered in time."""

from __future__ import annotations

import datetime
import logging

from django.utils import timezone
from django_tasks import task

from planblanc.mutual_aid import services

logger = logging.getLogger(__name__)


@task()
def help_requests_escalate() -> int:
    """Take every due escalation step, then queue another wake-up for the next one."""
    taken = services.help_requests_escalate()
    due = services.help_requests_next_due_at()
    if due is not None:
        wake_escalation(run_after=max(due, timezone.now()))
    return taken


def wake_escalation(run_after: datetime.datetime | None = None) -> None:
    """Queue the escalation task for when the next answer is due (the pages and the API
    call it after a new request). The requests' state is in their rows: a lost wake-up
    is caught by the next one."""
    try:
        if run_after is None:
            help_requests_escalate.enqueue()
        else:
            help_requests_escalate.using(run_after=run_after).enqueue()
    except Exception:
        logger.exception("could not enqueue the help-request escalation task")
