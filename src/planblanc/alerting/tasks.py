"""Thin task entry points: wake a worker to send what is due (see services)."""

from __future__ import annotations

import os
import socket

from django.utils import timezone
from django_tasks import task

from planblanc.alerting import escalation, followup, services


@task()
def deliveries_process() -> int:
    """Send every due delivery; if some fall due later (retries, leases of a dead
    worker), queue another wake-up for then."""
    from planblanc.core.heartbeat import current_worker_id

    # The process's heartbeat id, so that the rows it claims go on at once if it dies.
    worker_id = current_worker_id() or f"task-{socket.gethostname()[:40]}-{os.getpid()}"
    escalation.escalations_process(worker_id=worker_id)
    followup.followups_process(worker_id=worker_id)
    sent = services.deliveries_process(worker_id=worker_id)
    due = min((t for t in (
        services.next_due_at(), escalation.escalation_next_due_at(), followup.followup_next_due_at(),
    ) if t), default=None)
    if due is not None:
        services.wake_workers(run_after=max(due, timezone.now()))
    return sent
