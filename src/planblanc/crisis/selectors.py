"""Reads of the crisis console, always through tenancy: what is outside the user's scope
is a 404. Statistics leave exercises out unless asked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from planblanc.crisis.models import (
    OPEN_TASK_STATUSES,
    Crisis,
    CrisisStatus,
    CrisisTask,
    DamageAssessment,
    Decision,
    DepartmentState,
    DepartmentStatus,
    ImprovementAction,
    ImprovementStatus,
    LogbookAttachment,
    LogbookEntry,
    StatusChange,
    SystemStatus,
)
from planblanc.directory.models import Establishment
from planblanc.tenancy import Perm, get_for_user


def crisis_for_user(*, user: Any, crisis_id: int) -> Crisis:
    return get_for_user(user, Crisis.objects.select_related("establishment", "establishment__region"), pk=crisis_id)


def establishment_for_user(*, user: Any, establishment_id: int) -> Establishment:
    return get_for_user(user, Establishment, Perm.VIEW_DIRECTORY, pk=establishment_id)


def crisis_revision(*, user: Any, crisis_id: int) -> int | None:
    """The crisis's change counter, in one small query (live polling); None: not visible."""
    return Crisis.objects.visible_to(user).filter(pk=crisis_id).values_list("revision", flat=True).first()


def crises_of_establishment(*, establishment: Establishment) -> QuerySet[Crisis]:
    return Crisis.objects.filter(establishment=establishment).select_related("establishment").order_by(
        "-declared_at", "-id"
    )


def crisis_list_for_user(*, user: Any, active: bool | None = True) -> QuerySet[Crisis]:
    """The regional (or national) view: crises in scope with the number of departments
    in degraded mode or stopped."""
    crises = Crisis.objects.visible_to(user).select_related("establishment", "establishment__region")
    if active is not None:
        crises = crises.filter(status=CrisisStatus.ACTIVE if active else CrisisStatus.CLOSED)
    return crises.annotate(
        degraded_count=Count(
            "department_statuses",
            filter=Q(department_statuses__status__in=(DepartmentState.DEGRADED, DepartmentState.STOPPED)),
            distinct=True,
        ),
        department_count=Count("department_statuses", distinct=True),
    ).order_by("-declared_at", "-id")


def logbook_entries(*, crisis: Crisis, since_seq: int = 0) -> QuerySet[LogbookEntry]:
    return (
        LogbookEntry.objects.filter(crisis=crisis, seq__gt=since_seq)
        .select_related("corrects")
        .prefetch_related(Prefetch("attachments", queryset=LogbookAttachment.objects.order_by("id")))
        .order_by("seq")
    )


@dataclass
class Console:
    crisis: Crisis
    entries: list[LogbookEntry]
    tasks: list[CrisisTask]
    departments: list[DepartmentStatus]
    systems: list[SystemStatus]
    decisions: list[Decision]
    damage: DamageAssessment | None
    history: list[StatusChange]
    now: Any

    @property
    def overdue_count(self) -> int:
        return sum(1 for task in self.tasks if task.is_overdue(self.now))

    @property
    def open_count(self) -> int:
        return sum(1 for task in self.tasks if task.status in OPEN_TASK_STATUSES)


def crisis_console(*, crisis: Crisis, entries_limit: int | None = 200, since_seq: int = 0) -> Console:
    """Everything the console page shows, in a fixed number of queries. The logbook is
    shown newest first; `since_seq`: only the entries after that number (live updates)."""
    entries = logbook_entries(crisis=crisis, since_seq=since_seq).order_by("-seq")
    now = timezone.now()
    tasks = list(CrisisTask.objects.filter(crisis=crisis).select_related("owner"))
    for task in tasks:
        task.overdue = task.is_overdue(now)  # type: ignore[attr-defined]
    return Console(
        crisis=crisis,
        entries=list(entries[:entries_limit] if entries_limit else entries),
        tasks=tasks,
        departments=list(DepartmentStatus.objects.filter(crisis=crisis)),
        systems=list(SystemStatus.objects.filter(crisis=crisis)),
        decisions=list(Decision.objects.filter(crisis=crisis).select_related("logbook_entry")),
        damage=DamageAssessment.objects.filter(crisis=crisis).first(),
        history=list(StatusChange.objects.filter(crisis=crisis)[:50]),
        now=now,
    )


def crisis_statistics(*, user: Any, include_exercises: bool = False) -> dict[str, Any]:
    """Counts of crises in scope, by type and status. Exercises are left out unless
    asked: they are never mixed with real crises."""
    crises = Crisis.objects.visible_to(user)
    if not include_exercises:
        crises = crises.filter(is_exercise=False)
    by_kind = dict(crises.values_list("kind").annotate(n=Count("id")).values_list("kind", "n"))
    return {
        "total": sum(by_kind.values()),
        "active": crises.filter(status=CrisisStatus.ACTIVE).count(),
        "closed": crises.filter(status=CrisisStatus.CLOSED).count(),
        "by_kind": by_kind,
        "include_exercises": include_exercises,
    }


def open_improvement_actions(establishment_ids: list[int]) -> list[ImprovementAction]:
    """The open improvement actions of these establishments' crises and exercises, by
    due date (a gap of their plans, plans/selectors.py)."""
    return list(ImprovementAction.objects.filter(
        crisis__establishment_id__in=establishment_ids, status=ImprovementStatus.OPEN,
    ).select_related("crisis").order_by("due_date", "id"))


# The crisis cell board ------------------------------------------------------------------


@dataclass
class CellBoard:
    """The "alert and cell" section of the console: each seat of the approved plan's
    crisis cell with its holder and deputies, and where each stands (alerting tables);
    who has not acknowledged; counts per answer; the meeting point."""

    crisis: Crisis
    campaign: Any
    seats: list[Any]
    answers: list[Any]
    waiting: list[Any]
    rendezvous: dict[str, Any]

    @property
    def filled(self) -> int:
        return sum(1 for seat in self.seats if seat.filled)


def crisis_cell_board(*, crisis: Crisis) -> CellBoard:
    from planblanc.alerting import selectors as alerting

    campaign = crisis.campaign
    rendezvous = {key: value for key, value in (crisis.bridge or {}).items() if value}
    if campaign is None:
        return CellBoard(crisis=crisis, campaign=None, seats=[], answers=[], waiting=[], rendezvous=rendezvous)
    return CellBoard(
        crisis=crisis, campaign=campaign, seats=alerting.campaign_seats(campaign=campaign),
        answers=alerting.campaign_answers(campaign=campaign),
        waiting=list(alerting.campaign_waiting(campaign=campaign)[:200]), rendezvous=rendezvous,
    )
