from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from planblanc.exercises import evaluation, services
from planblanc.exercises import run as run_services
from planblanc.exercises.models import InjectRun, ReactionCheck
from tests.exercises.runkit import person_in
from tests.factories import UserFactory

pytestmark = pytest.mark.usefixtures("english_messages")


T = datetime.timedelta


def _scenario(world: Any) -> dict[str, Any]:
    """Four injects, six expected reactions on two criteria and three cells."""
    actor = world.exercise_animator
    exercise = services.exercise_create(actor=actor, establishment=world.chu, title="Exercice évalué")
    alert = exercise.criteria.get(area="alert")
    decision = exercise.criteria.get(area="decision")
    injects = {}
    for number, cell in ((1, "Décision"), (2, "Technique"), (3, "Décision"), (4, "Communication")):
        injects[number] = services.inject_create(actor=actor, exercise=exercise, data={
            "number": number, "subject": f"Inject {number}", "offset": T(minutes=10 * (number - 1)),
            "channel": "oral", "target_cell": cell})
    add = services.expected_reaction_create
    reactions = {
        "r1": add(actor=actor, inject=injects[1], description="Alerter", criterion=alert),
        "r2": add(actor=actor, inject=injects[1], description="Mobiliser", criterion=alert),
        "r3": add(actor=actor, inject=injects[2], description="Prévenir l'astreinte", criterion=alert),
        "r4": add(actor=actor, inject=injects[2], description="Décider l'isolement", criterion=decision,
                  deadline=T(minutes=10)),
        "r5": add(actor=actor, inject=injects[3], description="Relancer", criterion=alert),
        "r6": add(actor=actor, inject=injects[4], description="Décider la communication", criterion=decision,
                  deadline=T(minutes=10)),
    }
    animator = person_in(world.chu, email="anim-eval@chu-a.example")
    services.participant_add(actor=actor, exercise=exercise, person=animator, role="animator")
    observer = person_in(world.chu, email="obs-eval@chu-a.example")
    observer.user = UserFactory(username="obs-eval")
    observer.save()
    services.participant_add(actor=actor, exercise=exercise, person=observer, role="observer")
    return {"exercise": exercise, "injects": injects, "reactions": reactions, "alert": alert,
            "decision": decision, "observer": observer.user}


def _played(world: Any) -> tuple[Any, dict[str, Any]]:
    from planblanc.crisis.services import decision_record

    s = _scenario(world)
    actor = world.exercise_animator
    run = run_services.run_start(actor=actor, exercise=s["exercise"], speed=10)
    rows = {r.inject.number: r for r in InjectRun.objects.filter(run=run).select_related("inject", "run__exercise")}
    run_services.inject_fire(actor=actor, row=rows[1])
    run_services.inject_fire(actor=actor, row=rows[2])
    # The players decide within the deadline of inject 2 (10 simulated minutes = 60 s at ×10).
    decision_record(actor=world.establishment_admin, crisis=run.crisis, text="Isoler le réseau")
    run_services.inject_fire(actor=actor, row=rows[3])
    run_services.inject_exclude(actor=actor, row=rows[3])
    run_services.inject_fire(actor=actor, row=rows[4])
    r = s["reactions"]
    tick = evaluation.reaction_tick
    tick(actor=s["observer"], run=run, reaction=r["r1"], outcome="done")
    tick(actor=s["observer"], run=run, reaction=r["r2"], outcome="late")
    tick(actor=s["observer"], run=run, reaction=r["r3"], outcome="late")
    tick(actor=s["observer"], run=run, reaction=r["r5"], outcome="done")  # of an excluded inject
    run = run_services.run_finish(actor=actor, run=run)
    evaluation.evaluation_compute(run=run)
    return run, s


def test_it_computes_reactions_the_platform_can_see(world: Any) -> None:
    run, s = _played(world)
    checks = {c.reaction_id: c for c in ReactionCheck.objects.filter(run=run)}
    # A decision in the logbook 0 s after inject 2, within 60 real seconds: done.
    assert checks[s["reactions"]["r4"].pk].outcome == "done" and checks[s["reactions"]["r4"].pk].automatic
    # No decision after inject 4, and the exercise is over: missed.
    assert checks[s["reactions"]["r6"].pk].outcome == "missed" and checks[s["reactions"]["r6"].pk].automatic
    # What observers ticked is theirs.
    assert not checks[s["reactions"]["r1"].pk].automatic


def test_it_scores_per_criterion_cell_and_overall_as_computed_by_hand(world: Any) -> None:
    run, s = _played(world)
    result = evaluation.evaluation_scores(run=run)
    # r5 belongs to the excluded inject 3: out of the denominator.
    assert result.excluded_reactions == 1
    scores = {criterion.area: score for criterion, score in result.by_criterion}
    # Alert: r1 done (1) + r2 late (0.5) + r3 late (0.5) over 3 = 66.7.
    assert scores["alert"].value == 66.7 and scores["alert"].assessed == 3
    # Decision: r4 done (1) + r6 missed (0) over 2 = 50.
    assert scores["decision"].value == 50.0
    # A criterion with no reaction has no score, not zero.
    assert scores["recovery"].value is None
    # Overall: (1 + 0.5 + 0.5 + 1 + 0) / 5 = 60.
    assert result.overall.value == 60.0
    cells = {score.label: score.value for score in result.by_cell}
    # Décision: r1, r2 → 1.5 / 2; Technique: r3, r4 → 1.5 / 2; Communication: r6 → 0.
    assert cells == {"Décision": 75.0, "Technique": 75.0, "Communication": 0.0}


def test_it_compares_with_the_establishments_previous_exercises(world: Any) -> None:
    first, _s = _played(world)
    second = services.exercise_create(actor=world.exercise_animator, establishment=world.chu, title="Suivant")
    services.inject_create(actor=world.exercise_animator, exercise=second, data={"subject": "x", "offset": T(0)})
    services.participant_add(actor=world.exercise_animator, exercise=second,
                             person=person_in(world.chu, email="a2@chu-a.example"), role="animator")
    run = run_services.run_start(actor=world.exercise_animator, exercise=second)
    result = evaluation.evaluation_scores(run=run)
    assert [(other.pk, value) for other, value in result.previous] == [(first.pk, 60.0)]


def test_it_lets_only_observers_and_animators_tick(world: Any) -> None:
    run, s = _played(world)
    for persona in ("outsider_admin", "crisis_member", "auditor"):
        with pytest.raises(PermissionDenied):
            evaluation.reaction_tick(actor=world.users[persona], run=run, reaction=s["reactions"]["r1"],
                                     outcome="missed")
    with pytest.raises(ValidationError):
        evaluation.reaction_tick(actor=s["observer"], run=run, reaction=s["reactions"]["r1"], outcome="bof")
    assert ReactionCheck.objects.get(run=run, reaction=s["reactions"]["r1"]).outcome == "done"
    # A person's tick wins over the platform's, and the platform does not overwrite it.
    evaluation.reaction_tick(actor=s["observer"], run=run, reaction=s["reactions"]["r6"], outcome="late")
    evaluation.evaluation_compute(run=run)
    assert ReactionCheck.objects.get(run=run, reaction=s["reactions"]["r6"]).outcome == "late"
