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


class StagedUpload(models.Model):
    """A file (or what was read from it) between its upload, its preview and its
    confirmation: every upload→preview→confirm flow keeps it here, never on disk or in the
    session. Only its owner reads it (core.staging), and it expires: expired rows are
    deleted at the next upload and refused when read. It may hold personal data, so the
    flows delete it as soon as the import is confirmed or cancelled."""

    token = models.CharField(max_length=43, unique=True)
    owner = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=80)
    filename = models.CharField(max_length=255, blank=True)
    size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    content = models.BinaryField(blank=True, default=b"")
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "purpose"])]

    def __str__(self) -> str:
        return f"{self.purpose}: {self.filename}"
