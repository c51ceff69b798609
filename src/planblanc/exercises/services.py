"""Writes to crisis exercises: creation from a kit, scenario editing (injects, expected
reactions, dependencies), participants, planning and chronogramme import. Every write
checks the actor's right (Perm.RUN_EXERCISE over the establishment), validates before
writing, runs in one transaction and is audited."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from planblanc import rights
from planblanc.accounts.audit import audit_record, diff, snapshot
from planblanc.actors import Actor
from planblanc.directory.models import Establishment, Membership, Person
from planblanc.exercises import attachments, media
from planblanc.exercises import chronogramme as chrono
from planblanc.exercises.kits import kit_get
from planblanc.exercises.models import (
    CriterionArea,
    EvaluationCriterion,
    Exercise,
    ExerciseKind,
    ExerciseStatus,
    ExpectedReaction,
    Inject,
    Participant,
    ParticipantRole,
    TimelineMarker,
)

EXERCISE_FIELDS = (
    "title", "maturity_level", "objectives", "scenario", "planned_start", "planned_duration",
    "location", "counts_for_obligation",
)
INJECT_FIELDS = (
    "number", "phase", "offset", "scheduled_at", "story_time", "channel", "sender", "target_cell", "target_role",
    "subject", "content", "attachments", "kind", "animator", "comment", "deliverable",
)
# Once the run has started, the scenario belongs to the animator console.
EDITABLE_STATUSES = (ExerciseStatus.DRAFT, ExerciseStatus.PLANNED)


def _require_editable(actor: Actor, exercise: Exercise) -> None:
    rights.require_prepare_exercises(actor, exercise.establishment)
    if exercise.status not in EDITABLE_STATUSES:
        raise ValidationError(_("This exercise has started or is closed: its scenario can no longer be changed."))


# ---------------------------------------------------------------------------- exercises


def exercise_create(
    *,
    actor: Actor,
    establishment: Establishment,
    title: str,
    maturity_level: str = "beginner",
    planned_start: datetime.datetime | None = None,
    objectives: str = "",
    scenario: str = "",
) -> Exercise:
    """An empty exercise, to be written from scratch or filled by a chronogramme import."""
    rights.require_prepare_exercises(actor, establishment)
    exercise = Exercise(
        establishment=establishment, title=title.strip(), maturity_level=maturity_level,
        planned_start=planned_start, objectives=objectives, scenario=scenario,
        status=ExerciseStatus.PLANNED if planned_start else ExerciseStatus.DRAFT,
    )
    exercise.full_clean()
    with transaction.atomic():
        exercise.save()
        _copy_grid(exercise, None)
        audit_record(actor=actor, action="exercise.create", obj=exercise, establishment=establishment)
    return exercise


def _copy_grid(exercise: Exercise, kit: Any) -> None:
    from planblanc.exercises.kits import default_grid

    criteria = kit.grid if kit is not None else list(default_grid().values())
    EvaluationCriterion.objects.bulk_create(
        EvaluationCriterion(
            exercise=exercise, area=c.area, title=c.title, scale_max=c.scale_max,
            descriptors=c.descriptors, order=index,
        )
        for index, c in enumerate(criteria)
    )


def exercise_create_from_kit(
    *,
    actor: Actor,
    establishment: Establishment,
    kit_slug: str,
    title: str = "",
    start: datetime.datetime | None = None,
) -> Exercise:
    """Copy a kit into an exercise the establishment can adapt: objectives, scenario,
    evaluation grid, injects with their expected reactions and dependencies."""
    rights.require_prepare_exercises(actor, establishment)
    kit = kit_get(kit_slug)
    if kit is None:
        raise ValidationError({"kit_slug": _("Unknown kit “%(slug)s”.") % {"slug": kit_slug}})
    parsed = chrono.read_json(kit.as_chronogramme())
    if parsed.errors:  # a broken kit file is our bug; the kit tests catch it first
        raise ValidationError([str(problem) for problem in parsed.errors])
    # The kit's {etablissement}, {ville}, {directeur} become this establishment's names.
    values = media.kit_variables(establishment)
    for item in parsed.injects:
        item.subject = media.fill_variables(item.subject, values)
        item.content = media.fill_variables(item.content, values)
    exercise = Exercise(
        establishment=establishment,
        kit_slug=kit.slug,
        title=(title or kit.title).strip(),
        maturity_level=kit.level,
        objectives="\n".join(f"- {objective}" for objective in kit.objectives),
        scenario=kit.scenario,
        planned_start=start,
        planned_duration=datetime.timedelta(minutes=kit.duration_minutes),
        status=ExerciseStatus.PLANNED if start else ExerciseStatus.DRAFT,
    )
    exercise.full_clean()
    with transaction.atomic():
        exercise.save()
        _copy_grid(exercise, kit)
        _save_injects(exercise, parsed.injects)
        audit_record(
            actor=actor, action="exercise.create_from_kit", obj=exercise, establishment=establishment,
            changes={"kit": kit.slug, "injects": len(parsed.injects)},
        )
    return exercise


def exercise_update(*, actor: Actor, exercise: Exercise, data: dict[str, Any]) -> Exercise:
    rights.require_prepare_exercises(actor, exercise.establishment)
    before = snapshot(Exercise.objects.get(pk=exercise.pk))
    for name in EXERCISE_FIELDS:
        if name in data:
            setattr(exercise, name, data[name])
    exercise.full_clean()
    with transaction.atomic():
        exercise.save()
        audit_record(
            actor=actor, action="exercise.update", obj=exercise, establishment=exercise.establishment,
            changes=diff(before, snapshot(exercise)),
        )
    return exercise


def exercise_schedule(
    *,
    actor: Actor,
    exercise: Exercise,
    planned_start: datetime.datetime,
    planned_duration: datetime.timedelta | None = None,
    location: str = "",
) -> Exercise:
    """Planning: the date makes a draft a planned exercise."""
    _require_editable(actor, exercise)
    if planned_duration is not None and planned_duration <= datetime.timedelta(0):
        raise ValidationError({"planned_duration": _("The duration must be positive.")})
    before = snapshot(Exercise.objects.get(pk=exercise.pk))
    exercise.planned_start = planned_start
    if planned_duration is not None:
        exercise.planned_duration = planned_duration
    exercise.location = location
    exercise.status = ExerciseStatus.PLANNED
    exercise.full_clean()
    with transaction.atomic():
        exercise.save()
        audit_record(
            actor=actor, action="exercise.schedule", obj=exercise, establishment=exercise.establishment,
            changes=diff(before, snapshot(exercise)),
        )
    return exercise


def exercise_cancel(*, actor: Actor, exercise: Exercise) -> Exercise:
    rights.require_prepare_exercises(actor, exercise.establishment)
    if exercise.status == ExerciseStatus.FINISHED:
        raise ValidationError(_("A finished exercise cannot be cancelled."))
    with transaction.atomic():
        exercise.status = ExerciseStatus.CANCELLED
        exercise.save(update_fields=["status", "updated_at"])
        audit_record(actor=actor, action="exercise.cancel", obj=exercise, establishment=exercise.establishment)
    return exercise


def exercise_delete(*, actor: Actor, exercise: Exercise) -> None:
    _require_editable(actor, exercise)
    with transaction.atomic():
        audit_record(actor=actor, action="exercise.delete", obj=exercise, establishment=exercise.establishment)
        exercise.delete()


# ---------------------------------------------------------------------------- injects


def _dependency_graph(exercise: Exercise, *, replacing: Inject | None = None,
                      with_dependencies: list[Inject] | None = None) -> dict[int, list[int]]:
    graph: dict[int, list[int]] = {pk: [] for pk in exercise.injects.values_list("pk", flat=True)}
    through = Inject.dependencies.through
    for from_id, to_id in through.objects.filter(from_inject__exercise=exercise).values_list(
        "from_inject_id", "to_inject_id"
    ):
        graph.setdefault(from_id, []).append(to_id)
    if replacing is not None and with_dependencies is not None:
        graph[replacing.pk] = [d.pk for d in with_dependencies]
    return graph


def _validate_dependencies(exercise: Exercise, inject: Inject, dependencies: list[Inject]) -> None:
    for dependency in dependencies:
        if dependency.exercise_id != exercise.pk:
            raise ValidationError(
                {"dependencies": _("Inject %(number)s is not part of this exercise.") % {"number": dependency.number}}
            )
        if dependency.pk == inject.pk:
            raise ValidationError({"dependencies": _("An inject cannot wait for itself.")})
    if inject.pk is None:
        return  # a new inject has no dependents yet: it cannot close a cycle
    cycle = chrono.find_cycle(_dependency_graph(exercise, replacing=inject, with_dependencies=dependencies))
    if cycle:
        numbers = dict(exercise.injects.values_list("pk", "number"))
        raise ValidationError(
            {"dependencies": _("Dependencies form a cycle: %(cycle)s.")
             % {"cycle": " → ".join(str(numbers[pk]) for pk in cycle)}}
        )


def _check_number(exercise: Exercise, inject: Inject) -> None:
    clash = exercise.injects.filter(number=inject.number)
    if inject.pk is not None:
        clash = clash.exclude(pk=inject.pk)
    if clash.exists():
        raise ValidationError({"number": _("Inject number %(number)s is already used.") % {"number": inject.number}})


def _check_animator(exercise: Exercise, inject: Inject) -> None:
    if inject.animator_id and not Membership.objects.filter(
        person_id=inject.animator_id, establishment=exercise.establishment
    ).exists():
        raise ValidationError({"animator": _("The animator must belong to the establishment.")})


def inject_next_number(*, exercise: Exercise) -> int:
    last = exercise.injects.order_by("-number").values_list("number", flat=True).first()
    return (last or 0) + 1


def inject_create(
    *, actor: Actor, exercise: Exercise, data: dict[str, Any], dependencies: list[Inject] | None = None
) -> Inject:
    _require_editable(actor, exercise)
    inject = Inject(exercise=exercise)
    for name in INJECT_FIELDS:
        if name in data:
            setattr(inject, name, data[name])
    if not inject.number:
        inject.number = inject_next_number(exercise=exercise)
    inject.full_clean(validate_unique=False, validate_constraints=False)
    _check_number(exercise, inject)
    _check_animator(exercise, inject)
    _validate_dependencies(exercise, inject, dependencies or [])
    with transaction.atomic():
        inject.save()
        inject.dependencies.set(dependencies or [])
        audit_record(
            actor=actor, action="inject.create", obj=inject, establishment=exercise.establishment,
            changes={"exercise": exercise.pk, "number": inject.number},
        )
    return inject


def inject_update(
    *, actor: Actor, inject: Inject, data: dict[str, Any], dependencies: list[Inject] | None = None
) -> Inject:
    exercise = inject.exercise
    _require_editable(actor, exercise)
    before = snapshot(Inject.objects.get(pk=inject.pk))
    for name in INJECT_FIELDS:
        if name in data:
            setattr(inject, name, data[name])
    inject.full_clean(validate_unique=False, validate_constraints=False)
    _check_number(exercise, inject)
    _check_animator(exercise, inject)
    if dependencies is not None:
        _validate_dependencies(exercise, inject, dependencies)
    with transaction.atomic():
        inject.save()
        changes = diff(before, snapshot(inject))
        if dependencies is not None:
            old = sorted(inject.dependencies.values_list("number", flat=True))
            inject.dependencies.set(dependencies)
            new = sorted(d.number for d in dependencies)
            if old != new:
                changes["dependencies"] = [old, new]
        audit_record(actor=actor, action="inject.update", obj=inject, establishment=exercise.establishment, changes=changes)
    return inject


def inject_set_dependencies(*, actor: Actor, inject: Inject, dependencies: list[Inject]) -> Inject:
    return inject_update(actor=actor, inject=inject, data={}, dependencies=dependencies)


def inject_delete(*, actor: Actor, inject: Inject) -> None:
    exercise = inject.exercise
    _require_editable(actor, exercise)
    waiting = sorted(inject.dependents.values_list("number", flat=True))
    if waiting:
        raise ValidationError(
            _("Injects %(numbers)s wait for this one: change their dependencies first.")
            % {"numbers": ", ".join(str(n) for n in waiting)}
        )
    with transaction.atomic():
        audit_record(
            actor=actor, action="inject.delete", obj=inject, establishment=exercise.establishment,
            changes={"number": inject.number},
        )
        inject.delete()


def expected_reaction_create(
    *, actor: Actor, inject: Inject, description: str, deadline: datetime.timedelta | None = None,
    cell: str = "", criterion: EvaluationCriterion | None = None,
) -> ExpectedReaction:
    _require_editable(actor, inject.exercise)
    if criterion is not None and criterion.exercise_id != inject.exercise_id:
        raise ValidationError({"criterion": _("This criterion belongs to another exercise.")})
    if deadline is not None and deadline <= datetime.timedelta(0):
        raise ValidationError({"deadline": _("The deadline must be positive.")})
    reaction = ExpectedReaction(
        inject=inject, description=description.strip(), deadline=deadline, cell=cell, criterion=criterion,
        order=inject.expected_reactions.count(),
    )
    reaction.full_clean()
    with transaction.atomic():
        reaction.save()
        audit_record(
            actor=actor, action="expected_reaction.create", obj=reaction,
            establishment=inject.exercise.establishment, changes={"inject": inject.number},
        )
    return reaction


def expected_reaction_delete(*, actor: Actor, reaction: ExpectedReaction) -> None:
    exercise = reaction.inject.exercise
    _require_editable(actor, exercise)
    with transaction.atomic():
        audit_record(actor=actor, action="expected_reaction.delete", obj=reaction, establishment=exercise.establishment)
        reaction.delete()


# ---------------------------------------------------------------------------- participants


def participant_add(
    *, actor: Actor, exercise: Exercise, person: Person, role: str, cell: str = ""
) -> Participant:
    """Add someone of the establishment, or change their role if they already take part."""
    rights.require_prepare_exercises(actor, exercise.establishment)
    if role not in ParticipantRole.values:
        raise ValidationError({"role": _("Unknown role in the exercise.")})
    if not Membership.objects.filter(person=person, establishment=exercise.establishment).exists():
        raise ValidationError({"person": _("Only people of the establishment can take part.")})
    with transaction.atomic():
        participant, created = Participant.objects.update_or_create(
            exercise=exercise, person=person, defaults={"role": role, "cell": cell.strip()}
        )
        audit_record(
            actor=actor, action="participant.add" if created else "participant.update", obj=participant,
            establishment=exercise.establishment, changes={"role": role, "cell": cell},
        )
    return participant


def participant_remove(*, actor: Actor, participant: Participant) -> None:
    exercise = participant.exercise
    rights.require_prepare_exercises(actor, exercise.establishment)
    with transaction.atomic():
        audit_record(actor=actor, action="participant.remove", obj=participant, establishment=exercise.establishment)
        participant.delete()


# ---------------------------------------------------------------------------- chronogramme


def _save_injects(exercise: Exercise, parsed: list[chrono.ParsedInject]) -> list[Inject]:
    """Three bulk inserts whatever the number of injects (a regional exercise writes one
    scenario per establishment: one insert per inject made its preparation slow)."""
    criteria = {c.area: c for c in exercise.criteria.all()}
    created = Inject.objects.bulk_create([
        Inject(
            exercise=exercise, number=item.number, phase=item.phase[:200], offset=item.offset,
            scheduled_at=item.scheduled_at, story_time=item.story_time[:60], channel=item.channel, sender=item.sender[:200],
            target_cell=item.target_cell[:200], target_role=item.target_role[:200], subject=item.subject[:300],
            content=item.content, attachments=item.attachments, kind=item.kind, comment=item.comment,
            deliverable=item.deliverable[:300], excluded=item.excluded,
        )
        for item in parsed
    ])
    by_source: dict[int, Inject] = {}
    for item, inject in zip(parsed, created, strict=True):
        by_source.setdefault(item.source_number if item.source_number is not None else item.number, inject)
    ExpectedReaction.objects.bulk_create(
        ExpectedReaction(
            inject=inject, description=reaction.description, deadline=reaction.deadline,
            cell=reaction.cell[:200],
            criterion=criteria.get(reaction.criterion_area) if reaction.criterion_area in CriterionArea.values else None,
            order=index,
        )
        for item, inject in zip(parsed, created, strict=True)
        for index, reaction in enumerate(item.expected_reactions)
    )
    through = Inject.dependencies.through
    links = {(inject.pk, by_source[n].pk) for item, inject in zip(parsed, created, strict=True)
             for n in item.dependencies if n in by_source}
    through.objects.bulk_create(through(from_inject_id=source, to_inject_id=target) for source, target in sorted(links))
    return created


def chronogramme_import(
    *,
    actor: Actor,
    exercise: Exercise,
    chronogramme: chrono.Chronogramme,
    only_good_rows: bool = False,
    replace: bool = False,
) -> list[Inject]:
    """Save what was read. Any error refuses the whole import unless the user chose to
    import only the good rows; `replace` first removes the exercise's injects."""
    _require_editable(actor, exercise)
    if chronogramme.errors and not only_good_rows:
        raise ValidationError([str(problem) for problem in chronogramme.errors])
    good = [item for item in chronogramme.injects if item.where not in chronogramme.bad_rows]
    # A good row may wait for a dropped one: it loses that dependency rather than fail.
    kept = {item.source_number if item.source_number is not None else item.number for item in good}
    for item in good:
        item.dependencies = [n for n in item.dependencies if n in kept]
    if not good:
        raise ValidationError(_("The chronogramme holds no inject that can be imported."))
    with transaction.atomic():
        if replace:
            exercise.injects.all().delete()
            exercise.markers.all().delete()
        else:
            used = set(exercise.injects.values_list("number", flat=True))
            clash = sorted(used & {item.number for item in good})
            if clash:
                raise ValidationError(
                    _("Inject numbers %(numbers)s are already used in this exercise.")
                    % {"numbers": ", ".join(str(n) for n in clash)}
                )
        created = _save_injects(exercise, good)
        for item, inject in zip(good, created, strict=True):
            for name, content in item.files:
                attachments.inject_attachment_add(actor=actor, inject=inject, name=name, content=content)
        base = exercise.markers.count()
        TimelineMarker.objects.bulk_create(
            TimelineMarker(exercise=exercise, label=marker.label[:200], kind=marker.kind, offset=marker.offset,
                           position=base + index)
            for index, marker in enumerate(chronogramme.markers)
        )
        audit_record(
            actor=actor, action="exercise.import_chronogramme", obj=exercise, establishment=exercise.establishment,
            changes={
                "injects": len(created), "sheet": chronogramme.sheet, "replace": replace,
                "rows_left_out": sorted(chronogramme.bad_rows),
                "markers": len(chronogramme.markers),
            },
        )
    return created


# ------------------------------------------------------------------- other kinds of exercise


def exercise_record_phishing_drill(
    *, actor: Actor, establishment: Establishment, held_at: datetime.datetime, title: str,
) -> Exercise:
    """Record a phishing drill (awareness app) as a finished exercise of the establishment
    (kind "phishing drill", no scenario of its own), so that the observatory counts the
    establishment as exercised in that year. Called by the site, which launches the drill:
    the awareness app does not import this one. Whoever may run awareness drills there may
    record it."""
    if not rights.may_manage_awareness(actor, establishment):
        raise PermissionDenied(_("You are not allowed to run awareness campaigns here."))
    exercise = Exercise.objects.create(
        establishment=establishment, kind=ExerciseKind.PHISHING_DRILL, title=(title or _("Phishing drill"))[:200],
        planned_start=held_at, status=ExerciseStatus.FINISHED, counts_for_obligation=True,
        objectives=_("Phishing drill: the staff's reflexes in front of a fraudulent email (click, report)."),
    )
    audit_record(actor=actor, action="exercises.phishing_drill_record", obj=exercise, establishment=establishment,
                 changes={"title": exercise.title, "held_at": held_at.isoformat()})
    return exercise
