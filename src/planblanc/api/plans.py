"""White plan endpoints: the same forms (for parsing durations and phone numbers), the
same services and the same tenancy as the pages. Outside the scope: 404; a read-only
role writing: 403; bad input: 422 with a message per field."""

from __future__ import annotations

import datetime
from enum import Enum
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpRequest
from django.utils.duration import duration_iso_string
from django.utils.translation import gettext as _
from ninja import Body, Router, Schema

from planblanc import rights
from planblanc.directory.models import Establishment
from planblanc.plans import selectors, services
from planblanc.plans.forms import PARTS, PlanCellForm, ReflexItemForm, people_of
from planblanc.plans.models import Plan, PlanVersion, ReflexSheet, Seat
from planblanc.tenancy import get_for_user

router = Router(tags=["plans"])

PartName = Enum("PartName", {key: key for key in PARTS}, type=str)  # type: ignore[misc]


class GapOut(Schema):
    code: str
    severity: str
    message: str
    section: str
    item: str


class VersionOut(Schema):
    number: int
    approved_at: datetime.datetime
    approved_by: str
    note: str
    snapshot_sha256: str


class VersionDetailOut(VersionOut):
    snapshot: dict[str, Any]


class PlanOut(Schema):
    establishment_id: int
    establishment: str
    cell: dict[str, Any]
    score: int
    blocking_count: int
    gaps: list[GapOut]
    counts: dict[str, int]
    latest_version: VersionOut | None
    draft_changed_at: datetime.datetime
    may_edit: bool
    may_approve: bool


class PlanRowOut(Schema):
    establishment_id: int
    establishment: str
    has_plan: bool
    score: int | None
    blocking_count: int
    approved_at: datetime.datetime | None
    version: int | None


class ApproveIn(Schema):
    note: str = ""


class DeputiesIn(Schema):
    person_ids: list[int]


class ChangeOut(Schema):
    section: str
    item: str
    change: str
    fields: dict[str, Any]


class CompareOut(Schema):
    left: str
    right: str
    left_approved_by: str | None
    right_approved_by: str | None
    changes: list[ChangeOut]


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _plan(user: Any, establishment_id: int, *, write: bool = False) -> Plan:
    plan = selectors.plan_for_user(user=user, establishment_id=establishment_id)
    if write and not rights.may_edit_plan(user, plan):
        raise PermissionDenied(_("You are not allowed to change this plan."))
    return plan


