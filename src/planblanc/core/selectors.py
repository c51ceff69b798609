from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from planblanc.core.models import WorkerHeartbeat


@dataclass(frozen=True)
class WorkerStatus:
    workers_alive: int
    last_seen_at: datetime.datetime | None
    oldest_queued_at: datetime.datetime | None
    queued: int

    @property
    def healthy(self) -> bool:
        return self.workers_alive > 0

    @property
    def oldest_queued_age_seconds(self) -> int | None:
        if self.oldest_queued_at is None:
            return None
        return int((timezone.now() - self.oldest_queued_at).total_seconds())


def worker_status() -> WorkerStatus:
    stale_before = timezone.now() - datetime.timedelta(seconds=settings.WORKER_STALE_AFTER_SECONDS)
    heartbeats = WorkerHeartbeat.objects.all()
    last = heartbeats.order_by("-last_seen_at").values_list("last_seen_at", flat=True).first()
    ready = DBTaskResult.objects.filter(status="READY")
    return WorkerStatus(
        workers_alive=heartbeats.filter(last_seen_at__gte=stale_before).count(),
        last_seen_at=last,
        oldest_queued_at=ready.order_by("enqueued_at").values_list("enqueued_at", flat=True).first(),
        queued=ready.count(),
    )
