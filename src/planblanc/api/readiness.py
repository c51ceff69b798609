"""Readiness endpoints: referentials, an assessment with its score, answering a measure.
Thin calls to selectors and services, scoped by tenancy."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from planblanc.directory.models import Establishment
from planblanc.readiness import selectors, services
from planblanc.readiness.models import Measure, Referential
from planblanc.tenancy import Perm, get_for_user

router = Router(tags=["readiness"])


class ReferentialOut(Schema):
    id: int
    slug: str
    version: str
    name: str
    source: str
    origin: str
    applies_to: str
    categories: list[str]
    measure_count: int


class AnswerOut(Schema):
    level: str | None
    level_label: str | None
    not_applicable: bool
    not_applicable_reason: str
    comment: str
    answered_by: str
    answered_at: datetime.datetime


class MeasureOut(Schema):
    id: int
    ref_id: str
    theme: str
    title: str
    levels: list[str]
    weight: Decimal
    answer: AnswerOut | None


class ScoreOut(Schema):
    value: Decimal | None
    answered: int
    applicable: int
    not_applicable: int


class AssessmentOut(Schema):
    id: int
    establishment_id: int
    referential: ReferentialOut
    score: ScoreOut
    measures: list[MeasureOut]


class AnswerIn(Schema):
    level: str = ""
    not_applicable: bool = False
    not_applicable_reason: str = ""
    comment: str = ""


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _referential_out(referential: Referential, counts: dict[int, int]) -> dict[str, Any]:
    return {
        "id": referential.pk, "slug": referential.slug, "version": referential.version, "name": referential.name,
        "source": referential.source, "origin": referential.origin, "applies_to": referential.applies_to,
        "categories": referential.categories or [], "measure_count": counts.get(referential.pk, 0),
    }


def _measure_counts(referentials: list[Referential]) -> dict[int, int]:
    from django.db.models import Count

    rows = (
        Measure.objects.filter(referential__in=referentials, is_active=True)
        .values("referential_id").annotate(n=Count("pk"))
    )
    return {row["referential_id"]: row["n"] for row in rows}


def _assessment_out(assessment: Any) -> dict[str, Any]:
    score = services.assessment_compute_score(assessment=assessment)
    measures = []
    for block in selectors.assessment_rows(assessment=assessment):
        for row in block.rows:
            answer = row.answer
            measures.append({
                "id": row.measure.pk, "ref_id": row.measure.ref_id, "theme": block.theme.code,
                "title": row.measure.title, "levels": row.measure.levels, "weight": row.measure.weight,
                "answer": None if answer is None else {
                    "level": answer.level.code if answer.level else None,
                    "level_label": answer.level.label if answer.level else None,
                    "not_applicable": answer.not_applicable,
                    "not_applicable_reason": answer.not_applicable_reason,
                    "comment": answer.comment, "answered_by": answer.answered_by_label,
                    "answered_at": answer.answered_at,
                },
            })
    referential = assessment.referential
    return {
        "id": assessment.pk, "establishment_id": assessment.establishment_id,
        "referential": _referential_out(referential, _measure_counts([referential])),
        "score": {"value": score.value, "answered": score.answered, "applicable": score.applicable,
                  "not_applicable": score.not_applicable},
        "measures": measures,
    }


@router.get("/referentials", response=list[ReferentialOut])
def list_referentials(request: HttpRequest, establishment_id: int | None = None) -> Any:
    """Every referential (latest version of each), or those that apply to one establishment."""
    if establishment_id is not None:
        establishment = get_for_user(_user(request), Establishment, pk=establishment_id)
        referentials = selectors.referentials_applicable(establishment=establishment)
    else:
        referentials = selectors.referential_list()
    counts = _measure_counts(referentials)
    return [_referential_out(r, counts) for r in referentials]


@router.get("/assessments/{assessment_id}", response=AssessmentOut)
def get_assessment(request: HttpRequest, assessment_id: int) -> Any:
    assessment = selectors.assessment_for_user(user=_user(request), pk=assessment_id)
    return _assessment_out(assessment)


@router.put("/assessments/{assessment_id}/measures/{measure_id}/answer", response=AssessmentOut)
def put_answer(request: HttpRequest, assessment_id: int, measure_id: int, payload: AnswerIn) -> Any:
    user = _user(request)
    assessment = selectors.assessment_for_user(user=user, pk=assessment_id, perm=Perm.ASSESS)
    measure = Measure.objects.filter(pk=measure_id, referential_id=assessment.referential_id).first()
    if measure is None:
        from django.http import Http404

        raise Http404
    services.answer_record(
        actor=user, assessment=assessment, measure=measure, level_code=payload.level,
        not_applicable=payload.not_applicable, not_applicable_reason=payload.not_applicable_reason,
        comment=payload.comment,
    )
    return _assessment_out(assessment)