def _version_out(version: PlanVersion) -> dict[str, Any]:
    return {
        "number": version.number, "approved_at": version.approved_at, "approved_by": version.approved_by_label,
        "note": version.note, "snapshot_sha256": version.snapshot_sha256,
    }


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.timedelta):
        return duration_iso_string(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def _part_out(instance: models.Model) -> dict[str, Any]:
    out: dict[str, Any] = {"id": instance.pk}
    for field in instance._meta.concrete_fields:
        if field.name in ("id", "plan"):
            continue
        out[field.attname] = _plain(getattr(instance, field.attname))
    for field in instance._meta.many_to_many:
        out[f"{field.name}_ids"] = sorted(obj.pk for obj in getattr(instance, field.name).all())
    if isinstance(instance, Seat):
        out["deputies"] = [{"person_id": d.person_id, "rank": d.rank} for d in instance.deputies.all()]
    if isinstance(instance, ReflexSheet):
        out["items"] = [
            {"phase": i.phase, "order": i.order, "text": i.text, "due_minutes": i.due_minutes,
             "becomes_task": i.becomes_task}
            for i in instance.items.order_by("phase", "order", "id")
        ]
    return out


def _form_values(form_class: Any, instance: models.Model) -> dict[str, Any]:
    """The instance's current values as form data, so that PATCH changes only what is sent."""
    data: dict[str, Any] = {}
    for name in form_class._meta.fields:
        field = instance._meta.get_field(name)
        if field.many_to_many:
            data[name] = [obj.pk for obj in getattr(instance, name).all()] if instance.pk else []
        elif isinstance(field, models.ForeignKey):
            data[name] = getattr(instance, field.attname) or ""
        else:
            value = getattr(instance, name)
            data[name] = "" if value is None else (duration_iso_string(value) if isinstance(value, datetime.timedelta) else value)
    return data


def _bind(form_class: Any, instance: models.Model, payload: dict[str, Any], **kwargs: Any) -> Any:
    """A bound form from the instance's values and the payload; 422 on unknown fields or bad values."""
    payload = dict(payload)
    for name in list(payload):
        if name.endswith("_id") and name[:-3] in form_class._meta.fields:
            payload[name[:-3]] = payload.pop(name)
        elif name.endswith("_ids") and name[:-4] in form_class._meta.fields:
            payload[name[:-4]] = payload.pop(name)
    unknown = sorted(set(payload) - set(form_class._meta.fields))
    if unknown:
        raise ValidationError({name: [_("Unknown field.")] for name in unknown})
    data = {**_form_values(form_class, instance), **{k: "" if v is None else v for k, v in payload.items()}}
    form = form_class(data, instance=instance, **kwargs)
    if not form.is_valid():
        raise ValidationError({name: list(errors) for name, errors in form.errors.items()})
    return form


def _part_instance(user: Any, plan: Plan, part: str, part_id: int) -> Any:
    return get_for_user(user, PARTS[part].model._default_manager.filter(plan=plan), pk=part_id)


def _sheet_items(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise ValidationError({"items": [_("A list of actions is expected.")]})
    items = []
    for index, entry in enumerate(raw, start=1):
        form = ReflexItemForm({"becomes_task": True, **(entry if isinstance(entry, dict) else {})})
        if not form.is_valid():
            messages = [f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()]
            raise ValidationError({"items": [_("Action %(n)d: %(error)s") % {"n": index, "error": " ".join(messages)}]})
        items.append({k: form.cleaned_data[k] for k in ("phase", "text", "due_minutes", "becomes_task")})
    return items


def _save_part(user: Any, plan: Plan, part: str, instance: models.Model, payload: dict[str, Any]) -> Any:
    spec = PARTS[part]
    if part == "reflex_sheets":
        payload = dict(payload)
        raw_items = payload.pop("items", None)
        form = _bind(spec.form, instance, payload, plan=plan)
        items = _sheet_items(raw_items) if raw_items is not None else [
            {"phase": i.phase, "text": i.text, "due_minutes": i.due_minutes, "becomes_task": i.becomes_task}
            for i in instance.items.order_by("phase", "order", "id")  # type: ignore[attr-defined]
        ] if instance.pk else []
        return services.reflex_sheet_save(actor=user, plan=plan, sheet=form.instance, data=form.cleaned_data,
                                          items=items)
    form = _bind(spec.form, instance, payload, plan=plan)
    data, m2m = form.service_data()
    return services.plan_part_save(actor=user, plan=plan, instance=form.instance, data=data, m2m=m2m)


# Plans -------------------------------------------------------------------------------------

@router.get("/", response=list[PlanRowOut])
def list_plans(request: HttpRequest, sort: str = "name") -> Any:
    sort = sort if sort in selectors.PLAN_LIST_SORTS else "name"
    return [
        {"establishment_id": row.establishment.pk, "establishment": row.establishment.name,
         "has_plan": row.plan is not None, "score": row.score, "blocking_count": row.blocking_count,
         "approved_at": row.approved_at, "version": row.version_number}
        for row in selectors.plan_list_for_user(user=_user(request), sort=sort)
    ]


def _plan_out(user: Any, plan: Plan) -> dict[str, Any]:
    report = selectors.plan_gaps(plan=plan)
    latest = selectors.plan_latest_version(plan=plan)
    return {
        "establishment_id": plan.establishment_id, "establishment": plan.establishment.name,
        "cell": {name: getattr(plan, name) for name in PlanCellForm._meta.fields},
        "score": report.score, "blocking_count": report.blocking_count,
        "gaps": [gap.__dict__ for gap in report.by_severity()],
        "counts": selectors.plan_section_counts(plan=plan),
        "latest_version": _version_out(latest) if latest else None,
        "draft_changed_at": plan.draft_changed_at,
        "may_edit": rights.may_edit_plan(user, plan),
        "may_approve": rights.may_approve_plan(user, plan),
    }


@router.get("/{establishment_id}", response=PlanOut)
def get_plan(request: HttpRequest, establishment_id: int) -> Any:
    user = _user(request)
    return _plan_out(user, _plan(user, establishment_id))


@router.post("/{establishment_id}", response={201: PlanOut})
def create_plan(request: HttpRequest, establishment_id: int) -> Any:
    """Start the establishment's plan from the French template."""
    user = _user(request)
    establishment = get_for_user(user, Establishment, pk=establishment_id)
    plan = services.plan_create(actor=user, establishment=establishment, from_template=True)
    return 201, _plan_out(user, selectors.plan_for_user(user=user, establishment_id=plan.establishment_id))


@router.patch("/{establishment_id}/cell", response=PlanOut)
def update_cell(request: HttpRequest, establishment_id: int, payload: dict[str, Any] = Body(...)) -> Any:  # noqa: B008
    user = _user(request)
    plan = _plan(user, establishment_id, write=True)
    form = _bind(PlanCellForm, plan, payload)
    services.plan_update_cell(actor=user, plan=plan, data=form.cleaned_data)
    return _plan_out(user, plan)


# Parts -------------------------------------------------------------------------------------

@router.get("/{establishment_id}/parts/{part}", response=list[dict[str, Any]])
def list_parts(request: HttpRequest, establishment_id: int, part: PartName) -> Any:
    plan = _plan(_user(request), establishment_id)
    key = part.value
    return [_part_out(obj) for obj in selectors.plan_part_list(plan=plan, model=PARTS[key].model, key=key)]


@router.post("/{establishment_id}/parts/{part}", response={201: dict[str, Any]})
def create_part(request: HttpRequest, establishment_id: int, part: PartName,
                payload: dict[str, Any] = Body(...)) -> Any:  # noqa: B008
    user = _user(request)
    plan = _plan(user, establishment_id, write=True)
    instance = PARTS[part.value].model(plan=plan)
    return 201, _part_out(_save_part(user, plan, part.value, instance, payload))


@router.get("/{establishment_id}/parts/{part}/{part_id}", response=dict[str, Any])
def get_part(request: HttpRequest, establishment_id: int, part: PartName, part_id: int) -> Any:
    user = _user(request)
    return _part_out(_part_instance(user, _plan(user, establishment_id), part.value, part_id))


@router.patch("/{establishment_id}/parts/{part}/{part_id}", response=dict[str, Any])
def update_part(request: HttpRequest, establishment_id: int, part: PartName, part_id: int,
                payload: dict[str, Any] = Body(...)) -> Any:  # noqa: B008
    user = _user(request)
    plan = _plan(user, establishment_id)
    instance = _part_instance(user, plan, part.value, part_id)
    _plan(user, establishment_id, write=True)
    return _part_out(_save_part(user, plan, part.value, instance, payload))


@router.delete("/{establishment_id}/parts/{part}/{part_id}", response={204: None})
def delete_part(request: HttpRequest, establishment_id: int, part: PartName, part_id: int) -> Any:
    user = _user(request)
    plan = _plan(user, establishment_id)
    instance = _part_instance(user, plan, part.value, part_id)
    services.plan_part_delete(actor=user, plan=plan, instance=instance)
    return 204, None


@router.put("/{establishment_id}/seats/{seat_id}/deputies", response=dict[str, Any])
def set_deputies(request: HttpRequest, establishment_id: int, seat_id: int, payload: DeputiesIn) -> Any:
    """Replace the seat's deputies, in calling order (first = first deputy)."""
    user = _user(request)
    plan = _plan(user, establishment_id)
    seat = _part_instance(user, plan, "seats", seat_id)
    _plan(user, establishment_id, write=True)
    people_by_id = {p.pk: p for p in people_of(plan).filter(pk__in=payload.person_ids)}
    missing = [pk for pk in payload.person_ids if pk not in people_by_id]
    if missing:
        raise ValidationError({"person_ids": [_("This person does not belong to the establishment.")]})
    services.seat_set_deputies(actor=user, seat=seat, people=[people_by_id[pk] for pk in payload.person_ids])
    return _part_out(seat)


# Approval, versions, comparison -----------------------------------------------------------

@router.post("/{establishment_id}/approve", response={201: VersionOut})
def approve(request: HttpRequest, establishment_id: int, payload: ApproveIn) -> Any:
    user = _user(request)
    plan = _plan(user, establishment_id)
    return 201, _version_out(services.plan_approve(actor=user, plan=plan, note=payload.note))


@router.get("/{establishment_id}/versions", response=list[VersionOut])
def list_versions(request: HttpRequest, establishment_id: int) -> Any:
    plan = _plan(_user(request), establishment_id)
    return [_version_out(v) for v in selectors.plan_versions(plan=plan)]


@router.get("/{establishment_id}/versions/{number}", response=VersionDetailOut)
def get_version(request: HttpRequest, establishment_id: int, number: int) -> Any:
    plan = _plan(_user(request), establishment_id)
    version = selectors.plan_version_get(plan=plan, number=number)
    return {**_version_out(version), "snapshot": version.snapshot}


@router.api_operation(["PUT", "PATCH", "DELETE"], "/{establishment_id}/versions/{number}", response={409: dict[str, str]})
def change_version(request: HttpRequest, establishment_id: int, number: int) -> Any:
    """An approved version is never changed: say so (after the same 404 rules)."""
    plan = _plan(_user(request), establishment_id)
    selectors.plan_version_get(plan=plan, number=number)
    return 409, {"detail": _("An approved version cannot be changed: edit the draft and have it approved again.")}


@router.get("/{establishment_id}/compare", response=CompareOut)
def compare(request: HttpRequest, establishment_id: int, a: str, b: str = "draft") -> Any:
    """Compare versions `a` and `b` (a number, or "draft" for the working draft)."""
    plan = _plan(_user(request), establishment_id)
    result = selectors.plan_compare(plan=plan, left=a, right=b)
    left, right = result["left"]["version"], result["right"]["version"]
    return {
        "left": result["left"]["ref"], "right": result["right"]["ref"],
        "left_approved_by": left.approved_by_label if left else None,
        "right_approved_by": right.approved_by_label if right else None,
        "changes": result["changes"],
    }

