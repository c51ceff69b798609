"""Readers of the crisis, exercise and awareness apps, degrading to None ("no data")
when the app or a field they read is missing."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db.models import (
    Exists,
    OuterRef,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce, Least

from planblanc.directory.models import Establishment
from planblanc.readiness.observatory.filters import Filters


def model_or_none(app_label: str, name: str, fields: set[str]) -> Any:
    try:
        model = apps.get_model(app_label, name)
    except LookupError:
        return None
    names = {f.name for f in model._meta.get_fields()}
    return model if fields <= names else None


def crisis_model() -> Any:
    return model_or_none("crisis", "Crisis", {"establishment", "kind", "is_exercise", "declared_at"})


def exercise_model() -> Any:
    return model_or_none("exercises", "Exercise", {"establishment", "planned_start", "status", "counts_for_obligation"})


# Exercises that happened: started (running, paused) or finished; a planned one has not.
EXERCISED_STATUSES = ("running", "paused", "finished")


def _exercise_dates(filters: Filters) -> list[QuerySet[Any]]:
    """Querysets (one per source) of the dates an establishment (OuterRef "pk") was
    exercised in the period, earliest first: exercises and exercise crises."""
    sources = []
    exercise = exercise_model()
    if exercise is not None:
        sources.append(
            exercise.objects.filter(
                establishment=OuterRef("pk"), counts_for_obligation=True, status__in=EXERCISED_STATUSES,
                planned_start__gte=filters.start_dt, planned_start__lt=filters.end_dt,
            ).order_by("planned_start").values("planned_start")[:1]
        )
    crisis = crisis_model()
    if crisis is not None:
        sources.append(
            crisis.objects.filter(
                establishment=OuterRef("pk"), is_exercise=True,
                declared_at__gte=filters.start_dt, declared_at__lt=filters.end_dt,
            ).order_by("declared_at").values("declared_at")[:1]
        )
    return sources


def exercised_first_expr(filters: Filters) -> Any:
    """When the establishment was first exercised in the period (None: not exercised), or
    None as a whole when neither the exercise nor the crisis app is there."""
    sources = [Subquery(qs) for qs in _exercise_dates(filters)]
    if not sources:
        return None
    if len(sources) == 1:
        return sources[0]
    a, b = sources
    # LEAST ignores NULLs on PostgreSQL but not on SQLite: coalesce both sides.
    return Least(Coalesce(a, b), Coalesce(b, a))


def exercised_expr(filters: Filters) -> Any:
    sources = _exercise_dates(filters)
    if not sources:
        return None
    expr = Exists(sources[0])
    for other in sources[1:]:
        expr = expr | Exists(other)
    return expr


def incidents(*, establishments: QuerySet[Establishment], filters: Filters) -> QuerySet[Any] | None:
    """Real crises (never exercises) declared in the period, or None without the app."""
    crisis = crisis_model()
    if crisis is None:
        return None
    return crisis.objects.filter(
        establishment__in=establishments.values("pk"), is_exercise=False,
        declared_at__gte=filters.start_dt, declared_at__lt=filters.end_dt,
    ).order_by()


DEGRADED_STATES = ("degraded", "stopped")


def degraded_expr() -> Any:
    """Whether a crisis (OuterRef "pk") put a department in degraded mode or stopped it,
    now or at any time (status board history); None when the status board is missing."""
    current = model_or_none("crisis", "DepartmentStatus", {"crisis", "status"})
    if current is None:
        return None
    expr = Exists(current.objects.filter(crisis=OuterRef("pk"), status__in=DEGRADED_STATES))
    history = model_or_none("crisis", "StatusChange", {"crisis", "department_status", "to_status"})
    if history is not None:
        expr = expr | Exists(
            history.objects.filter(crisis=OuterRef("pk"), department_status__isnull=False,
                                   to_status__in=DEGRADED_STATES)
        )
    return expr


def awareness_model() -> Any:
    # Per-campaign counters (people assigned, people who completed every module), kept by
    # the awareness app: one row per establishment and year, not millions of assignments.
    return model_or_none("awareness", "Campaign", {"establishment", "year", "people", "trained"})
