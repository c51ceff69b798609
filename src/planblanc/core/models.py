from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """One row per background worker process, touched every few seconds, so that the
    interface can say when background work has stopped."""

    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=200)
    pid = models.IntegerField()
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.hostname}:{self.pid}"
