"""Preparing a regional exercise in the background: the form records the choice at once
("being prepared", no exercise written yet) and queues a task; the task writes each
establishment's exercise in a transaction of its own, so that one stopped mid-way and
run again (or a worker restarted) ends with exactly one exercise per establishment; a
failure for one establishment is shown with its reason and leaves the others ready; the
console shows the progress in place and refuses the launch until the end; the same form
submitted twice creates one regional exercise."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from planblanc.accounts.models import AuditEntry
from planblanc.exercises import regional, services
from planblanc.exercises.models import (
    Exercise,
    ExerciseRun,
    Inject,
    RegionalExercise,
    RegionalExerciseStatus,
    RegionalMember,
)
from planblanc.exercises.regional import regional_exercise_prepare
from tests.exercises.test_regional import INJECTS, T0, five_establishments, model_exercise
from tests.factories import MembershipFactory, PersonFactory

pytestmark = pytest.mark.django_db


class Stopped(BaseException):  # noqa: N818 (what a killed worker looks like from inside: not an Exception)
    """The worker stops in the middle of an establishment (killed, machine restarted)."""


def fail_for(monkeypatch: Any, failing: Any, reason: str) -> None:
    """The preparation of `failing` fails with `reason`; the others' as usual."""
    real_variables = regional.establishment_variables

    def variables(*, establishment: Any) -> dict[str, str]:
        if establishment == failing:
            raise ValidationError(reason)
        return real_variables(establishment=establishment)

    monkeypatch.setattr(regional, "establishment_variables", variables)


def create(world: Any, establishments: list[Any] | None = None, **extra: Any) -> RegionalExercise:
    return regional.regional_exercise_create(
        actor=world.regional_officer, title="Panne régionale — {etablissement}",
        establishments=establishments or five_establishments(world), planned_start=T0, model=model_exercise(world),
        **extra)


def regional_exercises_of(item: RegionalExercise) -> list[Exercise]:
    return list(Exercise.objects.filter(regional_member__regional=item))


def test_it_records_the_choice_at_once_and_queues_the_preparation(
    world: Any, django_capture_on_commit_callbacks: Any,
) -> None:
    establishments = five_establishments(world)
    model = model_exercise(world)
    before = Exercise.objects.count(), Inject.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        item = regional.regional_exercise_create(
            actor=world.regional_officer, title="Panne régionale — {etablissement}", establishments=establishments,
            planned_start=T0, model=model)
    item.refresh_from_db()
    assert item.status == RegionalExerciseStatus.PREPARING and item.prepared_at is None
    # One row per establishment, no exercise, no inject, no run written by the request.
    members = RegionalMember.objects.filter(regional=item)
    assert members.count() == 5 and not members.filter(exercise__isnull=False).exists()
    assert (Exercise.objects.count(), Inject.objects.count()) == before
    assert not ExerciseRun.objects.exists()
    queued = DBTaskResult.objects.get(task_path=regional_exercise_prepare.module_path)
    assert queued.status == "READY" and queued.queue_name == "default"
    assert queued.args_kwargs["kwargs"] == {"regional_id": item.pk}
    # Queued once: a second wake-up (a worker starting) finds it queued already.
    assert regional.regional_preparations_wake() == 1
    assert DBTaskResult.objects.filter(task_path=regional_exercise_prepare.module_path).count() == 1

    assert regional_exercise_prepare.call(regional_id=item.pk) == 5
    item.refresh_from_db()
    assert item.status == RegionalExerciseStatus.PREPARED and item.prepared_at is not None
    exercises = regional_exercises_of(item)
    assert len(exercises) == 5 and {e.establishment_id for e in exercises} == {e.pk for e in establishments}
    assert all(e.injects.count() == INJECTS for e in exercises)
    assert {e.title for e in exercises} == {f"Panne régionale — {e.name}" for e in establishments}
    assert AuditEntry.objects.filter(action="exercise.regional_prepared", object_id=str(item.pk)).count() == 1
    # Nothing left: running it again writes nothing.
    assert regional_exercise_prepare.call(regional_id=item.pk) == 0
    assert len(regional_exercises_of(item)) == 5


