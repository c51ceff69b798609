"""Indicators with their own table: exercise coverage and progress, incidents by
month, degraded operation, staff trained."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db.models import (
    Count,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc.directory.models import Establishment
from planblanc.readiness.observatory.filters import Filters, exercise_target
from planblanc.readiness.observatory.sources import (
    awareness_model,
    crisis_model,
    degraded_expr,
    exercised_expr,
    exercised_first_expr,
    incidents,
)
from planblanc.readiness.observatory.tables import Cell, Row, Table, labels_for


def exercise_coverage(*, establishments: QuerySet[Establishment], filters: Filters, group_by: str) -> Table:
    """Priority establishments exercised in the period, per region or category."""
    table = Table(
        slug="exercised", title=_("Priority establishments exercised in the period"),
        description=_("Share of the priority establishments that ran a crisis exercise between %(start)s and "
                      "%(end)s.") % {"start": filters.start, "end": filters.end},
        row_header=_("Region") if group_by == "region_id" else _("Category"),
        columns=[("priority", _("Priority establishments")), ("exercised", _("Exercised")),
                 ("share", _("Share exercised (%)"))],
        unit="percent",
    )
    expr = exercised_expr(filters)
    if expr is None:
        table.unavailable = True
        return table
    rows = (
        establishments.filter(is_priority=True).annotate(exercised=expr).values(group_by)
        .annotate(total=Count("pk"), done=Count("pk", filter=Q(exercised=True))).order_by()
    )
    data = {row[group_by]: (row["total"], row["done"]) for row in rows}
    labels = labels_for(group_by, list(data))
    for key in sorted(data, key=lambda k: str(labels.get(k, k))):
        total, done = data[key]
        share = round(100 * done / total, 1) if total else None
        table.rows.append(Row(key=str(key), label=labels.get(key, str(key)), cells=[
            Cell(total, total, {"chart": "exercised", "group": str(key), "bucket": "priority"}),
            Cell(done, done, {"chart": "exercised", "group": str(key), "bucket": "exercised"} if done else None),
            Cell(share, min(total, done)),
        ]))
    return table


@dataclass
class Progress:
    """Cumulative share of priority establishments exercised, month by month."""

    months: list[datetime.date]
    shares: list[float]
    priority: int
    exercised: int
    target_percent: int
    deadline: datetime.date
    available: bool = True

    @property
    def share(self) -> float | None:
        return round(100 * self.exercised / self.priority, 1) if self.priority else None


def _months(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    months, current = [], start.replace(day=1)
    while current <= end:
        months.append(current)
        current = (current + datetime.timedelta(days=32)).replace(day=1)
    return months


def exercise_progress(*, establishments: QuerySet[Establishment], filters: Filters) -> Progress:
    percent, deadline = exercise_target()
    months = _months(filters.start, filters.end)
    first = exercised_first_expr(filters)
    if first is None:
        return Progress(months=months, shares=[], priority=0, exercised=0, target_percent=percent,
                        deadline=deadline, available=False)
    by_month: dict[datetime.date | None, int] = {}
    rows = (
        establishments.filter(is_priority=True).annotate(first=first).annotate(month=TruncMonth("first"))
        .values("month").annotate(n=Count("pk")).order_by()
    )
    for row in rows:
        month = row["month"]
        if isinstance(month, datetime.datetime):
            month = timezone.localtime(month).date() if timezone.is_aware(month) else month.date()
        by_month[month] = by_month.get(month, 0) + row["n"]
    priority = sum(by_month.values())
    shares, running = [], 0
    for month in months:
        running += by_month.get(month, 0)
        shares.append(round(100 * running / priority, 1) if priority else 0.0)
    return Progress(months=months, shares=shares, priority=priority, exercised=running,
                    target_percent=percent, deadline=deadline)


def incidents_by_month(*, establishments: QuerySet[Establishment], filters: Filters) -> Table:
    crisis = crisis_model()
    kinds: list[tuple[str, str]] = []
    if crisis is not None:
        kinds = [(str(k), str(label)) for k, label in crisis._meta.get_field("kind").choices]
    table = Table(
        slug="incidents", title=_("Incidents by month and type"),
        description=_("Real crises declared in the period, by month and type (exercises are not counted)."),
        row_header=_("Month"), columns=kinds,
    )
    crises = incidents(establishments=establishments, filters=filters)
    if crises is None:
        table.unavailable = True
        return table
    counts: dict[datetime.date, dict[str, tuple[int, int]]] = {}
    for row in crises.annotate(month=TruncMonth("declared_at")).values("month", "kind").annotate(
        n=Count("pk"), establishments=Count("establishment", distinct=True)
    ).order_by():
        month = row["month"]
        if isinstance(month, datetime.datetime):
            month = timezone.localtime(month).date() if timezone.is_aware(month) else month.date()
        counts.setdefault(month, {})[row["kind"]] = (row["n"], row["establishments"])
    for month in _months(filters.start, filters.end):
        cells = []
        for kind, _label in kinds:
            n, support = counts.get(month, {}).get(kind, (0, 0))
            cells.append(Cell(n, support, {"chart": "incidents", "group": month.isoformat(), "bucket": kind}
                              if n else None))
        table.rows.append(Row(key=month.isoformat(), label=month.strftime("%Y-%m"), cells=cells))
    return table


def degraded_share(*, establishments: QuerySet[Establishment], filters: Filters, group_by: str) -> Table:
    table = Table(
        slug="degraded", title=_("Crises in degraded mode"),
        description=_("Share of the real crises of the period during which a department worked in degraded mode "
                      "or stopped."),
        row_header=_("Region") if group_by == "region_id" else _("Category"),
        columns=[("crises", _("Crises")), ("degraded", _("In degraded mode")), ("share", _("Share (%)"))],
        unit="percent",
    )
    crises = incidents(establishments=establishments, filters=filters)
    degraded = degraded_expr()
    if crises is None or degraded is None:
        table.unavailable = True
        return table
    key = f"establishment__{group_by}"
    rows = crises.annotate(degraded=degraded).values(key).annotate(
        total=Count("pk"), done=Count("pk", filter=Q(degraded=True)),
        total_est=Count("establishment", distinct=True),
        done_est=Count("establishment", distinct=True, filter=Q(degraded=True)),
    ).order_by()
    data = {row[key]: row for row in rows}
    labels = labels_for(group_by, list(data))
    for group in sorted(data, key=lambda k: str(labels.get(k, k))):
        row = data[group]
        share = round(100 * row["done"] / row["total"], 1) if row["total"] else None
        table.rows.append(Row(key=str(group), label=labels.get(group, str(group)), cells=[
            Cell(row["total"], row["total_est"], {"chart": "degraded", "group": str(group), "bucket": "crises"}),
            Cell(row["done"], row["done_est"],
                 {"chart": "degraded", "group": str(group), "bucket": "degraded"} if row["done"] else None),
            Cell(share, min(row["total_est"], row["done_est"])),
        ]))
    return table


def staff_trained(*, establishments: QuerySet[Establishment], filters: Filters, group_by: str) -> Table:
    """Share of the staff assigned awareness modules in the year of the period's end who
    completed all of them (CaRE axis 3), against the yearly target."""
    year = filters.end.year
    target = settings.AWARENESS_TARGET_PERCENT
    table = Table(
        slug="awareness", title=_("Staff trained in %(year)d") % {"year": year},
        description=_("Share of the staff assigned awareness modules in %(year)d who completed all of them; "
                      "target: %(target)d %%.") % {"year": year, "target": target},
        row_header=_("Region") if group_by == "region_id" else _("Category"),
        columns=[("staff", _("Staff assigned")), ("trained", _("Trained")), ("share", _("Share (%)")),
                 ("target", _("Target (%)"))],
        unit="percent",
    )
    model = awareness_model()
    if model is None:
        table.unavailable = True
        return table
    key = f"establishment__{group_by}"
    rows = model.objects.filter(
        year=year, establishment__in=establishments.values("pk"),
    ).values(key).annotate(
        staff=Sum("people"), trained=Sum("trained"), support=Count("establishment", distinct=True),
    ).order_by()
    data = {row[key]: row for row in rows}
    labels = labels_for(group_by, list(data))
    for group in sorted(data, key=lambda k: str(labels.get(k, k))):
        row = data[group]
        trained = row["trained"] or 0
        share = round(100 * trained / row["staff"], 1) if row["staff"] else None
        table.rows.append(Row(key=str(group), label=labels.get(group, str(group)), cells=[
            Cell(row["staff"], row["support"]), Cell(trained, row["support"]), Cell(share, row["support"]),
            Cell(target, row["support"]),
        ]))
    return table
