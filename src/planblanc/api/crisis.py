"""Crisis console endpoints, over the same services, selectors and tenancy as the pages.
Outside the scope: 404; a read-only role writing: 403; bad input: 422. The logbook has
no update and no delete: a correction is a new entry with `corrects`."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Router, Schema

from planblanc import rights
from planblanc.api.types import InputDateTime
from planblanc.crisis import selectors, services
from planblanc.crisis.chain import logbook_verify
from planblanc.crisis.models import Crisis, CrisisTask, DepartmentStatus, LogbookEntry, SystemStatus

router = Router(tags=["crisis"])


class CrisisOut(Schema):
    id: int
    establishment_id: int
    establishment: str
    kind: str
    severity: str
    status: str
    is_exercise: bool
    first_facts: str
    declared_at: datetime.datetime
    declared_by: str
    closed_at: datetime.datetime | None
    head_seq: int
    head_hash: str
    revision: int
    may_run: bool


class EntryOut(Schema):
    seq: int
    at: datetime.datetime
    author: str
    kind: str
    text: str
    corrects: int | None
    attachments: list[dict[str, Any]]
    prev_hash: str
    entry_hash: str


class EntryIn(Schema):
    kind: str
    text: str
    corrects: int | None = None


class TaskOut(Schema):
    id: int
    title: str
    source: str
    sheet_title: str
    owner: str
    due_at: datetime.datetime | None
    status: str
    overdue: bool


class TaskIn(Schema):
    title: str
    owner: str = ""
    due_at: InputDateTime | None = None


class TaskStatusIn(Schema):
    status: str


class StatusRowOut(Schema):
    id: int
    name: str
    status: str
    note: str
    changed_at: datetime.datetime


class StatusBoardOut(Schema):
    departments: list[StatusRowOut]
    systems: list[StatusRowOut]


class StatusIn(Schema):
    status: str
    note: str = ""


class VerifyOut(Schema):
    ok: bool
    count: int
    head_hash: str
    bad_seq: int | None
    reason: str


def _crisis_out(request: HttpRequest, crisis: Crisis) -> dict[str, Any]:
    return {
        "id": crisis.pk, "establishment_id": crisis.establishment_id, "establishment": crisis.establishment.name,
        "kind": crisis.kind, "severity": crisis.severity, "status": crisis.status, "is_exercise": crisis.is_exercise,
        "first_facts": crisis.first_facts, "declared_at": crisis.declared_at, "declared_by": crisis.declared_by_label,
        "closed_at": crisis.closed_at, "head_seq": crisis.head_seq, "head_hash": crisis.head_hash,
        "revision": crisis.revision, "may_run": rights.may_run_crisis(request.user, crisis),
    }


def _entry_out(entry: LogbookEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq, "at": entry.at, "author": entry.author_label, "kind": entry.kind, "text": entry.text,
        "corrects": entry.corrects.seq if entry.corrects_id else None,  # type: ignore[union-attr]
        "attachments": [{"name": a.name, "size": a.size_bytes, "sha256": a.sha256} for a in entry.attachments.all()],
        "prev_hash": entry.prev_hash, "entry_hash": entry.entry_hash,
    }


def _task_out(task: CrisisTask) -> dict[str, Any]:
    return {
        "id": task.pk, "title": task.title, "source": task.source, "sheet_title": task.sheet_title,
        "owner": task.owner_label, "due_at": task.due_at, "status": task.status, "overdue": task.is_overdue(),
    }


def _row_out(row: DepartmentStatus | SystemStatus) -> dict[str, Any]:
    return {"id": row.pk, "name": row.name, "status": row.status, "note": row.note, "changed_at": row.changed_at}


@router.get("/", response=list[CrisisOut])
def crisis_list(request: HttpRequest, active: bool | None = None) -> list[dict[str, Any]]:
    """Crises in scope (newest first); `active=true` for the ongoing ones."""
    return [_crisis_out(request, c) for c in selectors.crisis_list_for_user(user=request.user, active=active)[:500]]


@router.get("/{crisis_id}", response=CrisisOut)
def crisis_read(request: HttpRequest, crisis_id: int) -> dict[str, Any]:
    return _crisis_out(request, selectors.crisis_for_user(user=request.user, crisis_id=crisis_id))


@router.get("/{crisis_id}/logbook", response=list[EntryOut])
def logbook_list(request: HttpRequest, crisis_id: int, since: int = 0) -> list[dict[str, Any]]:
    """Entries after number `since`, oldest first."""
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    return [_entry_out(e) for e in selectors.logbook_entries(crisis=crisis, since_seq=since)]


@router.post("/{crisis_id}/logbook", response={201: EntryOut})
def logbook_append(request: HttpRequest, crisis_id: int, payload: EntryIn) -> tuple[int, dict[str, Any]]:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    corrects = None
    if payload.corrects is not None:
        corrects = LogbookEntry.objects.filter(crisis=crisis, seq=payload.corrects).first()
        if corrects is None:
            raise ValidationError({"corrects": [_("There is no entry number %(seq)d.") % {"seq": payload.corrects}]})
    entry = services.logbook_append(actor=request.user, crisis=crisis, kind=payload.kind, text=payload.text,
                                    corrects=corrects)
    return 201, _entry_out(entry)


@router.api_operation(["PUT", "PATCH", "DELETE"], "/{crisis_id}/logbook/{seq}", response={405: dict})
def logbook_refuse_change(request: HttpRequest, crisis_id: int, seq: int) -> tuple[int, dict[str, str]]:
    """Refused: the logbook is append-only. Write a correction instead."""
    selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    return 405, {"detail": _("A logbook entry cannot be changed or deleted: add a correction that points to it.")}


@router.get("/{crisis_id}/verify", response=VerifyOut)
def verify(request: HttpRequest, crisis_id: int) -> dict[str, Any]:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    result = logbook_verify(crisis)
    return {"ok": result.ok, "count": result.count, "head_hash": result.head_hash, "bad_seq": result.bad_seq,
            "reason": result.reason}


@router.get("/{crisis_id}/tasks", response=list[TaskOut])
def task_list(request: HttpRequest, crisis_id: int) -> list[dict[str, Any]]:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    return [_task_out(t) for t in CrisisTask.objects.filter(crisis=crisis)]


@router.post("/{crisis_id}/tasks", response={201: TaskOut})
def task_create(request: HttpRequest, crisis_id: int, payload: TaskIn) -> tuple[int, dict[str, Any]]:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    task = services.task_create(actor=request.user, crisis=crisis, title=payload.title, owner_label=payload.owner,
                                due_at=payload.due_at)
    return 201, _task_out(task)


@router.post("/{crisis_id}/tasks/{task_id}/status", response=TaskOut)
def task_status(request: HttpRequest, crisis_id: int, task_id: int, payload: TaskStatusIn) -> dict[str, Any]:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    task = get_object_or_404(CrisisTask.objects.select_related("crisis__establishment"), pk=task_id, crisis=crisis)
    return _task_out(services.task_set_status(actor=request.user, task=task, status=payload.status))


@router.get("/{crisis_id}/status", response=StatusBoardOut)
def status_board(request: HttpRequest, crisis_id: int) -> dict[str, Any]:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    return {
        "departments": [_row_out(r) for r in DepartmentStatus.objects.filter(crisis=crisis)],
        "systems": [_row_out(r) for r in SystemStatus.objects.filter(crisis=crisis)],
    }


@router.post("/{crisis_id}/status/departments/{row_id}", response=StatusRowOut)
def department_status(request: HttpRequest, crisis_id: int, row_id: int, payload: StatusIn) -> dict[str, Any]:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    row = get_object_or_404(DepartmentStatus.objects.select_related("crisis__establishment"), pk=row_id, crisis=crisis)
    services.department_status_change(actor=request.user, row=row, status=payload.status, note=payload.note)
    return _row_out(row)


@router.post("/{crisis_id}/status/systems/{row_id}", response=StatusRowOut)
def system_status(request: HttpRequest, crisis_id: int, row_id: int, payload: StatusIn) -> dict[str, Any]:
    crisis = selectors.crisis_for_user(user=request.user, crisis_id=crisis_id)
    row = get_object_or_404(SystemStatus.objects.select_related("crisis__establishment"), pk=row_id, crisis=crisis)
    services.system_status_change(actor=request.user, row=row, status=payload.status, note=payload.note)
    return _row_out(row)

