"""Writes to the white plan: the draft's parts, approval, exports. Every write checks the
actor's right, validates before writing, and is audited in the same transaction."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc import rights
from planblanc.accounts.audit import audit_record, diff, snapshot
from planblanc.actors import Actor, SystemActor
from planblanc.directory.models import Establishment, Membership
from planblanc.plans.models import (
    Plan,
    PlanExport,
    PlanVersion,
    ReflexItem,
    ReflexSheet,
    Seat,
    SeatDeputy,
)
from planblanc.plans.snapshot import plan_snapshot, snapshot_sha256
from planblanc.tenancy import Perm, can, user_label


def _touch(plan: Plan, actor: Actor) -> None:
    plan.draft_changed_at = timezone.now()
    plan.draft_changed_by = getattr(actor, "username", "") or ""
    plan.save(update_fields=["draft_changed_at", "draft_changed_by"])
    plan_completeness_refresh(plan=plan)


def plan_completeness_refresh(*, plan: Plan) -> int:
    """Recompute the plan's completeness score and keep it on the row (Plan.completeness),
    for the observatory. Called by every write to the plan; not audited (derived data)."""
    from planblanc.plans.selectors import plan_gaps

    score = plan_gaps(plan=plan).score
    plan.completeness, plan.completeness_at = score, timezone.now()
    Plan.objects.filter(pk=plan.pk).update(completeness=score, completeness_at=plan.completeness_at)
    return score


def plan_completeness_refresh_all(*, batch_size: int = 500) -> int:
    """Refresh every plan's cached completeness (the rules also depend on time and on the
    establishment's departments, which change outside the plan's services). Returns the
    number of plans refreshed."""
    from planblanc.plans.selectors import plan_gaps_many

    done = 0
    ids = list(Plan.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), batch_size):
        plans = list(Plan.objects.filter(pk__in=ids[start:start + batch_size]).select_related("establishment"))
        now = timezone.now()
        for plan_id, report in plan_gaps_many(plans=plans).items():
            Plan.objects.filter(pk=plan_id).update(completeness=report.score, completeness_at=now)
            done += 1
    return done


def plan_create(*, actor: Actor, establishment: Establishment, from_template: bool = True) -> Plan:
    """A new plan starts from the French template (seats, reflex sheets, degraded
    procedures, contacts with blanks to fill…)."""
    if not can(actor, Perm.EDIT_PLAN, establishment):
        raise PermissionDenied(_("You are not allowed to change this plan."))
    with transaction.atomic():
        plan, created = Plan.objects.get_or_create(establishment=establishment)
        if not created:
            return plan
        if from_template:
            from planblanc.plans.template_data import template_apply

            template_apply(plan=plan)
        plan_completeness_refresh(plan=plan)
        audit_record(actor=actor, action="plan.create", obj=plan, establishment=establishment)
    return plan


def plan_update_cell(*, actor: Actor, plan: Plan, data: dict[str, Any]) -> Plan:
    """Meeting places, conference bridge and briefing rhythm."""
    rights.require_edit_plan(actor, plan)
    before = snapshot(Plan.objects.get(pk=plan.pk))
    for name in ("meeting_place", "fallback_place", "bridge_phone", "bridge_code", "bridge_notes", "briefing_rhythm"):
        if name in data:
            setattr(plan, name, data[name])
    plan.full_clean()
    with transaction.atomic():
        plan.save()
        _touch(plan, actor)
        audit_record(
            actor=actor, action="plan.cell.update", obj=plan, establishment=plan.establishment,
            changes=diff(before, snapshot(plan)),
        )
    return plan


def _plan_of(instance: models.Model) -> Plan:
    if isinstance(instance, ReflexItem):
        return instance.sheet.plan
    if isinstance(instance, SeatDeputy):
        return instance.seat.plan
    return instance.plan  # type: ignore[attr-defined]


def _check_same_plan(instance: models.Model, plan: Plan) -> None:
    """A part may only point to people of the establishment and rows of the same plan."""
    from planblanc.directory.models import Person

    for field in instance._meta.concrete_fields:
        if not isinstance(field, models.ForeignKey):
            continue
        target = getattr(instance, field.name, None)
        if target is None:
            continue
        if isinstance(target, Person):
            if not Membership.objects.filter(person=target, establishment=plan.establishment).exists():
                raise ValidationError({field.name: _("This person does not belong to the establishment.")})
        elif hasattr(target, "plan_id") and target.plan_id != plan.pk:
            raise ValidationError({field.name: _("This item belongs to another plan.")})
        elif hasattr(target, "establishment_id") and field.name == "department" and target.establishment_id != plan.establishment_id:
            raise ValidationError({field.name: _("This department belongs to another establishment.")})


def plan_part_save(*, actor: Actor, plan: Plan, instance: models.Model, data: dict[str, Any] | None = None,
                   m2m: dict[str, Any] | None = None) -> models.Model:
    """Create or update one part of the draft (a seat, a contact, an IT system…)."""
    rights.require_edit_plan(actor, plan)
    creating = instance.pk is None
    model = type(instance)
    before = {} if creating else snapshot(model._default_manager.get(pk=instance.pk))
    for name, value in (data or {}).items():
        setattr(instance, name, value)
    if hasattr(instance, "plan_id") and not isinstance(instance, Plan):
        instance.plan = plan  # type: ignore[attr-defined]
    if _plan_of(instance).pk != plan.pk:
        raise PermissionDenied(_("You are not allowed to change this plan."))
    _check_same_plan(instance, plan)
    instance.full_clean()
    label = model._meta.model_name
    with transaction.atomic():
        instance.save()
        for name, values in (m2m or {}).items():
            getattr(instance, name).set(values)
        _touch(plan, actor)
        audit_record(
            actor=actor, action=f"plan.{label}.{'create' if creating else 'update'}", obj=instance,
            establishment=plan.establishment, changes=diff(before, snapshot(instance)),
        )
    return instance


def plan_part_delete(*, actor: Actor, plan: Plan, instance: models.Model) -> None:
    rights.require_edit_plan(actor, plan)
    if _plan_of(instance).pk != plan.pk:
        raise PermissionDenied(_("You are not allowed to change this plan."))
    with transaction.atomic():
        audit_record(
            actor=actor, action=f"plan.{instance._meta.model_name}.delete", obj=instance,
            establishment=plan.establishment, changes=diff(snapshot(instance), {}),
        )
        instance.delete()
        _touch(plan, actor)


def seat_set_deputies(*, actor: Actor, seat: Seat, people: list[Any]) -> None:
    """Replace a seat's ordered deputies (first = first deputy)."""
    plan = seat.plan
    rights.require_edit_plan(actor, plan)
    if seat.holder_id and any(person.pk == seat.holder_id for person in people):
        raise ValidationError(_("The holder of a seat cannot also be its deputy."))
    if len({person.pk for person in people}) != len(people):
        raise ValidationError(_("The same person is listed twice as a deputy."))
    for person in people:
        if not Membership.objects.filter(person=person, establishment=plan.establishment).exists():
            raise ValidationError(_("%(name)s does not belong to the establishment.") % {"name": person})
    with transaction.atomic():
        before = [str(d.person) for d in seat.deputies.all()]
        seat.deputies.all().delete()
        SeatDeputy.objects.bulk_create(
            [SeatDeputy(seat=seat, person=person, rank=rank) for rank, person in enumerate(people, start=1)]
        )
        _touch(plan, actor)
        audit_record(
            actor=actor, action="plan.seat.deputies", obj=seat, establishment=plan.establishment,
            changes={"deputies": [before, [str(p) for p in people]]},
        )