def test_it_ends_with_one_exercise_per_establishment_after_a_stop_after_two(world: Any, monkeypatch: Any) -> None:
    item = create(world)
    imports = []
    real_import = services.chronogramme_import

    def stopping_import(**kwargs: Any) -> Any:
        imports.append(kwargs["exercise"].establishment.name)
        if len(imports) == 3:  # the third establishment's exercise is written, its injects not yet
            raise Stopped
        return real_import(**kwargs)

    monkeypatch.setattr(services, "chronogramme_import", stopping_import)
    with pytest.raises(Stopped):
        regional_exercise_prepare.call(regional_id=item.pk)
    # Two establishments prepared; the third left untouched (its exercise rolled back).
    assert len(regional_exercises_of(item)) == 2
    assert Exercise.objects.filter(establishment__name=imports[2]).count() == 0
    members = RegionalMember.objects.filter(regional=item)
    assert members.filter(exercise__isnull=True, error="").count() == 3
    item.refresh_from_db()
    assert item.status == RegionalExerciseStatus.PREPARING

    monkeypatch.setattr(services, "chronogramme_import", real_import)
    assert regional_exercise_prepare.call(regional_id=item.pk) == 3
    exercises = regional_exercises_of(item)
    assert len(exercises) == 5 and len({e.establishment_id for e in exercises}) == 5
    # Exactly one exercise of the regional exercise in each establishment, none left over.
    for member in members.select_related("establishment"):
        assert Exercise.objects.filter(establishment=member.establishment,
                                       title=f"Panne régionale — {member.establishment.name}").count() == 1
    assert all(e.injects.count() == INJECTS for e in exercises)
    item.refresh_from_db()
    assert item.status == RegionalExerciseStatus.PREPARED


def test_it_shows_a_failed_establishment_with_its_reason_and_prepares_the_others(
    world: Any, monkeypatch: Any, client_for: Any,
) -> None:
    item = create(world)
    fail_for(monkeypatch, world.ehpad, "Annuaire de l'EHPAD illisible.")
    assert regional_exercise_prepare.call(regional_id=item.pk) == 4
    item.refresh_from_db()
    assert item.status == RegionalExerciseStatus.PREPARED
    failed = RegionalMember.objects.get(regional=item, establishment=world.ehpad)
    assert failed.exercise is None and failed.error == "Annuaire de l'EHPAD illisible."
    client = client_for("regional_officer")
    state = client.get(reverse("exercises:regional_state", args=[item.pk])).content.decode()
    assert 'data-prepared="4" data-total="5"' in state
    assert "EHPAD A : Annuaire de l&#x27;EHPAD illisible." in state and 'id="regional-prepare-again"' in state

    # Prepared again from the console once the cause is fixed: all five are ready.
    monkeypatch.undo()
    again = client.post(reverse("exercises:regional_control", args=[item.pk, "prepare-again"]),
                        HTTP_HX_REQUEST="true").content.decode()
    assert 'data-status="preparing"' in again
    assert regional_exercise_prepare.call(regional_id=item.pk) == 1
    assert len(regional_exercises_of(item)) == 5
    assert not RegionalMember.objects.filter(regional=item).exclude(error="").exists()


def test_it_launches_the_others_and_says_why_one_was_left_out(world: Any, monkeypatch: Any) -> None:
    establishments = five_establishments(world)
    item = create(world, establishments)
    fail_for(monkeypatch, world.ch, "Panne de l'annuaire.")
    regional_exercise_prepare.call(regional_id=item.pk)
    for member in RegionalMember.objects.filter(regional=item, exercise__isnull=False).select_related("exercise"):
        person = MembershipFactory(establishment=member.establishment, person=PersonFactory()).person
        services.participant_add(actor=world.national_admin, exercise=member.exercise, person=person,
                                 role="animator")
    outcome = regional.regional_launch(actor=world.regional_officer, regional=item, start_at=T0)
    assert outcome.done == 4
    assert "Panne de l'annuaire." in " ".join(outcome.refused["CH A"])
    assert ExerciseRun.objects.filter(exercise__regional_member__regional=item).count() == 4


