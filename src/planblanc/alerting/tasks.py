"""Thin task entry points: wake a worker to send what is due (see services)."""

from __future__ import annotations

import logging
import os
import socket

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from planblanc.alerting import escalation, followup, services
from planblanc.alerting.matrix_bot import crisis_room_open as open_room
from planblanc.alerting.matrix_bot import matrix_options
from planblanc.core.heartbeat import current_worker_id


@task()
def deliveries_process() -> int:
    """Send every due delivery; if some fall due later (retries, leases of a dead
    worker), queue another wake-up for then."""
    # The process's heartbeat id, so that the rows it claims go on at once if it dies.
    worker_id = current_worker_id() or f"task-{socket.gethostname()[:40]}-{os.getpid()}"
    escalation.escalations_process(worker_id=worker_id)
    followup.followups_process(worker_id=worker_id)
    sent = services.deliveries_process(worker_id=worker_id)
    due = min((t for t in (
        services.next_due_at(), escalation.escalation_next_due_at(), followup.followup_next_due_at(),
    ) if t), default=None)
    if due is not None:
        services.workers_wake(run_after=max(due, timezone.now()))
    return sent


@task()
def crisis_room_open(crisis_id: int) -> str | None:
    """Open the crisis's Matrix room with its cell invited, and post the alert there."""
    return open_room(crisis_id=crisis_id)


def crisis_room_requested(*, crisis_id: int) -> None:
    """Called when a crisis is declared: if the Matrix provider opens crisis rooms
    (option crisis_rooms), queue it (the homeserver is not called inside the
    declaration's transaction)."""
    options = matrix_options()
    if not options or not options.get("crisis_rooms"):
        return

    def enqueue() -> None:
        try:
            crisis_room_open.enqueue(crisis_id)
        except Exception:  # the crisis is declared; the room can be opened by hand

            logging.getLogger(__name__).exception("could not queue the crisis room")

    transaction.on_commit(enqueue)
