"""Evaluation of an exercise run against its grid.

Each expected reaction is ticked done, late or missed: by the platform where it can see
the reaction (regulatory notifications filed in the exercise crisis, decisions recorded
in its logbook, a communication to the press, patients or partners approved there after
a media-pressure inject), otherwise by an observer or an animator. A tick by a person always
wins over the platform's.

Scores (documented formula, 0 to 100):
- a reaction is worth 1 when done, 0.5 when late, 0 when missed; reactions not yet
  ticked are left out (shown as "not assessed");
- reactions of excluded injects are out of the denominator;
- score of a criterion = 100 × (sum of the points of its reactions) / (number of its
  assessed reactions); the same per cell (the reaction's cell, else the inject's target
  cell) and overall (all assessed reactions together, so each reaction weighs the same);
- a group with no assessed reaction has no score (None), not 0.

The deadline of a reaction is in simulated time after the inject was sent; the platform
compares real times, so it divides the deadline by the run's speed."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc import rights
from planblanc.accounts.audit import audit_record
from planblanc.actors import Actor
from planblanc.exercises.models import (
    CriterionArea,
    EvaluationCriterion,
    ExerciseRun,
    ExpectedReaction,
    InjectRun,
    InjectState,
    Outcome,
    ReactionCheck,
    RunStatus,
)
from planblanc.tenancy import user_label

POINTS = {Outcome.DONE: 1.0, Outcome.LATE: 0.5, Outcome.MISSED: 0.0}
# Areas where the platform sees the reaction in the exercise crisis.
AUTOMATIC_AREAS = (CriterionArea.NOTIFICATIONS, CriterionArea.DECISION, CriterionArea.EXTERNAL_COMMUNICATION)


def reaction_tick(
    *, actor: Actor, run: ExerciseRun, reaction: ExpectedReaction, outcome: str, note: str = "",
) -> ReactionCheck:
    """An observer's (or animator's) judgement: done, late or missed."""
    if not rights.may_observe_run(actor, run.exercise):
        raise PermissionDenied(_("Only observers and animators evaluate the exercise."))
    if outcome not in Outcome.values:
        raise ValidationError({"outcome": [_("Choose done, late or missed.")]})
    if reaction.inject.exercise_id != run.exercise_id:
        raise ValidationError({"reaction": [_("This expected reaction belongs to another exercise.")]})
    if run.status == RunStatus.READY:
        raise ValidationError(_("The exercise has not started."))
    with transaction.atomic():
        check, _created = ReactionCheck.objects.update_or_create(
            run=run, reaction=reaction,
            defaults={"outcome": outcome, "automatic": False, "note": note.strip(),
                      "by_label": user_label(actor)[:200], "at": timezone.now()},
        )
        audit_record(actor=actor, action="exercise.reaction_tick", obj=check,
                     establishment=run.exercise.establishment, changes={"reaction": reaction.pk, "outcome": outcome})
    return check


def _platform_outcome(
    reaction: ExpectedReaction, row: InjectRun, run: ExerciseRun, now: datetime.datetime,
) -> str | None:
    """Done, late or missed from what the exercise crisis shows; None when the platform
    cannot tell (yet)."""
    from planblanc.crisis.models import EntryKind, LogbookEntry, RegulatoryNotification

    area = reaction.criterion.area if reaction.criterion is not None else ""
    if area not in AUTOMATIC_AREAS or run.crisis_id is None or row.fired_at is None:
        return None
    deadline = (
        row.fired_at + datetime.timedelta(seconds=reaction.deadline.total_seconds() / max(run.speed, 1))
        if reaction.deadline is not None else None
    )
    if area == CriterionArea.NOTIFICATIONS:
        times = list(RegulatoryNotification.objects.filter(
            crisis_id=run.crisis_id, sent_at__isnull=False, sent_at__gte=row.fired_at,
        ).values_list("sent_at", flat=True))
    elif area == CriterionArea.EXTERNAL_COMMUNICATION:
        # Media pressure answered: a communication to the press, patients or partners (a
        # holding statement) approved in the exercise crisis after the inject.
        from planblanc.crisis.models import CommunicationDraft

        times = [t for t in CommunicationDraft.objects.filter(
            crisis_id=run.crisis_id, approved_at__isnull=False, approved_at__gte=row.fired_at,
        ).exclude(audience="staff").values_list("approved_at", flat=True) if t is not None]
    else:
        times = list(LogbookEntry.objects.filter(
            crisis_id=run.crisis_id, kind=EntryKind.DECISION, at__gte=row.fired_at,
        ).values_list("at", flat=True))
    if times:
        first = min(times)
        return str(Outcome.DONE) if deadline is None or first <= deadline else str(Outcome.LATE)
    over = run.status == RunStatus.FINISHED or (deadline is not None and now > deadline)
    return str(Outcome.MISSED) if over else None


def evaluation_compute(*, run: ExerciseRun, now: datetime.datetime | None = None) -> int:
    """Write the platform's ticks (never over a person's). Returns how many it wrote."""
    now = now or timezone.now()
    rows = {r.inject_id: r for r in InjectRun.objects.filter(run=run)}
    by_person = set(ReactionCheck.objects.filter(run=run, automatic=False).values_list("reaction_id", flat=True))
    written = 0
    with transaction.atomic():
        for reaction in ExpectedReaction.objects.filter(inject__exercise_id=run.exercise_id).select_related("criterion"):
            row = rows.get(reaction.inject_id)
            if row is None or reaction.pk in by_person or row.state == InjectState.EXCLUDED:
                continue
            outcome = _platform_outcome(reaction, row, run, now)
            if outcome is None:
                continue
            ReactionCheck.objects.update_or_create(
                run=run, reaction=reaction,
                defaults={"outcome": outcome, "automatic": True, "by_label": _("Platform"), "at": now},
            )
            written += 1
    return written


@dataclass
class Score:
    label: str
    points: float = 0.0
    assessed: int = 0
    total: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {"done": 0, "late": 0, "missed": 0})

    @property
    def value(self) -> float | None:
        return round(100 * self.points / self.assessed, 1) if self.assessed else None

    def add(self, outcome: str | None) -> None:
        self.total += 1
        if outcome is None:
            return
        self.assessed += 1
        self.points += POINTS[Outcome(outcome)]
        self.counts[outcome] += 1


@dataclass
class Evaluation:
    overall: Score
    by_criterion: list[tuple[EvaluationCriterion, Score]]
    by_cell: list[Score]
    excluded_reactions: int
    rows: list[tuple[ExpectedReaction, str | None, ReactionCheck | None]]
    previous: list[tuple[Any, float | None]]


def evaluation_scores(*, run: ExerciseRun, with_previous: bool = True) -> Evaluation:
    """Scores per criterion, per cell and overall (formula in the module docstring)."""
    states = dict(InjectRun.objects.filter(run=run).values_list("inject_id", "state"))
    checks = {c.reaction_id: c for c in ReactionCheck.objects.filter(run=run)}
    criteria = list(EvaluationCriterion.objects.filter(exercise_id=run.exercise_id))
    by_criterion = {c.pk: Score(label=c.title) for c in criteria}
    by_cell: dict[str, Score] = defaultdict(lambda: Score(label=""))
    overall = Score(label=_("Overall"))
    excluded = 0
    rows = []
    reactions = ExpectedReaction.objects.filter(inject__exercise_id=run.exercise_id).select_related(
        "inject", "criterion").order_by("inject__number", "order", "id")
    for reaction in reactions:
        if states.get(reaction.inject_id) == InjectState.EXCLUDED:
            excluded += 1
            continue
        check = checks.get(reaction.pk)
        outcome = check.outcome if check is not None else None
        rows.append((reaction, outcome, check))
        overall.add(outcome)
        if reaction.criterion_id in by_criterion:
            by_criterion[reaction.criterion_id].add(outcome)
        cell = (reaction.cell or reaction.inject.target_cell or _("Whole exercise")).strip()
        by_cell[cell].label = cell
        by_cell[cell].add(outcome)
    previous: list[tuple[Any, float | None]] = []
    if with_previous:
        earlier = ExerciseRun.objects.filter(
            exercise__establishment_id=run.exercise.establishment_id, status=RunStatus.FINISHED,
        ).exclude(pk=run.pk).select_related("exercise").order_by("started_at")
        if run.started_at is not None:
            earlier = earlier.filter(started_at__lt=run.started_at)
        previous = [(other, evaluation_scores(run=other, with_previous=False).overall.value) for other in earlier]
    return Evaluation(
        overall=overall, by_criterion=[(c, by_criterion[c.pk]) for c in criteria],
        by_cell=sorted(by_cell.values(), key=lambda s: s.label), excluded_reactions=excluded, rows=rows,
        previous=previous,
    )
