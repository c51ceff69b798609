"""Reads for readiness: applicable referentials, assessments with their score and
trend, open actions, the governance view, and aggregates for the observatory.

The aggregates read the score kept on each assessment (Assessment.score, refreshed by
every answer) and its daily snapshots, never the answers: a national dashboard over
tens of thousands of establishments is one grouped query, not one per establishment.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import import_module
from typing import Any

from django.db.models import Avg, Count, Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc.directory.models import Establishment, Person
from planblanc.plans.models import Plan, PlanVersion
from planblanc.plans.selectors import plan_gaps
from planblanc.readiness.models import (
    OPEN_ACTION_STATUSES,
    Action,
    Answer,
    AnswerLevel,
    Assessment,
    AssessmentSnapshot,
    Evidence,
    GovernanceRecord,
    Measure,
    Referential,
    Theme,
)
from planblanc.tenancy import Perm, get_for_user

# The national recommendation: 5 to 10 % of the IT budget on security.
SECURITY_SHARE_TARGET = (Decimal(5), Decimal(10))


def referential_list() -> list[Referential]:
    """The latest loaded version of each referential."""
    latest: dict[str, Referential] = {}
    for referential in Referential.objects.order_by("slug", "-loaded_at", "-pk"):
        latest.setdefault(referential.slug, referential)
    return sorted(latest.values(), key=lambda r: r.name)


def referentials_applicable(*, establishment: Establishment) -> list[Referential]:
    """Referentials the establishment is held to: a referential for essential-services
    operators only is not proposed to the others."""
    return [r for r in referential_list() if r.applies_to_establishment(establishment)]


def assessment_for_user(*, user: Any, pk: int, perm: Perm = Perm.VIEW_DIRECTORY) -> Assessment:
    return get_for_user(
        user, Assessment.objects.select_related("establishment", "referential"), perm, pk=pk
    )


def establishment_assessments(*, establishment: Establishment) -> list[Assessment]:
    return list(
        Assessment.objects.filter(establishment=establishment).select_related("referential")
        .order_by("referential__name")
    )


@dataclass
class MeasureRow:
    measure: Measure
    answer: Answer | None
    evidence: list[Evidence] = field(default_factory=list)


@dataclass
class ThemeBlock:
    theme: Theme
    rows: list[MeasureRow]


def assessment_levels(*, assessment: Assessment) -> list[AnswerLevel]:
    return list(AnswerLevel.objects.filter(scale__referential_id=assessment.referential_id).order_by("position"))


def assessment_rows(*, assessment: Assessment, measure_ids: list[int] | None = None) -> list[ThemeBlock]:
    """Themes → measures with the current answer and the evidence, in four queries."""
    measures = Measure.objects.filter(referential_id=assessment.referential_id, is_active=True).select_related("theme")
    if measure_ids is not None:
        measures = measures.filter(pk__in=measure_ids)
    answers = {
        a.measure_id: a
        for a in Answer.objects.filter(assessment=assessment, is_current=True).select_related("level")
    }
    evidence: dict[int, list[Evidence]] = defaultdict(list)
    for item in Evidence.objects.filter(assessment=assessment).order_by("-added_at"):
        evidence[item.measure_id].append(item)
    blocks: dict[int, ThemeBlock] = {}
    for measure in measures.order_by("theme__position", "position"):
        block = blocks.setdefault(measure.theme_id, ThemeBlock(theme=measure.theme, rows=[]))
        block.rows.append(MeasureRow(measure=measure, answer=answers.get(measure.pk), evidence=evidence[measure.pk]))
    return list(blocks.values())


def answer_history(*, assessment: Assessment, measure: Measure) -> QuerySet[Answer]:
    return Answer.objects.filter(assessment=assessment, measure=measure).select_related("level").order_by("-answered_at", "-pk")


def assessment_trend(*, assessment: Assessment, since: datetime.date | None = None) -> list[AssessmentSnapshot]:
    """The score day by day (one snapshot per day an answer was given)."""
    snapshots = AssessmentSnapshot.objects.filter(assessment=assessment)
    if since is not None:
        snapshots = snapshots.filter(day__gte=since)
    return list(snapshots.order_by("day"))


def trends_for(*, assessments: list[Assessment], points: int = 12) -> dict[int, list[AssessmentSnapshot]]:
    """The last `points` snapshots of several assessments, in one query."""
    by_assessment: dict[int, list[AssessmentSnapshot]] = defaultdict(list)
    for snap in AssessmentSnapshot.objects.filter(assessment__in=assessments).order_by("assessment_id", "day"):
        by_assessment[snap.assessment_id].append(snap)
    return {pk: rows[-points:] for pk, rows in by_assessment.items()}


def action_list(*, establishment: Establishment, open_only: bool = False) -> QuerySet[Action]:
    actions = Action.objects.filter(establishment=establishment).select_related("owner", "measure", "measure__referential")
    if open_only:
        actions = actions.filter(status__in=OPEN_ACTION_STATUSES)
    return actions.order_by("status", "due_on", "pk")


def actions_open(*, establishment: Establishment) -> QuerySet[Action]:
    return action_list(establishment=establishment, open_only=True)


def actions_overdue_count(*, establishment: Establishment, today: datetime.date | None = None) -> int:
    today = today or timezone.localdate()
    return actions_open(establishment=establishment).filter(due_on__lt=today).count()


def establishment_people(*, establishment: Establishment, with_group: bool = False) -> QuerySet[Person]:
    """People who may own an action or (pooled) hold a governance role."""
    where = Q(memberships__establishment=establishment)
    if with_group and establishment.group_id:
        where |= Q(memberships__establishment__group_id=establishment.group_id)
    return Person.objects.filter(where).distinct().order_by("last_name", "first_name")


@dataclass
class GovernanceView:
    establishment: Establishment
    year: int
    record: GovernanceRecord | None
    is_essential_operator: bool
    plan_approved_at: datetime.datetime | None
    plan_blocking_gaps: int | None
    last_exercise_on: datetime.date | None
    gaps: list[str]

    @property
    def security_share(self) -> Decimal | None:
        return self.record.security_share if self.record else None


def _last_exercise_on(establishment: Establishment) -> datetime.date | None:
    """Read from the exercises app when it is installed and offers
    `selectors.last_exercise_date(establishment=…)`; None otherwise."""
    try:
        exercise_selectors = import_module("planblanc.exercises.selectors")
    except ImportError:
        return None
    reader = getattr(exercise_selectors, "last_exercise_date", None)
    return reader(establishment=establishment) if reader else None


def governance_view(*, establishment: Establishment, year: int | None = None) -> GovernanceView:
    year = year or timezone.localdate().year
    record = (
        GovernanceRecord.objects.filter(establishment=establishment, year=year)
        .select_related("ciso", "dpo").first()
    )

    plan = Plan.objects.filter(establishment=establishment).select_related("establishment").first()
    approved_at = None
    blocking = None
    if plan is not None:
        approved_at = PlanVersion.objects.filter(plan=plan).aggregate(latest=Max("approved_at"))["latest"]
        blocking = plan_gaps(plan=plan).blocking_count
    gaps: list[str] = []
    if record is None:
        gaps.append(_("Nothing recorded for %(year)d yet.") % {"year": year})
    else:
        if record.ciso_id is None and not record.ciso_pooled:
            gaps.append(_("No CISO or security correspondent named."))
        if record.dpo_id is None and not record.dpo_pooled:
            gaps.append(_("No data protection officer (DPO) named."))
        share = record.security_share
        if share is None:
            gaps.append(_("IT and security budgets not given."))
        elif share < SECURITY_SHARE_TARGET[0]:
            gaps.append(_("Security is %(share)s %% of the IT budget, under the 5 %% recommended.") % {"share": share})
        if not record.security_in_risk_management:
            gaps.append(_("Digital security is not yet in the establishment's risk management."))
    if approved_at is None:
        gaps.append(_("The white plan has no approved version."))
    return GovernanceView(
        establishment=establishment, year=year, record=record,
        is_essential_operator=establishment.is_essential_operator,
        plan_approved_at=approved_at, plan_blocking_gaps=blocking,
        last_exercise_on=_last_exercise_on(establishment), gaps=gaps,
    )


# Aggregates for dashboards --------------------------------------------------------------


def scores_by_establishment(
    *, establishments: QuerySet[Establishment], referential_slugs: list[str] | None = None
) -> dict[int, dict[str, Decimal | None]]:
    """{establishment id: {referential slug: current score}} in one query, whatever the
    number of establishments. `establishments` is a queryset already scoped by
    `visible_to` (it is used as a subquery)."""
    rows = Assessment.objects.filter(establishment__in=establishments.values("pk"))
    if referential_slugs:
        rows = rows.filter(referential__slug__in=referential_slugs)
    result: dict[int, dict[str, Decimal | None]] = defaultdict(dict)
    for establishment_id, slug, score in rows.values_list("establishment_id", "referential__slug", "score"):
        result[establishment_id][slug] = score
    return dict(result)


def score_summary_by(
    *, establishments: QuerySet[Establishment], referential_slug: str, group_by: str = "region"
) -> list[dict[str, Any]]:
    """Average, count and best/worst score per region or category (group_by: "region",
    "category" or "group") for one referential: one grouped query."""
    if group_by not in {"region", "category", "group"}:
        raise ValueError(group_by)
    key = {"region": "establishment__region_id", "category": "establishment__category",
           "group": "establishment__group_id"}[group_by]
    return list(
        Assessment.objects.filter(
            establishment__in=establishments.values("pk"), referential__slug=referential_slug,
            score__isnull=False,
        ).values(key).annotate(average=Avg("score"), assessed=Count("pk"), best=Max("score")).order_by(key)
    )


def open_actions_by_establishment(*, establishments: QuerySet[Establishment]) -> dict[int, int]:
    rows = (
        Action.objects.filter(establishment__in=establishments.values("pk"), status__in=OPEN_ACTION_STATUSES)
        .values("establishment_id").annotate(n=Count("pk"))
    )
    return {row["establishment_id"]: row["n"] for row in rows}


def measure_level_labels(*, referential: Referential, measure: Measure) -> list[str]:
    return [referential.level_label(code) for code in measure.levels]


