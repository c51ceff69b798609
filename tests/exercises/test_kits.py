from __future__ import annotations

from typing import Any

import pytest

from planblanc.exercises import chronogramme as chrono
from planblanc.exercises.kits import default_grid, kits, questionnaire
from planblanc.exercises.models import CriterionArea
from planblanc.exercises.selectors import questionnaire_max_points, questionnaire_recommend


def test_it_ships_three_ransomware_kits_of_the_stated_sizes() -> None:
    by_level = {kit.level: kit for kit in kits().values()}
    assert set(by_level) == {"beginner", "intermediate", "confirmed"}
    beginner, intermediate, confirmed = by_level["beginner"], by_level["intermediate"], by_level["confirmed"]
    assert beginner.duration_minutes == 120 and len(beginner.cells) == 1
    assert 10 <= len(beginner.injects) <= 14
    assert intermediate.duration_minutes == 240
    assert {"Cellule décisionnelle", "Cellule technique"} <= set(intermediate.cells)
    assert 33 <= len(intermediate.injects) <= 37
    assert confirmed.duration_minutes >= 420 and len(confirmed.cells) >= 3
    assert 48 <= len(confirmed.injects) <= 52
    for kit in kits().values():
        assert "rançongiciel" in (kit.title + kit.summary + kit.scenario).lower()
        assert kit.objectives and kit.scenario and kit.grid


def test_it_reads_every_kit_without_error_and_every_inject_has_a_reaction() -> None:
    for kit in kits().values():
        parsed = chrono.read_json(kit.as_chronogramme())
        assert parsed.errors == [], (kit.slug, [str(e) for e in parsed.errors])
        assert [i.number for i in parsed.injects] == list(range(1, len(parsed.injects) + 1))
        for inject in parsed.injects:
            assert inject.expected_reactions, (kit.slug, inject.number)
            assert all(r.criterion_area in CriterionArea.values for r in inject.expected_reactions)
            assert inject.offset is not None and inject.offset.total_seconds() <= kit.duration_minutes * 60


def test_it_involves_the_ars_and_the_press_in_the_confirmed_kit() -> None:
    confirmed = next(k for k in kits().values() if k.level == "confirmed")
    senders = " ".join(i["sender"] for i in confirmed.injects)
    channels = {i["channel"] for i in confirmed.injects}
    assert "ARS" in senders
    assert {"press_article", "social_post"} <= channels
    intermediate = next(k for k in kits().values() if k.level == "intermediate")
    assert "press_article" in {i["channel"] for i in intermediate.injects}


def test_it_grades_every_area_of_the_grid_with_descriptors_for_each_score() -> None:
    grid = default_grid()
    assert set(grid) == set(CriterionArea.values)
    for criterion in grid.values():
        assert [d["score"] for d in criterion.descriptors] == list(range(criterion.scale_max + 1))


def _answers(pick: str) -> dict[str, str]:
    """Lowest (pick="min") or highest (pick="max") weighted answer to every question."""
    answers = {}
    for question in questionnaire()["questions"]:
        ordered = sorted(question["answers"], key=lambda a: a["weight"])
        answers[question["key"]] = (ordered[0] if pick == "min" else ordered[-1])["key"]
    return answers


def test_it_has_a_short_questionnaire_with_weighted_answers() -> None:
    questions = questionnaire()["questions"]
    assert 8 <= len(questions) <= 12
    assert questionnaire_max_points() == 22  # 3+3+2+3+2+2+2+2+1+2, by hand
    # YAML reads a bare yes/no as a boolean: every answer key must stay a string.
    assert all(isinstance(a["key"], str) for q in questions for a in q["answers"])


@pytest.mark.parametrize(
    ("changes", "score", "level"),
    [
        # Nothing in place: 0 points.
        ({}, 0, "beginner"),
        # plan approved (3) + exercise 2 years (2) + cell full (2) = 7/22 → 32.
        ({"plan": "approved", "previous_exercise": "recent", "cell": "full"}, 32, "beginner"),
        # 7 + degraded some (1) + notifications yes (2) = 10/22 → 45.
        ({"plan": "approved", "previous_exercise": "recent", "cell": "full", "degraded": "some",
          "notifications": "yes"}, 45, "intermediate"),
        # 10 + backups tested (2) + communication both (2) + technical yes (2) = 16/22 → 73.
        ({"plan": "approved", "previous_exercise": "recent", "cell": "full", "degraded": "some",
          "notifications": "yes", "backups": "tested", "communication": "both", "technical_cell": "yes"},
         73, "confirmed"),
    ],
)
def test_it_recommends_the_kit_level_from_hand_computed_scores(changes: dict[str, str], score: int, level: str) -> None:
    answers = _answers("min") | changes
    recommendation = questionnaire_recommend(answers=answers)
    assert recommendation.score == score
    assert recommendation.level == level
    assert recommendation.kit is not None and recommendation.kit.level == level


def test_it_counts_unanswered_questions_as_zero_and_lists_them() -> None:
    recommendation = questionnaire_recommend(answers={"plan": "approved", "sites": "bogus"})
    assert recommendation.score == round(100 * 3 / 22)
    assert "sites" in recommendation.unanswered and "plan" not in recommendation.unanswered
    assert questionnaire_recommend(answers=_answers("max")).score == 100


def test_it_creates_an_exercise_from_each_kit(world: Any) -> None:
    from planblanc.accounts.models import AuditEntry
    from planblanc.exercises.services import exercise_create_from_kit

    for kit in kits().values():
        exercise = exercise_create_from_kit(
            actor=world.establishment_admin, establishment=world.chu, kit_slug=kit.slug, title="", start=None
        )
        assert exercise.injects.count() == len(kit.injects)
        assert exercise.criteria.count() == len(kit.grid)
        with_deps = [i for i in kit.injects if i.get("after")]
        stored = {i.number: sorted(d.number for d in i.dependencies.all()) for i in exercise.injects.all()}
        for item in with_deps:
            assert stored[item["number"]] == sorted(item["after"])
        reaction = exercise.injects.get(number=1).expected_reactions.first()
        assert reaction.criterion is not None and reaction.deadline is not None
    assert AuditEntry.objects.filter(action="exercise.create_from_kit").count() == 3
