"""Observatory (observatoire): regional and national readiness dashboards.

Reads only; every figure is computed in SQL as a grouped count over the establishments
the viewer may see (`Establishment.objects.visible_to(user)`), so a dashboard costs a
fixed number of queries whatever the number of establishments. Each chart is built from
one per-establishment expression (a bucket: "score 40–60", "exercised", …): the same
expression filters the establishments behind a bar for the drill-down, so a figure and
its list always agree.

Readers of the crisis and exercise apps are small functions that return None ("no data")
when the app or a field they read is missing. Exercise crises (Crisis.is_exercise) are
never counted as incidents; they count as an exercise.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Least, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc.directory.models import Establishment, EstablishmentCategory, Region
from planblanc.readiness.models import Assessment, AssessmentSnapshot, GovernanceRecord, Referential
from planblanc.tenancy import Perm, scope_for

# Cells counting fewer establishments than this are suppressed in the anonymised export.
ANONYMITY_THRESHOLD = 5
SUPPRESSED = "<5"

MATURITY_BUCKETS: list[tuple[str, Decimal | None, Decimal | None]] = [
    ("0-20", None, Decimal(20)), ("20-40", Decimal(20), Decimal(40)), ("40-60", Decimal(40), Decimal(60)),
    ("60-80", Decimal(60), Decimal(80)), ("80-100", Decimal(80), None),
]
BUDGET_BUCKETS: list[tuple[str, Decimal | None, Decimal | None]] = [
    ("<2", None, Decimal(2)), ("2-5", Decimal(2), Decimal(5)), ("5-10", Decimal(5), Decimal(10)),
    (">=10", Decimal(10), None),
]
COMPLETENESS_BUCKETS: list[tuple[str, int | None, int | None]] = [
    ("0-25", None, 25), ("25-50", 25, 50), ("50-75", 50, 75), ("75-100", 75, None),
]
NONE = "none"
UNKNOWN = "unknown"


# Access and filters ------------------------------------------------------------------


def observatory_is_national(*, user: Any) -> bool:
    return scope_for(user, Perm.VIEW_DIRECTORY).national


def exercise_target() -> tuple[int, datetime.date]:
    """The national target: this share (percent) of priority establishments exercised by
    the deadline (settings OBSERVATORY_EXERCISE_TARGET_PERCENT and _DEADLINE)."""
    percent = int(getattr(settings, "OBSERVATORY_EXERCISE_TARGET_PERCENT", 100))
    deadline = getattr(settings, "OBSERVATORY_EXERCISE_TARGET_DEADLINE", "2027-12-31")
    if isinstance(deadline, str):
        deadline = datetime.date.fromisoformat(deadline)
    return percent, deadline


@dataclass(frozen=True)
class Filters:
    start: datetime.date
    end: datetime.date
    category: str = ""
    region_id: int | None = None
    referential_slug: str = ""

    @classmethod
    def default(cls, *, today: datetime.date | None = None, **kwargs: Any) -> Filters:
        today = today or timezone.localdate()
        return cls(start=datetime.date(today.year, 1, 1), end=datetime.date(today.year, 12, 31), **kwargs)

    def as_params(self) -> dict[str, str]:
        params = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.category:
            params["category"] = self.category
        if self.region_id:
            params["region"] = str(self.region_id)
        if self.referential_slug:
            params["referential"] = self.referential_slug
        return params

    @property
    def start_dt(self) -> datetime.datetime:
        return datetime.datetime.combine(self.start, datetime.time.min, tzinfo=timezone.get_current_timezone())

    @property
    def end_dt(self) -> datetime.datetime:
        """Exclusive upper bound: the day after `end`, at midnight."""
        return datetime.datetime.combine(
            self.end + datetime.timedelta(days=1), datetime.time.min, tzinfo=timezone.get_current_timezone()
        )


def observatory_establishments(*, user: Any, filters: Filters) -> QuerySet[Establishment]:
    """The establishments behind every figure: the viewer's scope, then the filters."""
    establishments = Establishment.objects.visible_to(user, Perm.VIEW_DIRECTORY)
    if filters.region_id:
        establishments = establishments.filter(region_id=filters.region_id)
    if filters.category:
        establishments = establishments.filter(category=filters.category)
    return establishments.order_by()


# Readers of other apps, degrading to None ---------------------------------------------


def _model(app_label: str, name: str, fields: set[str]) -> Any:
    try:
        model = apps.get_model(app_label, name)
    except LookupError:
        return None
    names = {f.name for f in model._meta.get_fields()}
    return model if fields <= names else None


def crisis_model() -> Any:
    return _model("crisis", "Crisis", {"establishment", "kind", "is_exercise", "declared_at"})


