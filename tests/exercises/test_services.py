from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from planblanc.accounts.models import AuditEntry
from planblanc.exercises import selectors, services
from planblanc.exercises.models import Exercise, ExerciseStatus


def _at(year: int, month: int = 3) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(year, month, 12, 9, 0))


@pytest.fixture
def exercise(world: Any) -> Exercise:
    return services.exercise_create_from_kit(
        actor=world.exercise_animator, establishment=world.chu, kit_slug="debutant-rancongiciel", start=_at(2026),
    )


def test_it_refuses_a_dependency_on_an_inject_of_another_exercise(world: Any, exercise: Exercise) -> None:
    other = services.exercise_create_from_kit(
        actor=world.establishment_admin, establishment=world.chu, kit_slug="debutant-rancongiciel",
    )
    with pytest.raises(ValidationError) as refused:
        services.inject_create(
            actor=world.exercise_animator, exercise=exercise,
            data={"subject": "x", "offset": datetime.timedelta(minutes=3)},
            dependencies=[other.injects.get(number=1)],
        )
    assert "dependencies" in refused.value.message_dict
    assert exercise.injects.count() == 12


def test_it_refuses_a_cycle_and_keeps_the_old_dependencies(world: Any, exercise: Exercise) -> None:
    one, twelve = exercise.injects.get(number=1), exercise.injects.get(number=12)
    # 12 waits for 7 and 11, 11 for 8, 7 for 2: 2 waiting for 12 closes the loop.
    two = exercise.injects.get(number=2)
    with pytest.raises(ValidationError) as refused:
        services.inject_set_dependencies(actor=world.exercise_animator, inject=two, dependencies=[one, twelve])
    assert "2 → 12 → 7 → 2" in str(refused.value)
    assert list(two.dependencies.all()) == []
    with pytest.raises(ValidationError):
        services.inject_set_dependencies(actor=world.exercise_animator, inject=two, dependencies=[two])


def test_it_refuses_to_delete_an_inject_others_wait_for(world: Any, exercise: Exercise) -> None:
    with pytest.raises(ValidationError, match="12"):
        services.inject_delete(actor=world.exercise_animator, inject=exercise.injects.get(number=7))
    assert exercise.injects.filter(number=7).exists()
    services.inject_delete(actor=world.exercise_animator, inject=exercise.injects.get(number=12))
    assert exercise.injects.count() == 11
    assert AuditEntry.objects.filter(action="inject.delete").count() == 1


def test_it_refuses_a_number_already_used(world: Any, exercise: Exercise) -> None:
    with pytest.raises(ValidationError) as refused:
        services.inject_create(actor=world.exercise_animator, exercise=exercise,
                               data={"number": 4, "subject": "x", "offset": datetime.timedelta(0)})
    assert "number" in refused.value.message_dict


def test_it_freezes_the_scenario_once_the_exercise_runs(world: Any, exercise: Exercise) -> None:
    Exercise.objects.filter(pk=exercise.pk).update(status=ExerciseStatus.RUNNING)
    exercise.refresh_from_db()
    with pytest.raises(ValidationError):
        services.inject_update(actor=world.exercise_animator, inject=exercise.injects.get(number=1),
                               data={"subject": "changé"})
    assert exercise.injects.get(number=1).subject != "changé"


@pytest.mark.parametrize("persona", ["auditor", "crisis_member", "regional_officer", "outsider_admin"])
def test_it_lets_only_exercise_roles_write(world: Any, exercise: Exercise, persona: str) -> None:
    with pytest.raises(PermissionDenied):
        services.inject_create(actor=world.users[persona], exercise=exercise,
                               data={"subject": "x", "offset": datetime.timedelta(0)})
    with pytest.raises(PermissionDenied):
        services.participant_add(actor=world.users[persona], exercise=exercise, person=world.chu_person, role="player")


def test_it_adds_participants_of_the_establishment_only(world: Any, exercise: Exercise) -> None:
    participant = services.participant_add(
        actor=world.exercise_animator, exercise=exercise, person=world.chu_person, role="observer", cell="Décision"
    )
    again = services.participant_add(actor=world.exercise_animator, exercise=exercise, person=world.chu_person,
                                     role="animator")
    assert again.pk == participant.pk and again.role == "animator"
    with pytest.raises(ValidationError):
        services.participant_add(actor=world.exercise_animator, exercise=exercise, person=world.clinic_person,
                                 role="player")
    assert exercise.participants.count() == 1


def test_it_tells_which_establishments_met_the_yearly_obligation(world: Any, exercise: Exercise) -> None:
    # CHU: planned in 2026. CH: cancelled in 2026. Clinic: 2025 only. EHPAD: draft without date.
    ch = services.exercise_create_from_kit(actor=world.national_admin,
                                           establishment=world.ch, kit_slug="debutant-rancongiciel", start=_at(2026, 6))
    services.exercise_cancel(actor=world.group_ciso, exercise=ch)
    services.exercise_create_from_kit(actor=world.outsider_admin, establishment=world.clinic,
                                      kit_slug="debutant-rancongiciel", start=_at(2025, 11))
    services.exercise_create_from_kit(actor=world.national_admin, establishment=world.ehpad,
                                      kit_slug="debutant-rancongiciel")
    not_counted = services.exercise_create_from_kit(actor=world.outsider_admin, establishment=world.clinic,
                                                    kit_slug="debutant-rancongiciel", start=_at(2026, 2))
    services.exercise_update(actor=world.outsider_admin, exercise=not_counted, data={"counts_for_obligation": False})
    assert list(selectors.establishments_meeting_obligation(year=2026)) == [world.chu]
    assert list(selectors.establishments_meeting_obligation(year=2025)) == [world.clinic]
    assert selectors.yearly_obligation_met(establishment=world.chu, year=2026)
    seen = {e.name: e.has_exercise for e in selectors.yearly_obligation(user=world.group_ciso, year=2026)}
    assert seen == {"CHU A": True, "CH A": False}


def test_it_audits_every_write(world: Any, exercise: Exercise) -> None:
    inject = services.inject_create(actor=world.exercise_animator, exercise=exercise,
                                    data={"subject": "x", "offset": datetime.timedelta(minutes=1)})
    services.inject_update(actor=world.exercise_animator, inject=inject, data={"subject": "y"},
                           dependencies=[exercise.injects.get(number=1)])
    services.expected_reaction_create(actor=world.exercise_animator, inject=inject, description="Réagir")
    services.exercise_schedule(actor=world.exercise_animator, exercise=exercise, planned_start=_at(2026, 9))
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions[-4:] == ["inject.create", "inject.update", "expected_reaction.create", "exercise.schedule"]
    update = AuditEntry.objects.get(action="inject.update")
    assert update.changes["subject"] == ["x", "y"] and update.changes["dependencies"] == [[], [1]]


def test_it_says_why_an_exercise_cannot_start(world: Any, exercise: Exercise) -> None:
    problems = selectors.exercise_start_problems(exercise=exercise)
    assert len(problems) == 1  # the missing animator
    services.participant_add(actor=world.exercise_animator, exercise=exercise, person=world.chu_person, role="animator")
    assert selectors.exercise_start_problems(exercise=exercise) == []
    empty = services.exercise_create(actor=world.exercise_animator, establishment=world.chu, title="Vide")
    assert len(selectors.exercise_start_problems(exercise=empty)) == 2
