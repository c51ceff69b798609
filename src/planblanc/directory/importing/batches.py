"""The import services: upload and preview, cancel, confirm."""


from __future__ import annotations

import hashlib
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils.translation import gettext as _

from planblanc.actors import Actor
from planblanc.core import staging
from planblanc.directory.importing.checks import CHECKERS, errors_of, import_check
from planblanc.directory.importing.columns import KIND_PERM, STAGING_PURPOSE
from planblanc.directory.importing.reading import file_error, header_find, match_columns, read_table
from planblanc.directory.importing.writing import import_write
from planblanc.directory.models import (
    Establishment,
    ImportBatch,
    ImportKind,
    ImportStatus,
)
from planblanc.tenancy import has_perm_somewhere, scope_for


def _require_perm(actor: Actor, kind: str, establishment: Establishment | None) -> None:
    perm = KIND_PERM[kind]
    allowed = (
        scope_for(actor, perm).covers(establishment) if establishment is not None
        else has_perm_somewhere(actor, perm)
    )
    if not allowed:
        raise PermissionDenied(_("You are not allowed to make this change."))



def directory_import_upload(
    *, actor: Actor, kind: str, filename: str, content: bytes, establishment: Establishment | None = None
) -> ImportBatch:
    """Read and check a file; store it as a pending batch for its preview. Writes nothing
    to the directory. A file that cannot be read raises ValidationError and stores nothing."""
    if kind not in ImportKind.values:
        raise ValidationError(_("Unknown kind of import."))
    _require_perm(actor, kind, establishment)
    table = read_table(filename=filename, content=content)
    optional = ["finess"] if kind == ImportKind.PEOPLE and establishment is not None else []
    header, data = header_find(kind, table)
    match = match_columns(kind=kind, header=header, optional=optional)
    rows = []
    for line, cells in data:
        row = {key: cells[position] if position < len(cells) else ""
               for position, key in match.keys.items()}
        rows.append({"line": line, "cells": row})
    if not rows:
        raise file_error(_("The file has a header line but no data lines."))
    batch = ImportBatch(
        kind=kind, uploaded_by=actor, establishment=establishment, filename=filename[:255],
        sha256=hashlib.sha256(content).hexdigest(), columns=list(match.labels.items()),
        row_count=len(rows), summary={"ignored_columns": match.ignored},
    )
    errors = errors_of(CHECKERS[batch.kind](
        actor=actor, labels=dict(batch.columns), establishment=batch.establishment).check_all(rows))
    with transaction.atomic():
        batch.staged = staging.staged_upload_create(
            owner=actor, purpose=STAGING_PURPOSE, filename=filename, payload={"rows": rows}, replace=False)
        batch.errors = errors
        batch.save()
    return batch


def _expire_stale(user: Any) -> None:
    """Pending batches whose staged rows expired (and were purged) count as cancelled."""
    staging.staged_upload_purge()
    ImportBatch.objects.filter(
        uploaded_by_id=getattr(user, "pk", None), status=ImportStatus.PENDING, staged__isnull=True
    ).update(status=ImportStatus.CANCELLED, errors=[])


def import_batch_for_user(*, user: Any, pk: int, pending: bool = False) -> ImportBatch:
    """A batch is its uploader's alone: anyone else gets a 404."""
    _expire_stale(user)
    queryset = ImportBatch.objects.filter(uploaded_by_id=getattr(user, "pk", None)).select_related(
        "establishment", "staged")
    if pending:
        queryset = queryset.filter(status=ImportStatus.PENDING)
    try:
        return queryset.get(pk=pk)
    except ImportBatch.DoesNotExist as exc:
        raise Http404 from exc


def import_batch_list(*, user: Any, limit: int = 10) -> list[ImportBatch]:
    _expire_stale(user)
    return list(ImportBatch.objects.filter(uploaded_by_id=getattr(user, "pk", None)).defer("errors")[:limit])


class ImportChanged(ValidationError):
    """The directory changed between the preview and the confirmation."""


def directory_import_cancel(*, actor: Actor, batch: ImportBatch) -> None:
    if batch.uploaded_by_id != actor.pk or batch.status != ImportStatus.PENDING:
        raise Http404
    with transaction.atomic():
        ImportBatch.objects.filter(pk=batch.pk, status=ImportStatus.PENDING).update(
            status=ImportStatus.CANCELLED, errors=[]
        )
        staging.staged_upload_delete(owner=actor, purpose=STAGING_PURPOSE, pk=batch.staged_id)


def directory_import_apply(*, actor: Actor, batch: ImportBatch, only_good_rows: bool) -> dict[str, Any]:
    """Write the batch's good rows in one transaction with one audit entry.

    Refuses (ValidationError, nothing written) when bad rows remain and `only_good_rows`
    is false, and when checking again finds other bad lines than the preview showed
    (ImportChanged: the batch's errors are updated so that the preview shows them)."""
    if batch.uploaded_by_id != actor.pk:
        raise Http404
    _require_perm(actor, batch.kind, batch.establishment)
    already_done = _("This import has already been confirmed or cancelled.")
    summary: dict[str, Any] | None = None
    try:
        with transaction.atomic():
            # Claim the batch with a conditional UPDATE (it locks the row on PostgreSQL and
            # the database on SQLite): a double click or a second tab imports once.
            claimed = ImportBatch.objects.filter(pk=batch.pk, status=ImportStatus.PENDING).update(
                status=ImportStatus.PENDING
            )
            if not claimed:
                raise ValidationError(already_done)
            locked = ImportBatch.objects.select_related("establishment", "staged").get(pk=batch.pk)
            checks = import_check(actor=actor, batch=locked)
            errors = errors_of(checks)
            changed = [e["line"] for e in errors] != [e["line"] for e in locked.errors]
            good = [check for check in checks if not check.problems]
            if not changed and good and (not errors or only_good_rows):
                summary = import_write(actor=actor, batch=locked, good=good, errors=errors)
    except IntegrityError as exc:  # someone created the same FINESS or email meanwhile
        raise ImportChanged(
            _("The directory changed since the preview: check the lines again before importing.")
        ) from exc
    if changed:
        ImportBatch.objects.filter(pk=batch.pk, status=ImportStatus.PENDING).update(errors=errors)
        batch.errors = errors
        raise ImportChanged(_("The directory changed since the preview: check the lines again before importing."))
    if summary is None:
        if not good:
            raise ValidationError(_("No line of this file can be imported."))
        raise ValidationError(_("The file still has bad lines: correct them, or import only the good lines."))
    batch.refresh_from_db()
    return summary