def test_it_shows_the_progress_in_place_and_refuses_the_launch_until_ready(
    world: Any, client_for: Any, monkeypatch: Any,
) -> None:
    item = create(world)
    client = client_for("regional_officer")
    page = client.get(reverse("exercises:regional_console", args=[item.pk])).content.decode()
    state_url = reverse("exercises:regional_state", args=[item.pk])
    assert f'hx-get="{state_url}" hx-trigger="every 2s"' in page
    assert 'data-prepared="0" data-total="5"' in page and '<progress class="w-100"' in page
    assert "0 sur 5 établissements préparés" in page
    assert 'id="regional-launch" disabled' in page

    # Two establishments done: the fragment polled says so.
    real_import = services.chronogramme_import
    calls = []

    def stopping_import(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise Stopped
        return real_import(**kwargs)

    monkeypatch.setattr(services, "chronogramme_import", stopping_import)
    with pytest.raises(Stopped):
        regional_exercise_prepare.call(regional_id=item.pk)
    state = client.get(state_url)
    body = state.content.decode()
    assert state.status_code == 200 and "<html" not in body
    assert 'data-prepared="2" data-total="5"' in body and 'value="2"' in body
    assert "2 sur 5 établissements préparés" in body

    # The launch is refused, in the user's language, and nothing starts.
    refused = client.post(reverse("exercises:regional_control", args=[item.pk, "launch"]),
                          HTTP_HX_REQUEST="true").content.decode()
    assert "alert-danger" in refused
    assert "encore en préparation (2 sur 5)" in refused
    with pytest.raises(ValidationError):
        regional.regional_launch(actor=world.regional_officer, regional=item, start_at=T0)
    assert not ExerciseRun.objects.exists()

    monkeypatch.setattr(services, "chronogramme_import", real_import)
    regional_exercise_prepare.call(regional_id=item.pk)
    done = client.get(state_url).content.decode()
    assert 'id="regional-preparation"' not in done and 'data-status="prepared"' in done
    assert 'hx-post="' + reverse("exercises:regional_control", args=[item.pk, "launch"]) + '"' in done


def test_it_creates_one_regional_exercise_when_the_form_is_sent_twice(world: Any, client_for: Any) -> None:
    client = client_for("regional_officer")
    form = client.get(reverse("exercises:regional_create")).content.decode()
    assert 'name="submission_key"' in form
    data = {"title": "Exercice régional", "kit_slug": "debutant-rancongiciel", "planned_start": "2026-03-10T09:00",
            "speed": "1", "establishments": [world.chu.pk, world.ch.pk], "submission_key": "0f3c9a" * 5}
    first = client.post(reverse("exercises:regional_create"), data)
    second = client.post(reverse("exercises:regional_create"), data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert RegionalExercise.objects.count() == 1
    item = RegionalExercise.objects.get()
    assert item.status == RegionalExerciseStatus.PREPARING and item.members.count() == 2
    assert AuditEntry.objects.filter(action="exercise.regional_create").count() == 1
    # Another form (another key) is another regional exercise.
    client.post(reverse("exercises:regional_create"), {**data, "submission_key": "a" * 32})
    assert RegionalExercise.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_restarted_worker_prepares_what_a_stopped_one_left(world: Any, monkeypatch: Any) -> None:
    item = create(world)
    real_import = services.chronogramme_import
    calls = []

    def stopping_import(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise Stopped
        return real_import(**kwargs)

    monkeypatch.setattr(services, "chronogramme_import", stopping_import)
    with pytest.raises(Stopped):
        regional.regional_preparation_run(regional_id=item.pk)
    monkeypatch.setattr(services, "chronogramme_import", real_import)
    assert len(regional_exercises_of(item)) == 1
    # The worker, as started on the server, queues what was left unfinished and runs it.
    call_command("worker", "--batch", verbosity=0)
    result = DBTaskResult.objects.get(task_path=regional_exercise_prepare.module_path)
    assert result.status == "SUCCESSFUL" and result.return_value == 4
    item.refresh_from_db()
    assert item.status == RegionalExerciseStatus.PREPARED
    exercises = regional_exercises_of(item)
    assert len(exercises) == 5 and len({e.establishment_id for e in exercises}) == 5


def test_it_hides_the_preparation_from_an_outsider_and_refuses_it_to_an_establishment_user(
    world: Any, client_for: Any, monkeypatch: Any,
) -> None:
    item = create(world)
    fail_for(monkeypatch, world.chu, "Annuaire illisible.")
    regional_exercise_prepare.call(regional_id=item.pk)
    for persona in ("outsider_admin", "establishment_admin", "exercise_animator"):
        client = client_for(persona)
        state = client.get(reverse("exercises:regional_state", args=[item.pk]))
        assert state.status_code == 404 and b"Annuaire illisible" not in state.content
        again = client.post(reverse("exercises:regional_control", args=[item.pk, "prepare-again"]))
        assert again.status_code == 404
    member = RegionalMember.objects.get(regional=item, establishment=world.chu)
    assert member.error == "Annuaire illisible." and member.exercise is None
    item.refresh_from_db()
    assert item.status == RegionalExerciseStatus.PREPARED


def test_it_says_why_when_the_recorded_scenario_cannot_be_read(world: Any) -> None:
    item = create(world)
    RegionalExercise.objects.filter(pk=item.pk).update(preparation={**item.preparation, "chronogramme": {}})
    assert regional_exercise_prepare.call(regional_id=item.pk) == 0
    item.refresh_from_db()
    assert item.status == RegionalExerciseStatus.PREPARED
    errors = set(RegionalMember.objects.filter(regional=item).values_list("error", flat=True))
    assert len(errors) == 1 and errors.pop().startswith("Le scénario n'a pas pu être lu")
    with pytest.raises(ValidationError, match="Aucun exercice"):
        regional.regional_launch(actor=world.regional_officer, regional=item, start_at=T0)
