"""What the alerting services call without importing it: the task that sends
(alerting/tasks.py) and what follows an acknowledgement (the escalation stops), both
registered by AlertingConfig.ready."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

logger = logging.getLogger(__name__)


# Registered by AlertingConfig.ready: these services never import the task or the
# escalation module, which import them.
_delivery_task: Any = None
_acknowledgement_listeners: list[Callable[..., object]] = []


def delivery_task_register(task: Any) -> None:
    global _delivery_task
    _delivery_task = task


def acknowledgement_listener_register(listener: Callable[..., object]) -> None:
    """`listener(campaign_id=…, by=…)` is called after each first acknowledgement."""
    if listener not in _acknowledgement_listeners:
        _acknowledgement_listeners.append(listener)


def workers_wake(run_after: datetime | None = None) -> None:
    """Queue a wake-up of the delivery workers (now, or at `run_after`)."""
    if _delivery_task is None:
        logger.warning("no delivery task registered: the alert worker's polling will send")
        return
    try:
        if run_after is None:
            _delivery_task.enqueue()
        else:
            _delivery_task.using(run_after=run_after).enqueue()
    except Exception:  # the rows are safe in the outbox; `alert_worker` polls for them anyway
        logger.exception("could not enqueue the delivery task")


def acknowledgement_notify(*, campaign_id: int, by: str) -> None:
    """Tell the listeners of a first acknowledgement (an escalation's message stops it)."""
    for listener in _acknowledgement_listeners:
        listener(campaign_id=campaign_id, by=by)
