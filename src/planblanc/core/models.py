from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


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


class BackupKind(models.TextChoices):
    BACKUP = "backup", _("Backup")
    RESTORE_DRILL = "restore_drill", _("Restore drill")


class BackupRecord(models.Model):
    """A backup written, or a restore drill run (the archive restored elsewhere and
    checked), so that administrators see when each last happened and whether it
    worked. Written by planblanc.core.backup only."""

    kind = models.CharField(_("kind"), max_length=20, choices=BackupKind.choices)
    ok = models.BooleanField(_("succeeded"), default=True)
    archive = models.CharField(_("archive"), max_length=500, blank=True)
    size_bytes = models.BigIntegerField(_("size"), default=0)
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"))
    # Row counts per table in the snapshot (backup) or found after restoring (drill).
    tables = models.JSONField(default=dict)
    detail = models.TextField(_("detail"), blank=True)

    class Meta:
        ordering = ["-finished_at", "-id"]
        indexes = [models.Index(fields=["kind", "ok", "finished_at"], name="backup_last")]

    def __str__(self) -> str:
        return f"{self.kind} {self.finished_at:%Y-%m-%d %H:%M}"


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
