"""Reads of crisis exercises, always within the user's scope, and the kit
recommendation from the maturity questionnaire."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils import timezone

from planblanc.directory.models import Establishment
from planblanc.exercises.kits import LEVEL_ORDER, Kit, kits, questionnaire
from planblanc.exercises.models import Exercise, ExerciseStatus, Inject
from planblanc.tenancy import Perm, get_for_user


def exercise_list(*, user: Any, establishment: Establishment | None = None) -> QuerySet[Exercise]:
    qs = Exercise.objects.visible_to(user).select_related("establishment").annotate(
        inject_count=Count("injects", distinct=True),
    )
    if establishment is not None:
        qs = qs.filter(establishment=establishment)
    return qs


def exercise_get_for_user(*, user: Any, pk: Any, write: bool = False) -> Exercise:
    """404 outside the user's scope; with write=True, outside where they may run exercises."""
    perm = Perm.RUN_EXERCISE if write else Perm.VIEW_DIRECTORY
    return get_for_user(user, Exercise.objects.select_related("establishment"), perm, pk=pk)


def inject_get_for_user(*, user: Any, exercise: Exercise, pk: Any, write: bool = False) -> Inject:
    perm = Perm.RUN_EXERCISE if write else Perm.VIEW_DIRECTORY
    return get_for_user(user, Inject.objects.filter(exercise=exercise), perm, pk=pk)


def injects_in_order(*, exercise: Exercise) -> list[Inject]:
    """The chronogramme sorted by due time (offset, or absolute time against the start),
    then by number; injects without a time come last."""
    injects = list(
        exercise.injects.select_related("animator").prefetch_related("dependencies", "expected_reactions__criterion")
    )
    far = datetime.timedelta(days=3650)

    def key(inject: Inject) -> tuple[datetime.timedelta, int]:
        due = inject.due_offset(exercise.planned_start)
        return (due if due is not None else far, inject.number)

    return sorted(injects, key=key)


def establishments_meeting_obligation(*, year: int) -> QuerySet[Establishment]:
    """Establishments that ran (or planned, in that calendar year) a non-cancelled
    exercise that counts for the yearly obligation."""
    return Establishment.objects.filter(Exists(_counted_exercises(year).filter(establishment=OuterRef("pk"))))


def _counted_exercises(year: int) -> QuerySet[Exercise]:
    tz = timezone.get_current_timezone()
    start = datetime.datetime(year, 1, 1, tzinfo=tz)
    end = datetime.datetime(year + 1, 1, 1, tzinfo=tz)
    return Exercise.objects.filter(
        counts_for_obligation=True, planned_start__gte=start, planned_start__lt=end,
    ).exclude(status__in=[ExerciseStatus.CANCELLED, ExerciseStatus.DRAFT])


def yearly_obligation_met(*, establishment: Establishment, year: int) -> bool:
    return _counted_exercises(year).filter(establishment=establishment).exists()


def yearly_obligation(*, user: Any, year: int) -> QuerySet[Establishment]:
    """The user's establishments, each with `has_exercise` for the calendar year."""
    return Establishment.objects.visible_to(user).annotate(
        has_exercise=Exists(_counted_exercises(year).filter(establishment=OuterRef("pk")))
    )


def exercise_start_problems(*, exercise: Exercise) -> list[str]:
    """What prevents the exercise from starting, in words for the animator console:
    no animator, no inject, no date, or closed."""
    from django.utils.translation import gettext as _

    from planblanc.exercises.models import ParticipantRole

    problems = []
    if exercise.status not in (ExerciseStatus.DRAFT, ExerciseStatus.PLANNED, ExerciseStatus.PAUSED):
        problems.append(_("The exercise is %(status)s.") % {"status": exercise.get_status_display()})
    if not exercise.participants.filter(role=ParticipantRole.ANIMATOR).exists():
        problems.append(_("No animator: add at least one participant with the animator role."))
    if not exercise.injects.exists():
        problems.append(_("The chronogramme has no inject."))
    if exercise.planned_start is None and exercise.injects.filter(offset__isnull=True).exists():
        problems.append(_("Some injects have an absolute time but the exercise has no date."))
    return problems


# ---------------------------------------------------------------------------- questionnaire


@dataclass(frozen=True)
class Recommendation:
    score: int  # 0–100
    level: str
    kit: Kit | None
    unanswered: list[str]


def questionnaire_max_points() -> int:
    return sum(max(a["weight"] for a in q["answers"]) for q in questionnaire()["questions"])


def questionnaire_recommend(*, answers: dict[str, str]) -> Recommendation:
    """Points of the answers given, over the best possible total, as a score out of 100;
    unanswered questions count 0. Below `beginner_below`: the beginner kit, below
    `intermediate_below`: intermediate, else confirmed."""
    data = questionnaire()
    points = 0
    unanswered = []
    for question in data["questions"]:
        chosen = answers.get(question["key"])
        weights = {a["key"]: a["weight"] for a in question["answers"]}
        if chosen not in weights:
            unanswered.append(question["key"])
            continue
        points += weights[chosen]
    score = round(100 * points / questionnaire_max_points())
    thresholds = data["thresholds"]
    if score < thresholds["beginner_below"]:
        level = LEVEL_ORDER[0]
    elif score < thresholds["intermediate_below"]:
        level = LEVEL_ORDER[1]
    else:
        level = LEVEL_ORDER[2]
    kit = next((k for k in kits().values() if k.level == level), None)
    return Recommendation(score=score, level=str(level), kit=kit, unanswered=unanswered)


def last_exercise_date(*, establishment: Establishment) -> datetime.date | None:
    """The day the establishment last finished running an exercise that counts for the
    yearly obligation (read by the readiness app); None if it never did."""
    from planblanc.exercises.models import ExerciseRun, RunStatus

    finished = (
        ExerciseRun.objects.filter(
            exercise__establishment=establishment, exercise__counts_for_obligation=True,
            status=RunStatus.FINISHED, finished_at__isnull=False,
        ).order_by("-finished_at").values_list("finished_at", flat=True).first()
    )
    return timezone.localdate(finished) if finished is not None else None


def establishments_exercised_in_year(*, establishment_ids: list[int], year: int) -> set[int]:
    """Which of these establishments ran an exercise that counts for the yearly
    obligation (a run started in that calendar year, a regional exercise's included).
    Read by the readiness observatory: "exercise done this year" per FINESS."""
    from planblanc.exercises.models import ExerciseRun, RunStatus

    tz = timezone.get_current_timezone()
    start = datetime.datetime(year, 1, 1, tzinfo=tz)
    end = datetime.datetime(year + 1, 1, 1, tzinfo=tz)
    return set(
        ExerciseRun.objects.filter(
            exercise__establishment_id__in=establishment_ids, exercise__counts_for_obligation=True,
            started_at__gte=start, started_at__lt=end,
        ).exclude(status=RunStatus.READY).values_list("exercise__establishment_id", flat=True).distinct()
    )
