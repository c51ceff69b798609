"""Per-establishment expressions: the bucket of each establishment for a chart (score,
budget, plan approval…), shared by the chart and its drill-down."""

from __future__ import annotations

import datetime
from typing import Any

from django.apps import apps
from django.db.models import (
    Case,
    DecimalField,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from planblanc.directory.models import Establishment
from planblanc.readiness.models import Assessment, AssessmentSnapshot, GovernanceRecord, Referential
from planblanc.readiness.observatory.filters import (
    BUDGET_BUCKETS,
    MATURITY_BUCKETS,
    NONE,
    Filters,
    in_scope,
)


def bucket_case(field_name: str, edges: list[tuple[str, Any, Any]]) -> Case:
    whens = [When(**{f"{field_name}__isnull": True}, then=Value(NONE))]
    for key, low, high in edges:
        q = Q()
        if low is not None:
            q &= Q(**{f"{field_name}__gte": low})
        if high is not None:
            q &= Q(**{f"{field_name}__lt": high})
        whens.append(When(q, then=Value(key)))
    return Case(*whens, default=Value(NONE))


def referential_for(filters: Filters) -> Referential | None:
    """The referential whose scores make the maturity charts: the one asked for, else the
    ANSSI hygiene guide, else the first one loaded (latest version)."""
    referentials = list(Referential.objects.order_by("slug", "-loaded_at", "-pk").only("pk", "slug", "name", "version"))
    latest: dict[str, Referential] = {}
    for referential in referentials:
        latest.setdefault(referential.slug, referential)
    for slug in (filters.referential_slug, "hygiene-anssi"):
        if slug and slug in latest:
            return latest[slug]
    for slug, referential in latest.items():
        if "hygiene" in slug:
            return referential
    return next(iter(latest.values()), None)


def bucket_subquery(queryset: QuerySet[Any], field_name: str, edges: list[tuple[str, Any, Any]]) -> Any:
    """The bucket of the first row of `queryset`, or "none": the bucket is computed inside
    the subquery so that the database evaluates it once per establishment (a CASE over a
    subquery would run the subquery once per branch)."""
    bucket = bucket_case(field_name, edges)
    return Coalesce(Subquery(queryset.annotate(bucket=bucket).values("bucket")[:1]), Value(NONE))


def score_bucket_expr(*, referential: Referential, filters: Filters, today: datetime.date | None = None) -> Any:
    """The band of the establishment's score at the end of the period: the score kept on
    the assessment when the period reaches today, else the last daily snapshot up to then."""
    today = today or timezone.localdate()
    if filters.end >= today:
        rows: QuerySet[Any] = Assessment.objects.filter(
            establishment=OuterRef("pk"), referential_id=referential.pk).order_by()
    else:
        rows = AssessmentSnapshot.objects.filter(
            assessment__establishment=OuterRef("pk"), assessment__referential_id=referential.pk,
            day__lte=filters.end,
        ).order_by("-day")
    return bucket_subquery(rows, "score", MATURITY_BUCKETS)


def governance_year(*, establishments: QuerySet[Establishment], filters: Filters) -> int:
    """The latest year of the period for which some establishment in scope gave budgets."""
    year = in_scope(GovernanceRecord.objects.filter(
        year__gte=filters.start.year, year__lte=filters.end.year, it_budget__gt=0, security_budget__isnull=False,
    ), establishments).order_by().aggregate(year=Max("year"))["year"]
    return int(year or filters.end.year)


def budget_bucket_expr(*, year: int) -> Any:
    rows = GovernanceRecord.objects.filter(
        establishment=OuterRef("pk"), year=year, it_budget__gt=0, security_budget__isnull=False,
    ).order_by().annotate(
        share=ExpressionWrapper(
            F("security_budget") * 100 / F("it_budget"), output_field=DecimalField(max_digits=14, decimal_places=4)
        )
    )
    return bucket_subquery(rows, "share", BUDGET_BUCKETS)


def approval_bucket_expr(*, filters: Filters) -> Any:
    plan_version = apps.get_model("plans", "PlanVersion")
    rows = plan_version.objects.filter(
        plan__establishment=OuterRef("pk"), approved_at__lt=filters.end_dt).order_by("-approved_at")
    return bucket_subquery(rows, "approved_at", approval_buckets(filters=filters))


def approval_buckets(*, filters: Filters) -> list[tuple[str, Any, Any]]:
    """Age of the last approval at the end of the period, as date edges (newest last)."""
    end = filters.end_dt
    days = datetime.timedelta(days=1)
    return [
        (">2y", None, end - 730 * days), ("1-2y", end - 730 * days, end - 365 * days),
        ("6-12m", end - 365 * days, end - 182 * days), ("<6m", end - 182 * days, None),
    ]