def exercise_model() -> Any:
    return _model("exercises", "Exercise", {"establishment", "planned_start", "status", "counts_for_obligation"})


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
    current = _model("crisis", "DepartmentStatus", {"crisis", "status"})
    if current is None:
        return None
    expr = Exists(current.objects.filter(crisis=OuterRef("pk"), status__in=DEGRADED_STATES))
    history = _model("crisis", "StatusChange", {"crisis", "department_status", "to_status"})
    if history is not None:
        expr = expr | Exists(
            history.objects.filter(crisis=OuterRef("pk"), department_status__isnull=False,
                                   to_status__in=DEGRADED_STATES)
        )
    return expr


# Per-establishment expressions ---------------------------------------------------------


def _buckets(field_name: str, edges: list[tuple[str, Any, Any]]) -> Case:
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


def _bucket_subquery(queryset: QuerySet[Any], field_name: str, edges: list[tuple[str, Any, Any]]) -> Any:
    """The bucket of the first row of `queryset`, or "none": the bucket is computed inside
    the subquery so that the database evaluates it once per establishment (a CASE over a
    subquery would run the subquery once per branch)."""
    bucket = _buckets(field_name, edges)
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
    return _bucket_subquery(rows, "score", MATURITY_BUCKETS)


def governance_year(*, establishments: QuerySet[Establishment], filters: Filters) -> int:
    """The latest year of the period for which some establishment in scope gave budgets."""
    year = _in_scope(GovernanceRecord.objects.filter(
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
    return _bucket_subquery(rows, "share", BUDGET_BUCKETS)


def approval_bucket_expr(*, filters: Filters) -> Any:
    plan_version = apps.get_model("plans", "PlanVersion")
    rows = plan_version.objects.filter(
        plan__establishment=OuterRef("pk"), approved_at__lt=filters.end_dt).order_by("-approved_at")
    return _bucket_subquery(rows, "approved_at", approval_buckets(filters=filters))


def approval_buckets(*, filters: Filters) -> list[tuple[str, Any, Any]]:
    """Age of the last approval at the end of the period, as date edges (newest last)."""
    end = filters.end_dt
    days = datetime.timedelta(days=1)
    return [
        (">2y", None, end - 730 * days), ("1-2y", end - 730 * days, end - 365 * days),
        ("6-12m", end - 365 * days, end - 182 * days), ("<6m", end - 182 * days, None),
    ]


# Tables: what the charts, the exports and the drill-down share ---------------------------


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


def _labels_for(group_by: str, keys: list[Any]) -> dict[Any, str]:
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


def _annotate_bucket(establishments: QuerySet[Establishment], chart: str, filters: Filters,
                     year: int | None = None, referential: Referential | None = None) -> QuerySet[Establishment]:
    if chart in ("maturity_category", "maturity_region"):
        assert referential is not None
        return establishments.annotate(bucket=score_bucket_expr(referential=referential, filters=filters))
    if chart == "budget":
        assert year is not None
        return establishments.annotate(bucket=budget_bucket_expr(year=year))
    if chart == "completeness":
        bucket = _buckets("metric", COMPLETENESS_BUCKETS)
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


def _in_scope(queryset: QuerySet[Any], establishments: QuerySet[Establishment], path: str = "establishment"
              ) -> QuerySet[Any]:
    """Restrict rows to the establishments in view; the whole country needs no filter
    (an IN over 45,000 ids would only slow the national view down)."""
    if not establishments.query.where:
        return queryset
    return queryset.filter(**{f"{path}__in": establishments.values("pk")})


# (category, region id) → number of establishments in view
Totals = dict[tuple[str, int], int]


def observatory_totals(*, establishments: QuerySet[Establishment]) -> Totals:
    return {
        (row["category"], row["region_id"]): row["n"]
        for row in establishments.values("category", "region_id").annotate(n=Count("pk")).order_by()
    }


def _fact_rows(slug: str, establishments: QuerySet[Establishment], filters: Filters, year: int | None,
               referential: Referential | None) -> QuerySet[Any]:
    """Rows of the table the chart counts (assessments, governance records, plans), each
    with its bucket; grouped by the establishment's category and region. Joins and one
    GROUP BY instead of a subquery per establishment: the national view stays fast."""
    if slug.startswith("maturity"):
        assert referential is not None
        rows: QuerySet[Any] = _in_scope(Assessment.objects.filter(referential_id=referential.pk), establishments)
        if filters.end >= timezone.localdate():
            rows = rows.annotate(bucket=_buckets("score", MATURITY_BUCKETS))
        else:
            rows = rows.annotate(bucket=_bucket_subquery(
                AssessmentSnapshot.objects.filter(assessment=OuterRef("pk"), day__lte=filters.end).order_by("-day"),
                "score", MATURITY_BUCKETS))
        prefix = "establishment__"
    elif slug == "budget":
        rows = _in_scope(GovernanceRecord.objects.filter(
            year=year, it_budget__gt=0, security_budget__isnull=False), establishments).annotate(
            share=ExpressionWrapper(F("security_budget") * 100 / F("it_budget"),
                                    output_field=DecimalField(max_digits=14, decimal_places=4)),
        ).annotate(bucket=_buckets("share", BUDGET_BUCKETS))
        prefix = "establishment__"
    elif slug == "completeness":
        rows = _in_scope(apps.get_model("plans", "Plan").objects.all(), establishments).annotate(bucket=Case(
            When(completeness__isnull=True, then=Value(UNKNOWN)), default=_buckets("completeness", COMPLETENESS_BUCKETS),
        ))
        prefix = "establishment__"
    elif slug == "approval":
        plan_version = apps.get_model("plans", "PlanVersion")
        rows = _in_scope(apps.get_model("plans", "Plan").objects.all(), establishments).annotate(
            bucket=_bucket_subquery(
                plan_version.objects.filter(plan=OuterRef("pk"), approved_at__lt=filters.end_dt).order_by(
                    "-approved_at"),
                "approved_at", approval_buckets(filters=filters)))
        prefix = "establishment__"
    else:
        raise ValueError(slug)
    return rows.values(f"{prefix}category", f"{prefix}region_id", "bucket").annotate(n=Count("pk")).order_by()


def _bucket_table(*, slug: str, establishments: QuerySet[Establishment], filters: Filters, title: str,
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
        facts = list(_fact_rows(slug, establishments, filters, year, referential))
    for row in facts:
        key = group_of(row["establishment__category"], row["establishment__region_id"])
        if row["bucket"] != NONE and key in counts:
            counts[key][row["bucket"]] = counts[key].get(row["bucket"], 0) + row["n"]
    for key, buckets in counts.items():
        # Establishments with no row (not assessed, no budget, no plan) are the rest.
        buckets[NONE] = in_view[key] - sum(buckets.values())
    table = Table(slug=slug, title=title, description=description, row_header=row_header, columns=columns)
    labels = _labels_for(group_by, list(counts)) if group_by else {"all": _("All establishments in view")}
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
    labels = _labels_for(group_by, list(data))
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
    labels = _labels_for(group_by, list(data))
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


def awareness_model() -> Any:
    # Per-campaign counters (people assigned, people who completed every module), kept by
    # the awareness app: one row per establishment and year, not millions of assignments.
    return _model("awareness", "Campaign", {"establishment", "year", "people", "trained"})


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
    labels = _labels_for(group_by, list(data))
    for group in sorted(data, key=lambda k: str(labels.get(k, k))):
        row = data[group]
        trained = row["trained"] or 0
        share = round(100 * trained / row["staff"], 1) if row["staff"] else None
        table.rows.append(Row(key=str(group), label=labels.get(group, str(group)), cells=[
            Cell(row["staff"], row["support"]), Cell(trained, row["support"]), Cell(share, row["support"]),
            Cell(target, row["support"]),
        ]))
    return table


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
        facts = list(_fact_rows("maturity_category", establishments, filters, None, referential))
        tables["maturity_category"] = _bucket_table(
            slug="maturity_category", title=_("Maturity by category"), description=maturity_description,
            row_header=_("Category"), referential=referential, facts=facts, **common,
        )
        if group_by == "region_id":
            tables["maturity_region"] = _bucket_table(
                slug="maturity_region", title=_("Maturity by region"), description=maturity_description,
                row_header=_("Region"), referential=referential, facts=facts, **common,
            )
    tables["budget"] = _bucket_table(
        slug="budget", year=year, title=_("Security share of the IT budget (%(year)d)") % {"year": year},
        description=_("Establishments by the share of their IT budget spent on security; 5 to 10 % is "
                      "recommended."), row_header=_("Establishments"), **common,
    )
    tables["incidents"] = incidents_by_month(establishments=establishments, filters=filters)
    tables["degraded"] = degraded_share(establishments=establishments, filters=filters, group_by=group_by)
    tables["awareness"] = staff_trained(establishments=establishments, filters=filters, group_by=group_by)
    tables["completeness"] = _bucket_table(
        slug="completeness", title=_("White plan completeness"),
        description=_("Establishments by the completeness score of their white plan (last computed)."),
        row_header=_("Establishments"), **common,
    )
    tables["approval"] = _bucket_table(
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
        return _annotate_bucket(establishments, chart, filters, year=year, referential=referential).filter(
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