def reflex_sheet_save(*, actor: Actor, plan: Plan, sheet: ReflexSheet, data: dict[str, Any],
                      items: list[dict[str, Any]]) -> ReflexSheet:
    """Save a reflex sheet and its ordered actions together: all or nothing."""
    rights.require_edit_plan(actor, plan)
    errors: dict[str, list[str]] = {}
    if not data.get("owner_function") and not data.get("owner_seat"):
        errors["owner_function"] = [_("A reflex sheet needs the role that runs it.")]
    cleaned_items = []
    for index, item in enumerate(items, start=1):
        reflex_item = ReflexItem(order=index, **item)
        try:
            reflex_item.full_clean(exclude=["sheet"])
        except ValidationError as exc:
            errors.setdefault("items", []).append(
                _("Action %(n)d: %(error)s") % {"n": index, "error": " ".join(exc.messages)}
            )
        cleaned_items.append(reflex_item)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        plan_part_save(actor=actor, plan=plan, instance=sheet, data=data)
        sheet.items.all().delete()
        for reflex_item in cleaned_items:
            reflex_item.sheet = sheet
        ReflexItem.objects.bulk_create(cleaned_items)
        plan_completeness_refresh(plan=plan)
    return sheet


def plan_approve(*, actor: Actor, plan: Plan, note: str = "") -> PlanVersion:
    """Freeze the draft into a new immutable version. Refused while a blocking gap
    remains (the error lists them) or when the actor is not the director or deputy."""
    from planblanc.plans.selectors import plan_gaps

    if not rights.may_approve_plan(actor, plan):
        raise PermissionDenied(
            _("Only the director of the establishment or a deputy director may approve its plan.")
        )
    report = plan_gaps(plan=plan)
    blocking = [gap for gap in report.gaps if gap.blocking]
    if blocking:
        raise ValidationError(
            [_("The plan cannot be approved while these gaps remain:")] + [str(gap.message) for gap in blocking],
            code="blocking_gaps",
        )
    document = plan_snapshot(plan)
    with transaction.atomic():
        # Lock the plan row so that two approvals at once cannot take the same number.
        locked = Plan.objects.select_for_update().get(pk=plan.pk)
        last = locked.versions.order_by("-number").values_list("number", flat=True).first() or 0
        version = PlanVersion.objects.create(
            plan=locked, number=last + 1, snapshot=document, snapshot_sha256=snapshot_sha256(document),
            approved_at=timezone.now(), approved_by=actor,
            approved_by_label=user_label(actor)[:200], note=note[:500],
        )
        audit_record(
            actor=actor, action="plan.approve", obj=version, establishment=plan.establishment,
            changes={"version": [last or None, version.number], "sha256": [None, version.snapshot_sha256]},
        )
        plan_completeness_refresh(plan=plan)
    return version


def plan_export_record(*, actor: Actor, plan: Plan, version: PlanVersion | None, kind: str, content: bytes) -> PlanExport:
    import hashlib

    with transaction.atomic():
        export = PlanExport.objects.create(
            plan=plan, version=version, kind=kind, by=actor if getattr(actor, "is_authenticated", False) else None,
            by_label=(actor.label if isinstance(actor, SystemActor) else getattr(actor, "username", "") or "system")[:200],
            sha256=hashlib.sha256(content).hexdigest(), size_bytes=len(content),
        )
        audit_record(
            actor=actor, action=f"plan.export.{kind}", obj=plan, establishment=plan.establishment,
            changes={"version": [None, version.number if version else "draft"]},
        )
        plan_completeness_refresh(plan=plan)
    return export
