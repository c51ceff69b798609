"""Tables: what the charts, the exports and the drill-down share, and the charts built
from one bucket per establishment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db.models import (
    Case,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc.directory.models import Establishment, EstablishmentCategory, Region
from planblanc.readiness.models import Assessment, AssessmentSnapshot, GovernanceRecord, Referential
from planblanc.readiness.observatory.buckets import (
    approval_bucket_expr,
    approval_buckets,
    bucket_case,
    bucket_subquery,
    budget_bucket_expr,
    score_bucket_expr,
)
from planblanc.readiness.observatory.filters import (
    BUDGET_BUCKETS,
    COMPLETENESS_BUCKETS,
    MATURITY_BUCKETS,
    NONE,
    UNKNOWN,
    Filters,
    in_scope,
)


@dataclass
class Cell:
    value: int | float | None
    # How many establishments the figure counts (for the anonymised export).
    support: int
    # Query parameters of the drill-down behind this figure (None: no list).
    drill: dict[str, str] | None = None


@dataclass
class Row:
    key: str
    label: str
    cells: list[Cell]


@dataclass
class Table:
    slug: str
    title: str
    description: str
    row_header: str
    columns: list[tuple[str, str]]
    rows: list[Row] = field(default_factory=list)
    # "count" or "percent": how the cells read.
    unit: str = "count"
    # Not available: the app it reads is missing.
    unavailable: bool = False
    note: str = ""

    @property
    def is_empty(self) -> bool:
        return self.unavailable or not any(c.value for r in self.rows for c in r.cells)


def labels_for(group_by: str, keys: list[Any]) -> dict[Any, str]:
    if group_by == "region_id":
        return dict(Region.objects.filter(pk__in=[k for k in keys if k is not None]).values_list("pk", "name"))
    return {key: str(label) for key, label in EstablishmentCategory.choices}


def _bucket_labels(kind: str) -> list[tuple[str, str]]:
    if kind == "maturity":
        return [(NONE, _("Not assessed"))] + [(k, _("Score %(range)s") % {"range": k.replace("-", "–")})
                                              for k, _low, _high in MATURITY_BUCKETS]
    if kind == "budget":
        return [(NONE, _("Not given")), ("<2", _("Under 2 %")), ("2-5", _("2 to 5 %")),
                ("5-10", _("5 to 10 % (recommended)")), (">=10", _("10 % or more"))]
    if kind == "completeness":
        return [(NONE, _("No plan")), (UNKNOWN, _("Not computed yet")), ("0-25", _("0 to 25 %")), ("25-50", _("25 to 50 %")),
                ("50-75", _("50 to 75 %")), ("75-100", _("75 to 100 %"))]
    if kind == "approval":
        return [(NONE, _("Never approved")), (">2y", _("Over 2 years")), ("1-2y", _("1 to 2 years")),
                ("6-12m", _("6 to 12 months")), ("<6m", _("Under 6 months"))]
    raise ValueError(kind)


@dataclass
class Chart:
    """How one chart is computed: the per-establishment bucket expression (annotation
    name `bucket`) and the grouping of rows (None: one row)."""

    slug: str
    kind: str
    group_by: str | None


def bucket_annotate(establishments: QuerySet[Establishment], chart: str, filters: Filters,
                     year: int | None = None, referential: Referential | None = None) -> QuerySet[Establishment]:
    if chart in ("maturity_category", "maturity_region"):
        assert referential is not None
        return establishments.annotate(bucket=score_bucket_expr(referential=referential, filters=filters))
    if chart == "budget":
        assert year is not None
        return establishments.annotate(bucket=budget_bucket_expr(year=year))
    if chart == "completeness":
        bucket = bucket_case("metric", COMPLETENESS_BUCKETS)
        # A plan whose score was never computed (made before the column existed, until
        # `observatory_refresh` runs) is not the same as no plan at all.
        return establishments.annotate(metric=F("plan__completeness")).annotate(bucket=Case(
            When(plan__isnull=True, then=Value(NONE)),
            When(plan__completeness__isnull=True, then=Value(UNKNOWN)),
            default=bucket,
        ))
    if chart == "approval":
        return establishments.annotate(bucket=approval_bucket_expr(filters=filters))
    raise ValueError(chart)


BUCKET_CHARTS = {
    "maturity_category": ("maturity", "category"),
    "maturity_region": ("maturity", "region_id"),
    "budget": ("budget", None),
    "completeness": ("completeness", None),
    "approval": ("approval", None),
}


# (category, region id) → number of establishments in view
Totals = dict[tuple[str, int], int]


def observatory_totals(*, establishments: QuerySet[Establishment]) -> Totals:
    return {
        (row["category"], row["region_id"]): row["n"]
        for row in establishments.values("category", "region_id").annotate(n=Count("pk")).order_by()
    }


def fact_rows(slug: str, establishments: QuerySet[Establishment], filters: Filters, year: int | None,
               referential: Referential | None) -> QuerySet[Any]:
    """Rows of the table the chart counts (assessments, governance records, plans), each
    with its bucket; grouped by the establishment's category and region. Joins and one
    GROUP BY instead of a subquery per establishment: the national view stays fast."""
    if slug.startswith("maturity"):
        assert referential is not None
        rows: QuerySet[Any] = in_scope(Assessment.objects.filter(referential_id=referential.pk), establishments)
        if filters.end >= timezone.localdate():
            rows = rows.annotate(bucket=bucket_case("score", MATURITY_BUCKETS))
        else:
            rows = rows.annotate(bucket=bucket_subquery(
                AssessmentSnapshot.objects.filter(assessment=OuterRef("pk"), day__lte=filters.end).order_by("-day"),
                "score", MATURITY_BUCKETS))
        prefix = "establishment__"
    elif slug == "budget":
        rows = in_scope(GovernanceRecord.objects.filter(
            year=year, it_budget__gt=0, security_budget__isnull=False), establishments).annotate(
            share=ExpressionWrapper(F("security_budget") * 100 / F("it_budget"),
                                    output_field=DecimalField(max_digits=14, decimal_places=4)),
        ).annotate(bucket=bucket_case("share", BUDGET_BUCKETS))
        prefix = "establishment__"
    elif slug == "completeness":
        rows = in_scope(apps.get_model("plans", "Plan").objects.all(), establishments).annotate(bucket=Case(
            When(completeness__isnull=True, then=Value(UNKNOWN)), default=bucket_case("completeness", COMPLETENESS_BUCKETS),
        ))
        prefix = "establishment__"
    elif slug == "approval":
        plan_version = apps.get_model("plans", "PlanVersion")
        rows = in_scope(apps.get_model("plans", "Plan").objects.all(), establishments).annotate(
            bucket=bucket_subquery(
                plan_version.objects.filter(plan=OuterRef("pk"), approved_at__lt=filters.end_dt).order_by(
                    "-approved_at"),
                "approved_at", approval_buckets(filters=filters)))
        prefix = "establishment__"
    else:
        raise ValueError(slug)
    return rows.values(f"{prefix}category", f"{prefix}region_id", "bucket").annotate(n=Count("pk")).order_by()


def bucket_table(*, slug: str, establishments: QuerySet[Establishment], filters: Filters, title: str,
                  description: str, row_header: str, totals: Totals, year: int | None = None,
                  referential: Referential | None = None, facts: list[dict[str, Any]] | None = None) -> Table:
    kind, group_by = BUCKET_CHARTS[slug]
    columns = _bucket_labels(kind)

    def group_of(category: str, region_id: int) -> Any:
        return {"category": category, "region_id": region_id}.get(group_by or "", "all")

    counts: dict[Any, dict[str, int]] = {}
    in_view: dict[Any, int] = {}
    for (category, region_id), n in totals.items():
        key = group_of(category, region_id)
        in_view[key] = in_view.get(key, 0) + n
        counts.setdefault(key, {})
    if facts is None:
        facts = list(fact_rows(slug, establishments, filters, year, referential))
    for row in facts:
        key = group_of(row["establishment__category"], row["establishment__region_id"])
        if row["bucket"] != NONE and key in counts:
            counts[key][row["bucket"]] = counts[key].get(row["bucket"], 0) + row["n"]
    for key, buckets in counts.items():
        # Establishments with no row (not assessed, no budget, no plan) are the rest.
        buckets[NONE] = in_view[key] - sum(buckets.values())
    table = Table(slug=slug, title=title, description=description, row_header=row_header, columns=columns)
    labels = labels_for(group_by, list(counts)) if group_by else {"all": _("All establishments in view")}
    for key in sorted(counts, key=lambda k: str(labels.get(k, k))):
        cells = []
        for column, _label in columns:
            n = counts[key].get(column, 0)
            drill = {"chart": slug, "bucket": column}
            if group_by:
                drill["group"] = str(key)
            cells.append(Cell(value=n, support=n, drill=drill if n else None))
        table.rows.append(Row(key=str(key), label=labels.get(key, str(key)), cells=cells))
    return table
