"""Reads of the crisis console, always through tenancy: what is outside the user's scope
is a 404. Statistics leave exercises out unless asked."""

from __future__ import annotations

import datetime
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


# The console's sections: each has its own stamp, read in one small query by pollers.
SECTION_STAMPS = {
    "logbook": "head_seq", "tasks": "tasks_rev", "mytasks": "tasks_rev", "board": "board_rev",
    "decisions": "decisions_rev", "damage": "damage_rev",
    # Sections without a live list: their pollers only notice the end of the crisis.
    "alert": "status", "notifications": "status",
}


def crisis_section_stamp(*, user: Any, crisis_id: int, section: str) -> tuple[int, bool] | None:
    """(stamp of the section, crisis still active), in one query; None: not visible."""
    field = SECTION_STAMPS[section]
    row = Crisis.objects.visible_to(user).filter(pk=crisis_id).values_list(field, "status").first()
    if row is None:
        return None
    return row[0], row[1] == CrisisStatus.ACTIVE


def crises_active_for_user(*, user: Any, limit: int = 5) -> list[Crisis]:
    """Active crises (real or exercise) that this login follows: those of its
    establishments, and of the group, region or nation within its scope. One query."""
    if not getattr(user, "is_authenticated", False):
        return []
    return list(
        Crisis.objects.visible_to(user).filter(status=CrisisStatus.ACTIVE)
        .select_related("establishment").only(
            "pk", "kind", "is_exercise", "declared_at", "status", "establishment__name",
        ).order_by("is_exercise", "-declared_at", "-id")[:limit]
    )


TASK_FILTERS = ("open", "overdue", "all")


def crisis_tasks(*, crisis: Crisis, user: Any = None, mine: bool = False, which: str = "open") -> list[CrisisTask]:
    """The task board, overdue first, then by due time. `mine`: the tasks whose owner is
    the person linked to this login; `which`: open, overdue or all."""
    now = timezone.now()
    tasks = CrisisTask.objects.filter(crisis=crisis)
    if mine:
        tasks = tasks.filter(owner__user=user) if getattr(user, "is_authenticated", False) else tasks.none()
    if which in ("open", "overdue"):
        tasks = tasks.filter(status__in=OPEN_TASK_STATUSES)
    if which == "overdue":
        tasks = tasks.filter(due_at__lt=now)
    rows = list(tasks.only(
        "pk", "title", "sheet_title", "owner_label", "due_at", "status", "order", "crisis_id",
    ))
    for task in rows:
        task.overdue = task.is_overdue(now)  # type: ignore[attr-defined]
    far = now + datetime.timedelta(days=3650)
    rows.sort(key=lambda t: (not t.overdue, t.status not in OPEN_TASK_STATUSES,  # type: ignore[attr-defined]
                             t.due_at or far, t.order, t.pk))
    return rows


def crisis_task_counts(*, crisis: Crisis, user: Any = None) -> dict[str, int]:
    now = timezone.now()
    open_q = Q(status__in=OPEN_TASK_STATUSES)
    mine_q = Q(owner__user=user) if getattr(user, "is_authenticated", False) else Q(pk__in=[])
    return CrisisTask.objects.filter(crisis=crisis).aggregate(
        open=Count("id", filter=open_q),
        overdue=Count("id", filter=open_q & Q(due_at__lt=now)),
        mine=Count("id", filter=open_q & mine_q),
    )


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


def status_board_summary(*, crisis: Crisis) -> str:
    """The status board in a few plain lines (for a chat reply or an SMS): departments
    not running normally, IT systems not up, open tasks."""
    from django.utils.translation import gettext as _

    from planblanc.crisis.models import (
        CrisisTask,
        DepartmentState,
        DepartmentStatus,
        SystemState,
        SystemStatus,
        TaskStatus,
    )

    lines = [_("Status board — %(establishment)s, crisis #%(id)d") % {
        "establishment": crisis.establishment.name, "id": crisis.pk,
    }]
    if crisis.is_exercise:
        lines[0] = _("EXERCISE.") + " " + lines[0]
    departments = DepartmentStatus.objects.filter(crisis=crisis).exclude(status=DepartmentState.NORMAL)
    systems = SystemStatus.objects.filter(crisis=crisis).exclude(status__in=(SystemState.UP, SystemState.RESTORED))
    for label, rows in ((_("Departments"), departments), (_("IT systems"), systems)):
        items = [f"{row.name}: {row.get_status_display()}" + (f" ({row.note})" if row.note else "") for row in rows]
        lines.append(f"{label}: " + ("; ".join(items) if items else _("all normal")))
    open_tasks = CrisisTask.objects.filter(crisis=crisis, status__in=(TaskStatus.TODO, TaskStatus.DOING)).count()
    lines.append(_("Open tasks: %(count)d") % {"count": open_tasks})
    return "\n".join(lines)
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
