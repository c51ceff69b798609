"""Exercise endpoints: kits, exercises, injects (CRUD) and the chronogramme in its JSON
format (data/chronogramme-format.md). The same services and tenancy as the pages:
outside the scope 404, a read-only role writing 403, bad input 422 with messages."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Body, Router, Schema, Status

from planblanc import rights
from planblanc.api.types import InputDateTime
from planblanc.directory.models import Establishment, Person
from planblanc.exercises import chronogramme as chrono
from planblanc.exercises import selectors, services
from planblanc.exercises.kits import kits
from planblanc.exercises.models import Exercise, Inject
from planblanc.tenancy import get_for_user

router = Router(tags=["exercises"])


class KitOut(Schema):
    slug: str
    title: str
    level: str
    duration_minutes: int
    format: str
    cells: list[str]
    objectives: list[str]
    inject_count: int


class ExerciseOut(Schema):
    id: int
    establishment_id: int
    title: str
    kit_slug: str
    maturity_level: str
    status: str
    planned_start: datetime.datetime | None
    counts_for_obligation: bool
    inject_count: int


class ExerciseIn(Schema):
    establishment_id: int
    kit_slug: str = ""
    title: str = ""
    planned_start: InputDateTime | None = None


class ReactionOut(Schema):
    description: str
    deadline_minutes: int | None
    criterion: str | None


class InjectOut(Schema):
    id: int
    number: int
    phase: str
    offset_minutes: int | None
    at: datetime.datetime | None
    channel: str
    kind: str
    sender: str
    target_cell: str
    target_role: str
    subject: str
    content: str
    attachments: list[str]
    animator_id: int | None
    comment: str
    deliverable: str
    after: list[int]
    expected_reactions: list[ReactionOut]


class InjectIn(Schema):
    number: int | None = None
    phase: str = ""
    offset_minutes: int | None = None
    at: InputDateTime | None = None
    channel: str = "email"
    kind: str = "structuring"
    sender: str = ""
    target_cell: str = ""
    target_role: str = ""
    subject: str = ""
    content: str = ""
    attachments: list[str] = []
    animator_id: int | None = None
    comment: str = ""
    deliverable: str = ""
    after: list[int] = []


class ImportOut(Schema):
    imported: int
    errors: list[str]
    warnings: list[str]


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _exercise_out(exercise: Exercise) -> dict[str, Any]:
    return {
        "id": exercise.pk, "establishment_id": exercise.establishment_id, "title": exercise.title,
        "kit_slug": exercise.kit_slug, "maturity_level": exercise.maturity_level, "status": exercise.status,
        "planned_start": exercise.planned_start, "counts_for_obligation": exercise.counts_for_obligation,
        "inject_count": getattr(exercise, "inject_count", None) or exercise.injects.count(),
    }


def _inject_out(inject: Inject) -> dict[str, Any]:
    return {
        "id": inject.pk, "number": inject.number, "phase": inject.phase,
        "offset_minutes": int(inject.offset.total_seconds()) // 60 if inject.offset is not None else None,
        "at": inject.scheduled_at, "channel": inject.channel, "kind": inject.kind, "sender": inject.sender,
        "target_cell": inject.target_cell, "target_role": inject.target_role, "subject": inject.subject,
        "content": inject.content, "attachments": list(inject.attachments or []), "animator_id": inject.animator_id,
        "comment": inject.comment, "deliverable": inject.deliverable,
        "after": sorted(d.number for d in inject.dependencies.all()),
        "expected_reactions": [
            {"description": r.description,
             "deadline_minutes": int(r.deadline.total_seconds()) // 60 if r.deadline is not None else None,
             "criterion": r.criterion.area if r.criterion else None}
            for r in inject.expected_reactions.all()
        ],
    }


def _inject_data(exercise: Exercise, payload: InjectIn) -> tuple[dict[str, Any], list[Inject]]:
    if payload.offset_minutes is None and payload.at is None:
        raise ValidationError({"offset_minutes": _("Give the time from the start or an absolute time.")})
    animator = None
    if payload.animator_id is not None:
        animator = Person.objects.filter(pk=payload.animator_id).first()
        if animator is None:
            raise ValidationError({"animator": _("The animator must belong to the establishment.")})
    by_number = {i.number: i for i in exercise.injects.all()}
    missing = [n for n in payload.after if n not in by_number]
    if missing:
        raise ValidationError({"dependencies": _("Depends on inject %(number)d, which does not exist.")
                               % {"number": missing[0]}})
    data: dict[str, Any] = {
        "phase": payload.phase, "channel": payload.channel, "kind": payload.kind, "sender": payload.sender,
        "target_cell": payload.target_cell, "target_role": payload.target_role, "subject": payload.subject,
        "content": payload.content, "attachments": payload.attachments, "animator": animator,
        "comment": payload.comment, "deliverable": payload.deliverable,
        "offset": datetime.timedelta(minutes=payload.offset_minutes) if payload.offset_minutes is not None else None,
        "scheduled_at": payload.at if payload.offset_minutes is None else None,
    }
    if payload.number is not None:
        data["number"] = payload.number
    return data, [by_number[n] for n in payload.after]


def _exercise(request: HttpRequest, exercise_id: int) -> Exercise:
    return selectors.exercise_get_for_user(user=_user(request), pk=exercise_id)


@router.get("/kits", response=list[KitOut])
def kit_list(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {"slug": k.slug, "title": k.title, "level": k.level, "duration_minutes": k.duration_minutes,
         "format": k.format, "cells": k.cells, "objectives": k.objectives, "inject_count": len(k.injects)}
        for k in kits().values()
    ]


@router.get("/kits/{slug}/chronogramme", response=dict[str, Any])
def kit_chronogramme(request: HttpRequest, slug: str) -> dict[str, Any]:
    kit = kits().get(slug)
    if kit is None:
        from django.http import Http404

        raise Http404
    return kit.as_chronogramme()


@router.get("/", response=list[ExerciseOut])
def exercise_list(request: HttpRequest, establishment_id: int | None = None) -> list[dict[str, Any]]:
    establishment = None
    if establishment_id is not None:
        establishment = get_for_user(_user(request), Establishment, pk=establishment_id)
    return [_exercise_out(e) for e in selectors.exercise_list(user=_user(request), establishment=establishment)]


@router.post("/", response={201: ExerciseOut})
def exercise_create(request: HttpRequest, payload: ExerciseIn) -> Status:
    user = _user(request)
    establishment = get_for_user(user, Establishment, pk=payload.establishment_id)
    if payload.kit_slug:
        exercise = services.exercise_create_from_kit(
            actor=user, establishment=establishment, kit_slug=payload.kit_slug, title=payload.title,
            start=payload.planned_start,
        )
    else:
        exercise = services.exercise_create(
            actor=user, establishment=establishment, title=payload.title or _("New exercise"),
            planned_start=payload.planned_start,
        )
    return Status(201, _exercise_out(exercise))


@router.get("/{exercise_id}", response=ExerciseOut)
def exercise_detail(request: HttpRequest, exercise_id: int) -> dict[str, Any]:
    return _exercise_out(_exercise(request, exercise_id))


@router.get("/{exercise_id}/injects", response=list[InjectOut])
def inject_list(request: HttpRequest, exercise_id: int) -> list[dict[str, Any]]:
    exercise = _exercise(request, exercise_id)
    return [_inject_out(i) for i in selectors.injects_in_order(exercise=exercise)]


@router.post("/{exercise_id}/injects", response={201: InjectOut})
def inject_create(request: HttpRequest, exercise_id: int, payload: InjectIn) -> Status:
    exercise = _exercise(request, exercise_id)
    data, dependencies = _inject_data(exercise, payload)
    inject = services.inject_create(actor=_user(request), exercise=exercise, data=data, dependencies=dependencies)
    return Status(201, _inject_out(inject))


@router.get("/{exercise_id}/injects/{inject_id}", response=InjectOut)
def inject_detail(request: HttpRequest, exercise_id: int, inject_id: int) -> dict[str, Any]:
    exercise = _exercise(request, exercise_id)
    return _inject_out(selectors.inject_get_for_user(user=_user(request), exercise=exercise, pk=inject_id))


@router.put("/{exercise_id}/injects/{inject_id}", response=InjectOut)
def inject_update(request: HttpRequest, exercise_id: int, inject_id: int, payload: InjectIn) -> dict[str, Any]:
    exercise = _exercise(request, exercise_id)
    inject = selectors.inject_get_for_user(user=_user(request), exercise=exercise, pk=inject_id)
    data, dependencies = _inject_data(exercise, payload)
    return _inject_out(services.inject_update(actor=_user(request), inject=inject, data=data,
                                              dependencies=dependencies))


@router.delete("/{exercise_id}/injects/{inject_id}", response={204: None})
def inject_delete(request: HttpRequest, exercise_id: int, inject_id: int) -> Status:
    exercise = _exercise(request, exercise_id)
    inject = selectors.inject_get_for_user(user=_user(request), exercise=exercise, pk=inject_id)
    services.inject_delete(actor=_user(request), inject=inject)
    return Status(204, None)


@router.get("/{exercise_id}/chronogramme", response=dict[str, Any])
def chronogramme_export(request: HttpRequest, exercise_id: int) -> dict[str, Any]:
    return chrono.export_json(_exercise(request, exercise_id))


@router.post("/{exercise_id}/chronogramme", response={200: ImportOut, 422: ImportOut})
def chronogramme_import(
    request: HttpRequest, exercise_id: int, document: dict[str, Any] = Body(...),  # noqa: B008
    replace: bool = False, only_good_rows: bool = False,
) -> Status:
    """Import a chronogramme in the JSON format; nothing is saved while errors remain
    unless only_good_rows=true."""
    user = _user(request)
    exercise = _exercise(request, exercise_id)
    if not rights.may_edit_exercise(user, exercise):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied(_("You are not allowed to prepare exercises for this establishment."))
    used = set() if replace else set(exercise.injects.values_list("number", flat=True))
    try:
        result = chrono.read_json(document, used_numbers=used)
    except chrono.ChronogrammeFileError as exc:
        return Status(422, {"imported": 0, "errors": [str(exc)], "warnings": []})
    warnings = [str(w) for w in result.warnings]
    if result.errors and not only_good_rows:
        return Status(422, {"imported": 0, "errors": [str(e) for e in result.errors], "warnings": warnings})
    created = services.chronogramme_import(
        actor=user, exercise=exercise, chronogramme=result, only_good_rows=only_good_rows, replace=replace,
    )
    return Status(200, {"imported": len(created), "errors": [str(e) for e in result.errors], "warnings": warnings})


