"""Staged uploads: the one mechanism behind every upload → preview → confirm flow.

A flow stages what it read (`staged_upload_create`), shows a preview, and on confirmation
reads it back (`staged_upload_get`) and deletes it (`staged_upload_delete`). A staged
upload belongs to its owner alone (anyone else gets a 404, as for anything outside their
scope), is bounded in size, and expires after `PLANBLANC_STAGED_UPLOAD_HOURS` hours:
expired ones are refused when read and deleted whenever something new is staged.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc.core.models import StagedUpload
from planblanc.core.tabular import max_upload_bytes


def _ttl() -> datetime.timedelta:
    return datetime.timedelta(hours=float(getattr(settings, "PLANBLANC_STAGED_UPLOAD_HOURS", 12)))


def staged_upload_purge(*, now: datetime.datetime | None = None) -> int:
    """Delete every expired staged upload; returns how many."""
    deleted, _per_model = StagedUpload.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


def staged_upload_create(
    *, owner: Any, purpose: str, filename: str = "", content: bytes = b"", payload: dict[str, Any] | None = None,
    replace: bool = True,
) -> StagedUpload:
    """Stage a file (its bytes and/or what was read from it). With `replace`, the owner's
    earlier staged uploads for the same purpose are dropped (one pending file per flow)."""
    if len(content) > max_upload_bytes():
        raise ValidationError(_("The file is larger than %(size)s MB: split it into several files.")
                              % {"size": max_upload_bytes() // 2**20}, code="bad_file")
    staged_upload_purge()
    if replace:
        StagedUpload.objects.filter(owner=owner, purpose=purpose).delete()
    return StagedUpload.objects.create(
        token=secrets.token_urlsafe(32), owner=owner, purpose=purpose[:80], filename=filename[:255],
        size=len(content), sha256=hashlib.sha256(content).hexdigest() if content else "", content=content,
        payload=payload or {}, expires_at=timezone.now() + _ttl(),
    )


def staged_upload_get(*, owner: Any, purpose: str, token: str | None = None) -> StagedUpload:
    """The owner's live staged upload for this purpose (the given one, or the latest);
    Http404 when there is none, it belongs to someone else, or it has expired."""
    queryset = StagedUpload.objects.filter(
        owner_id=getattr(owner, "pk", None), purpose=purpose, expires_at__gt=timezone.now())
    if token is not None:
        queryset = queryset.filter(token=token)
    staged = queryset.order_by("-created_at", "-pk").first()
    if staged is None:
        raise Http404(_("No file is waiting to be imported: it was imported, cancelled or has expired."))
    return staged


def staged_upload_exists(*, pk: int | None) -> bool:
    return pk is not None and StagedUpload.objects.filter(pk=pk, expires_at__gt=timezone.now()).exists()


def staged_upload_delete(*, owner: Any, purpose: str, pk: int | None = None) -> None:
    queryset = StagedUpload.objects.filter(owner_id=getattr(owner, "pk", None), purpose=purpose)
    if pk is not None:
        queryset = queryset.filter(pk=pk)
    queryset.delete()
