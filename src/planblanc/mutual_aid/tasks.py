"""Thin task entry points: escalate the help requests nobody answered in time."""

from __future__ import annotations

from django.utils import timezone
from django_tasks import task

from planblanc.mutual_aid import services


@task()
def help_requests_escalate() -> int:
    """Take every due escalation step, then queue another wake-up for the next one."""
    taken = services.help_requests_escalate()
    due = services.help_requests_next_due_at()
    if due is not None:
        services.wake_escalation(run_after=max(due, timezone.now()))
    return taken
