"""Scores computed by hand, following the rule documented in readiness/scoring.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from planblanc.readiness import selectors, services
from planblanc.readiness.models import Answer, AssessmentSnapshot
from planblanc.readiness.scoring import MeasureResult, compute_score

D = Decimal


def test_it_computes_the_documented_example() -> None:
    score = compute_score([
        MeasureResult(D(1), D(1)), MeasureResult(D(1), D("0.5")), MeasureResult(D(2), None),
    ])
    # 100 × (1×1 + 1×0.5 + 2×0) / (1 + 1 + 2) = 37.5
    assert score.value == D("37.50")
    assert (score.answered, score.applicable, score.not_applicable) == (2, 3, 0)


def test_it_leaves_not_applicable_out_and_counts_unanswered_as_zero() -> None:
    results = [
        MeasureResult(D(3), D(1)),
        MeasureResult(D(5), None, not_applicable=True),
        MeasureResult(D(1), None),
    ]
    # 100 × 3 / (3 + 1) = 75 ; the weight 5 is out.
    assert compute_score(results).value == D("75.00")


def test_it_rounds_half_up_to_two_places() -> None:
    # 100 × 1 / 3 = 33.333… → 33.33 ; 100 × 2 / 3 = 66.666… → 66.67
    assert compute_score([MeasureResult(D(1), D(1)), MeasureResult(D(2), None)]).value == D("33.33")
    assert compute_score([MeasureResult(D(1), None), MeasureResult(D(2), D(1))]).value == D("66.67")


def test_it_has_no_score_when_nothing_applies() -> None:
    assert compute_score([MeasureResult(D(1), None, not_applicable=True)]).value is None
    assert compute_score([]).value is None


def answer(world: Any, assessment: Any, ref_id: str, level: str = "", **kwargs: Any) -> Answer:
    measure = assessment.referential.measures.get(ref_id=ref_id)
    return services.answer_record(actor=world.establishment_admin, assessment=assessment, measure=measure,
                                  level_code=level, **kwargs)


def test_it_scores_an_assessment_from_its_answers(world: Any, chu_assessment: Any) -> None:
    # mini: A1 (1), A2 (1), B1 (2), B2 (4); total weight 8.
    assert chu_assessment.score == D(0)
    answer(world, chu_assessment, "A1", "oui")          # 1 × 1
    answer(world, chu_assessment, "B1", "partiel")      # 2 × 0.5
    chu_assessment.refresh_from_db()
    # 100 × (1 + 1) / 8 = 25
    assert chu_assessment.score == D("25.00")
    answer(world, chu_assessment, "B2", not_applicable=True, not_applicable_reason="Pas de laboratoire")
    chu_assessment.refresh_from_db()
    # B2 out: 100 × 2 / 4 = 50
    assert chu_assessment.score == D("50.00")
    answer(world, chu_assessment, "A1", "non")
    chu_assessment.refresh_from_db()
    # A1 now 0: 100 × 1 / 4 = 25
    assert chu_assessment.score == D("25.00")
    assert services.assessment_compute_score(assessment=chu_assessment).value == D("25.00")


def test_it_keeps_the_history_of_answers(world: Any, chu_assessment: Any) -> None:
    answer(world, chu_assessment, "A1", "non")
    answer(world, chu_assessment, "A1", "partiel", comment="Déploiement en cours")
    answer(world, chu_assessment, "A1", "oui")
    measure = chu_assessment.referential.measures.get(ref_id="A1")
    history = list(selectors.answer_history(assessment=chu_assessment, measure=measure))
    assert [a.level.code for a in history] == ["oui", "partiel", "non"]
    assert [a.is_current for a in history] == [True, False, False]
    assert history[1].comment == "Déploiement en cours"
    assert history[0].answered_by_label == "establishment_admin"


def test_it_keeps_one_snapshot_per_day_for_the_trend(world: Any, chu_assessment: Any) -> None:
    yesterday = timezone.localdate() - timezone.timedelta(days=1)
    AssessmentSnapshot.objects.filter(assessment=chu_assessment).update(day=yesterday)
    answer(world, chu_assessment, "A1", "oui")
    answer(world, chu_assessment, "A2", "oui")
    trend = selectors.assessment_trend(assessment=chu_assessment)
    assert [(s.day, s.score) for s in trend][-1] == (timezone.localdate(), D("25.00"))
    assert len([s for s in trend if s.day == timezone.localdate()]) == 1


@pytest.mark.parametrize("slug", ["hygiene-anssi", "care", "gouvernance"])
def test_it_scores_the_bundled_referentials_by_their_weights(world: Any, bundled: dict, slug: str) -> None:
    referential = bundled[slug]
    assessment = services.assessment_start(actor=world.establishment_admin, establishment=world.chu,
                                           referential=referential)
    measures = list(referential.measures.order_by("position"))
    top = referential.scale.levels.order_by("-value").first()
    first = measures[0]
    services.answer_record(actor=world.establishment_admin, assessment=assessment, measure=first, level_code=top.code)
    total = sum(m.weight for m in measures)
    expected = (D(100) * first.weight / total).quantize(D("0.01"))
    assessment.refresh_from_db()
    assert assessment.score == expected
