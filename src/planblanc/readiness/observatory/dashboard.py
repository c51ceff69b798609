"""The dashboard, its drill-down and the anonymised export."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    QuerySet,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc.directory.models import Establishment
from planblanc.readiness.models import Referential
from planblanc.readiness.observatory.buckets import governance_year, referential_for
from planblanc.readiness.observatory.filters import (
    ANONYMITY_THRESHOLD,
    SUPPRESSED,
    Filters,
    observatory_establishments,
)
from planblanc.readiness.observatory.indicators import (
    Progress,
    degraded_share,
    exercise_coverage,
    exercise_progress,
    incidents_by_month,
    staff_trained,
)
from planblanc.readiness.observatory.sources import degraded_expr, exercised_expr, incidents
from planblanc.readiness.observatory.tables import (
    BUCKET_CHARTS,
    Cell,
    Table,
    bucket_annotate,
    bucket_table,
    fact_rows,
    observatory_totals,
)


@dataclass
class Dashboard:
    filters: Filters
    national: bool
    establishments: int
    progress: Progress
    referential: Referential | None
    budget_year: int
    tables: dict[str, Table]


@contextmanager
def _without_jit() -> Iterator[None]:
    """PostgreSQL compiles queries it deems costly (correlated subqueries over tens of
    thousands of rows) with JIT: half a second of compilation for 100 ms of work. These
    queries are short; JIT is turned off for this transaction only."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
        yield


def observatory_dashboard(*, user: Any, filters: Filters, national: bool) -> Dashboard:
    """Every figure of the dashboard, in a fixed number of queries."""
    with _without_jit():
        return _dashboard(user=user, filters=filters, national=national)


def _dashboard(*, user: Any, filters: Filters, national: bool) -> Dashboard:
    establishments = observatory_establishments(user=user, filters=filters)
    group_by = "region_id" if national and not filters.region_id else "category"
    referential = referential_for(filters)
    year = governance_year(establishments=establishments, filters=filters)
    totals = observatory_totals(establishments=establishments)
    common: dict[str, Any] = {"establishments": establishments, "filters": filters, "totals": totals}
    tables: dict[str, Table] = {}
    tables["exercised"] = exercise_coverage(establishments=establishments, filters=filters, group_by=group_by)
    if referential is not None:
        maturity_description = _("Score against %(referential)s at the end of the period, in bands of 20 "
                                 "points.") % {"referential": referential.name}
        # One query for both maturity tables: grouped by category and region together.
        facts = list(fact_rows("maturity_category", establishments, filters, None, referential))
        tables["maturity_category"] = bucket_table(
            slug="maturity_category", title=_("Maturity by category"), description=maturity_description,
            row_header=_("Category"), referential=referential, facts=facts, **common,
        )
        if group_by == "region_id":
            tables["maturity_region"] = bucket_table(
                slug="maturity_region", title=_("Maturity by region"), description=maturity_description,
                row_header=_("Region"), referential=referential, facts=facts, **common,
            )
    tables["budget"] = bucket_table(
        slug="budget", year=year, title=_("Security share of the IT budget (%(year)d)") % {"year": year},
        description=_("Establishments by the share of their IT budget spent on security; 5 to 10 % is "
                      "recommended."), row_header=_("Establishments"), **common,
    )
    tables["incidents"] = incidents_by_month(establishments=establishments, filters=filters)
    tables["degraded"] = degraded_share(establishments=establishments, filters=filters, group_by=group_by)
    tables["awareness"] = staff_trained(establishments=establishments, filters=filters, group_by=group_by)
    tables["completeness"] = bucket_table(
        slug="completeness", title=_("White plan completeness"),
        description=_("Establishments by the completeness score of their white plan (last computed)."),
        row_header=_("Establishments"), **common,
    )
    tables["approval"] = bucket_table(
        slug="approval", title=_("Age of the last plan approval"),
        description=_("Time between the last approval of the white plan and the end of the period."),
        row_header=_("Establishments"), **common,
    )
    return Dashboard(
        filters=filters, national=national, establishments=sum(totals.values()),
        progress=exercise_progress(establishments=establishments, filters=filters),
        referential=referential, budget_year=year, tables=tables,
    )


# Drill-down ------------------------------------------------------------------------------


def observatory_drilldown(*, user: Any, filters: Filters, chart: str, group: str, bucket: str) -> QuerySet[Establishment]:
    """The establishments behind one figure, among those the viewer may see. An unknown
    chart or bucket gives an empty list, never a wider one."""
    establishments = observatory_establishments(user=user, filters=filters)
    group_field = "region_id" if chart in ("maturity_region",) else "category"
    if chart in ("exercised", "degraded") and group:
        group_field = "region_id" if group.isdigit() else "category"
    if group and chart not in ("incidents", "budget", "completeness", "approval"):
        establishments = establishments.filter(**{group_field: group})
    if chart in BUCKET_CHARTS:
        referential = referential_for(filters) if chart.startswith("maturity") else None
        if chart.startswith("maturity") and referential is None:
            return establishments.none()
        year = governance_year(establishments=establishments, filters=filters) if chart == "budget" else None
        return bucket_annotate(establishments, chart, filters, year=year, referential=referential).filter(
            bucket=bucket)
    if chart == "exercised":
        priority = establishments.filter(is_priority=True)
        if bucket == "priority":
            return priority
        expr = exercised_expr(filters)
        if bucket == "exercised" and expr is not None:
            return priority.annotate(exercised=expr).filter(exercised=True)
        return establishments.none()
    if chart in ("incidents", "degraded"):
        crises = incidents(establishments=establishments, filters=filters)
        if crises is None:
            return establishments.none()
        if chart == "incidents":
            try:
                month = datetime.date.fromisoformat(group)
            except ValueError:
                return establishments.none()
            tz = timezone.get_current_timezone()
            start = datetime.datetime.combine(month.replace(day=1), datetime.time.min, tzinfo=tz)
            end = datetime.datetime.combine((start + datetime.timedelta(days=32)).date().replace(day=1),
                                            datetime.time.min, tzinfo=tz)
            crises = crises.filter(kind=bucket, declared_at__gte=start, declared_at__lt=end)
        elif bucket == "degraded":
            degraded = degraded_expr()
            if degraded is None:
                return establishments.none()
            crises = crises.annotate(degraded=degraded).filter(degraded=True)
        elif bucket != "crises":
            return establishments.none()
        return establishments.filter(pk__in=crises.values("establishment_id"))
    return establishments.none()


# Anonymised export -------------------------------------------------------------------------


def anonymised_value(cell: Cell) -> str:
    """A cell as the anonymised export shows it: suppressed ("<5") when it counts fewer
    than ANONYMITY_THRESHOLD establishments (zero included: an empty cell also says
    something about the few around it)."""
    if cell.value is None:
        return ""
    if cell.support < ANONYMITY_THRESHOLD:
        return SUPPRESSED
    return str(cell.value)
