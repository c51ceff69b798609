"""Regional simultaneous exercises: one scenario prepared (by a task) and launched at once in
several establishments, paused, resumed and fired for all, the regional console and report, the
anonymised export, the yearly obligation, and who may do what (an establishment's own
staff, a regional officer of another region, an outsider)."""

from __future__ import annotations

import csv
import datetime
import io
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from planblanc.accounts.models import AuditEntry
from planblanc.actors import regional_exercise_runner
from planblanc.directory.models import Function
from planblanc.exercises import regional, selectors, services
from planblanc.exercises import run as run_services
from planblanc.exercises.models import (
    ExerciseRun,
    InjectRun,
    InjectState,
    RegionalExerciseStatus,
    RegionalMember,
    RunStatus,
)
from planblanc.exercises.regional import regional_exercise_prepare
from planblanc.tenancy import Role
from tests.conftest import verified_client
from tests.factories import (
    EstablishmentFactory,
    MembershipFactory,
    PersonFactory,
    RoleAssignmentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
INJECTS = 4
T0 = datetime.datetime(2026, 3, 10, 9, 0, tzinfo=datetime.UTC)


def model_exercise(world: Any) -> Any:
    """A small scenario written with variables, in the CHU (the model)."""
    actor = world.exercise_animator
    exercise = services.exercise_create(actor=actor, establishment=world.chu, title="Modèle régional")
    for number in range(1, INJECTS + 1):
        services.inject_create(actor=actor, exercise=exercise, data={
            "number": number, "subject": f"Appel {number} à {{etablissement}}",
            "content": "Monsieur {directeur}, {voisins} sont touchés aussi. {inconnue} reste telle quelle.",
            "offset": datetime.timedelta(minutes=10 * number), "channel": "oral" if number % 2 else "phone_call"})
    return exercise


def five_establishments(world: Any) -> list[Any]:
    extra = [EstablishmentFactory(name=f"CH Région A {n}", region=world.region_a, category="ch") for n in (1, 2)]
    return [world.chu, world.ch, world.ehpad, *extra]


def prepared(world: Any, *, speed: int = 1, establishments: list[Any] | None = None) -> Any:
    director = MembershipFactory(establishment=world.chu, function=Function.DIRECTOR,
                                 person=PersonFactory(first_name="Denise", last_name="Directrice")).person
    assert director.pk
    establishments = establishments or five_establishments(world)
    item = regional.regional_exercise_create(
        actor=world.regional_officer, title="Rançongiciel régional — {etablissement}",
        establishments=establishments, planned_start=T0, model=model_exercise(world), speed=speed)
    # The worker's task writes each establishment's exercise (here run in the test).
    assert regional_exercise_prepare.call(regional_id=item.pk) == len(establishments)
    item.refresh_from_db()
    assert item.status == RegionalExerciseStatus.PREPARED
    # Each establishment names its own animator in its exercise (here the national level does it).
    for member in RegionalMember.objects.filter(regional=item).select_related("exercise", "establishment"):
        person = MembershipFactory(establishment=member.establishment, person=PersonFactory()).person
        services.participant_add(actor=world.national_admin, exercise=member.exercise, person=person,
                                 role="animator")
    return item


def runs_of(item: Any) -> list[ExerciseRun]:
    return list(ExerciseRun.objects.filter(exercise__regional_member__regional=item).order_by("pk"))


def test_it_prepares_one_exercise_per_establishment_with_its_variables(world: Any) -> None:
    item = prepared(world)
    members = list(RegionalMember.objects.filter(regional=item).select_related("exercise", "establishment"))
    assert len(members) == 5
    chu = next(m for m in members if m.establishment == world.chu)
    injects = list(chu.exercise.injects.order_by("number"))
    assert [i.subject for i in injects] == [f"Appel {n} à CHU A" for n in range(1, INJECTS + 1)]
    assert injects[0].content == "Monsieur Denise Directrice, CH A sont touchés aussi. {inconnue} reste telle quelle."
    assert [i.offset for i in injects] == [datetime.timedelta(minutes=10 * n) for n in range(1, INJECTS + 1)]
    assert chu.exercise.title == "Rançongiciel régional — CHU A"
    assert chu.exercise.planned_start == T0 and chu.exercise.counts_for_obligation
    ch = next(m for m in members if m.establishment == world.ch)
    assert ch.variables["voisins"] == "CHU A"
    assert ch.exercise.injects.get(number=1).subject == "Appel 1 à CH A"
    assert item.region == world.region_a and item.group is None
    assert AuditEntry.objects.filter(action="exercise.regional_create").count() == 1
    # Each establishment's own exercise is written by the process acting for the officer.
    assert AuditEntry.objects.filter(action="exercise.create", actor_label="system:exercice-regional (regional_officer)",
                                     establishment=world.ch).exists()


def test_it_launches_five_establishments_pauses_and_resumes_them_at_once_and_fires_each_inject_once(
    world: Any,
) -> None:
    item = prepared(world, speed=2)
    outcome = regional.regional_launch(actor=world.regional_officer, regional=item, start_at=T0)
    assert outcome.done == 5 and outcome.refused == {}
    runs = runs_of(item)
    assert len(runs) == 5 and {r.anchor_at for r in runs} == {T0} and {r.status for r in runs} == {RunStatus.RUNNING}
    item.refresh_from_db()
    assert item.status == RegionalExerciseStatus.RUNNING

    # ×2: inject 1 (T+10 min) falls due 5 real minutes after the start, in every run at once.
    assert run_services.runs_process(now=T0 + datetime.timedelta(minutes=4)) == 0
    assert run_services.runs_process(now=T0 + datetime.timedelta(minutes=5, seconds=1)) == 5
    pause_at = T0 + datetime.timedelta(minutes=6)
    assert regional.regional_pause(actor=world.regional_officer, regional=item, now=pause_at).done == 5
    runs = runs_of(item)
    assert {r.status for r in runs} == {RunStatus.PAUSED}
    assert {r.sim_base for r in runs} == {720.0}  # 6 real minutes at ×2, the same everywhere
    # Paused: nothing falls due, however long the pause.
    assert run_services.runs_process(now=pause_at + datetime.timedelta(hours=1)) == 0
    resume_at = pause_at + datetime.timedelta(hours=1)
    assert regional.regional_resume(actor=world.regional_officer, regional=item, now=resume_at).done == 5
    runs = runs_of(item)
    assert {r.status for r in runs} == {RunStatus.RUNNING} and {r.anchor_at for r in runs} == {resume_at}
    # Inject 2 (T+20 min simulated) falls due 4 real minutes after the resume (12 min reached).
    assert run_services.runs_process(now=resume_at + datetime.timedelta(minutes=3, seconds=59)) == 0
    assert run_services.runs_process(now=resume_at + datetime.timedelta(minutes=4, seconds=1)) == 5
    # The animator sends the next inject everywhere by hand, ahead of its time.
    assert regional.regional_fire_next(actor=world.regional_officer, regional=item,
                                       now=resume_at + datetime.timedelta(minutes=5)).done == 5
    # Two worker steps at the same instant, then the rest of the scenario.
    late = resume_at + datetime.timedelta(hours=1)
    assert run_services.runs_process(now=late) + run_services.runs_process(now=late) == 5
    rows = InjectRun.objects.filter(run__in=runs)
    assert rows.count() == 5 * INJECTS
    assert set(rows.values_list("state", flat=True)) == {InjectState.SENT}
    fires = AuditEntry.objects.filter(action="exercise.inject_fire")
    assert fires.count() == 5 * INJECTS
    assert len(set(fires.values_list("object_id", flat=True))) == 5 * INJECTS
    # Every run reached each inject at the same simulated instant.
    for number in (1, 2):
        assert len({round(s, 3) for s in rows.filter(inject__number=number).values_list(
            "fired_sim_seconds", flat=True)}) == 1
    progress = regional.regional_progress(regional=item, now=late)
    assert progress.fired == progress.total == 5 * INJECTS and progress.overdue == 0
    assert regional.regional_finish(actor=world.regional_officer, regional=item, now=late).done == 5
    assert {r.status for r in runs_of(item)} == {RunStatus.FINISHED}
    ids = [e.pk for e in five_establishments(world)[:3]] + [world.clinic.pk]
    assert selectors.establishments_exercised_in_year(establishment_ids=ids, year=2026) == set(ids[:3])


def test_it_leaves_out_an_establishment_whose_exercise_cannot_start_and_says_why(world: Any) -> None:
    item = prepared(world)
    member = RegionalMember.objects.get(regional=item, establishment=world.ehpad)
    member.exercise.participants.all().delete()
    outcome = regional.regional_launch(actor=world.regional_officer, regional=item, start_at=T0)
    assert outcome.done == 4
    assert "animateur" in " ".join(outcome.refused["EHPAD A"])
    with pytest.raises(ValidationError):
        regional.regional_launch(actor=world.regional_officer, regional=item, start_at=T0)


def test_it_reports_and_exports_with_cells_under_five_hidden(world: Any, client_for: Any) -> None:
    item = prepared(world)
    regional.regional_launch(actor=world.regional_officer, regional=item, start_at=T0)
    run_services.runs_process(now=T0 + datetime.timedelta(hours=2))
    report = regional.regional_report(regional=item)
    groups = {g.key: g for g in report.groups}
    assert groups["all"].count == 5 and groups["all"].mean_fired_percent == 100.0
    client = client_for("regional_officer")
    page = client.get(reverse("exercises:regional_report", args=[item.pk]))
    assert page.status_code == 200 and "CHU A" in page.content.decode()
    response = client.get(reverse("exercises:regional_report_export", args=[item.pk, "anonyme"]))
    assert response.status_code == 200
    text = b"".join(response.streaming_content if response.streaming else [response.content]).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";" if ";" in text.splitlines()[2] else ","))
    assert "CHU A" not in text and "CH A" not in text
    # One CHU, three CH, one EHPAD: every category counts fewer than five, all hidden.
    # (no score yet: an empty cell; a figure: hidden).
    assert [row[1] for row in rows[3:-1]] == ["<5"] * 3
    assert {cell for row in rows[3:-1] for cell in row[1:]} == {"<5", ""}
    assert rows[-1][1] == "5" and rows[-1][4] == "100.0"  # all five together: shown
    named = client.get(reverse("exercises:regional_report_export", args=[item.pk, "etablissements"]))
    assert "CHU A" in b"".join(named.streaming_content if named.streaming else [named.content]).decode("utf-8-sig")


def test_it_shows_the_console_and_swaps_its_state_in_place(world: Any, client_for: Any) -> None:
    item = prepared(world)
    client = client_for("regional_officer")
    page = client.get(reverse("exercises:regional_console", args=[item.pk]))
    assert page.status_code == 200
    state_url = reverse("exercises:regional_state", args=[item.pk])
    assert f'hx-get="{state_url}"' in page.content.decode()
    launched = client.post(reverse("exercises:regional_control", args=[item.pk, "launch"]), HTTP_HX_REQUEST="true")
    assert launched.status_code == 200
    body = launched.content.decode()
    assert 'id="regional-status" data-status="running"' in body and "<html" not in body
    assert runs_of(item) and all(r.status == RunStatus.RUNNING for r in runs_of(item))
    paused = client.post(reverse("exercises:regional_control", args=[item.pk, "pause"]), HTTP_HX_REQUEST="true")
    assert 'data-status="paused"' in paused.content.decode()
    state = client.get(reverse("exercises:regional_state", args=[item.pk]))
    assert state.status_code == 200 and body.count('data-establishment="') == 5
    refused = client.post(reverse("exercises:regional_control", args=[item.pk, "pause"]), HTTP_HX_REQUEST="true")
    assert "alert-danger" in refused.content.decode()
    assert client.post(reverse("exercises:regional_control", args=[item.pk, "nothing"])).status_code == 404


def test_it_prepares_from_the_form_of_a_group_ciso_within_the_group_only(world: Any, client_for: Any) -> None:
    client = client_for("group_ciso")
    page = client.get(reverse("exercises:regional_create"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "CHU A" in text and "CH A" in text and "EHPAD A" not in text and "Clinique B" not in text
    response = client.post(reverse("exercises:regional_create"), {
        "title": "Exercice du GHT", "kit_slug": "debutant-rancongiciel", "planned_start": "2026-03-10T09:00",
        "speed": "1", "establishments": [world.chu.pk, world.ch.pk]})
    assert response.status_code == 302
    item = regional.regional_exercise_list(user=world.group_ciso).get()
    assert item.group == world.group_a
    assert item.members.count() == 2
    # Outside the group: refused beside the field, nothing written.
    refused = client.post(reverse("exercises:regional_create"), {
        "title": "Trop large", "kit_slug": "debutant-rancongiciel", "planned_start": "2026-03-10T09:00",
        "speed": "1", "establishments": [world.chu.pk, world.ehpad.pk]})
    assert refused.status_code == 200 and "invalid-feedback" in refused.content.decode()
    # The regional officer of the region sees the group's regional exercise too.
    assert regional.regional_exercise_list(user=world.regional_officer).filter(pk=item.pk).exists()


def test_it_refuses_an_establishment_user(world: Any, client_for: Any) -> None:
    item = prepared(world)
    for persona in ("establishment_admin", "exercise_animator", "crisis_member"):
        user = world.users[persona]
        with pytest.raises(PermissionDenied):
            regional.regional_exercise_create(actor=user, title="Non", establishments=[world.chu], planned_start=T0,
                                              kit_slug="debutant-rancongiciel")
        with pytest.raises(PermissionDenied):
            regional.regional_launch(actor=user, regional=item)
        client = client_for(persona)
        assert client.get(reverse("exercises:regional_list")).status_code == 403
        assert client.get(reverse("exercises:regional_create")).status_code == 403
        assert client.get(reverse("exercises:regional_console", args=[item.pk])).status_code == 404
        assert client.post(reverse("exercises:regional_control", args=[item.pk, "launch"])).status_code == 404
    assert not runs_of(item)


def test_it_hides_a_regional_exercise_from_an_outsider_and_another_region(world: Any, client_for: Any) -> None:
    item = prepared(world)
    other = UserFactory(username="ars_region_b")
    RoleAssignmentFactory(user=other, role=Role.REGIONAL_OFFICER, region=world.region_b)
    clients = {"outsider_admin": client_for("outsider_admin"), "region_b": verified_client(other)}
    for name, client in clients.items():
        for url in (
            reverse("exercises:regional_console", args=[item.pk]),
            reverse("exercises:regional_state", args=[item.pk]),
            reverse("exercises:regional_report", args=[item.pk]),
            reverse("exercises:regional_report_export", args=[item.pk, "anonyme"]),
            reverse("exercises:regional_report_export", args=[item.pk, "etablissements"]),
        ):
            response = client.get(url)
            assert response.status_code == 404, (name, url)
            assert b"CHU A" not in response.content
        assert client.post(reverse("exercises:regional_control", args=[item.pk, "launch"])).status_code == 404
    assert clients["outsider_admin"].get(reverse("exercises:regional_list")).status_code == 403
    assert clients["outsider_admin"].get(reverse("exercises:regional_create")).status_code == 403
    # The other region's officer may prepare one, but only with their own establishments.
    form = clients["region_b"].get(reverse("exercises:regional_create")).content.decode()
    assert "CHU A" not in form and "Clinique B" in form
    assert clients["region_b"].get(reverse("exercises:regional_list")).content.count(b"regional_console") == 0
    with pytest.raises(PermissionDenied):
        regional.regional_launch(actor=other, regional=item)
    # Nor may the other region's officer include the region's establishments.
    with pytest.raises(ValidationError) as refused:
        regional.regional_exercise_create(actor=other, title="Ailleurs", establishments=[world.chu],
                                          planned_start=T0, kit_slug="debutant-rancongiciel")
    assert "CHU A" in str(refused.value)
    assert not runs_of(item)


def test_it_marks_exercised_establishments_in_the_observatory_drilldown(world: Any, client_for: Any) -> None:
    item = prepared(world)
    regional.regional_launch(actor=world.regional_officer, regional=item, start_at=timezone.now())
    client = client_for("regional_officer")
    response = client.get(reverse("readiness:observatory_drilldown"), {
        "chart": "exercised", "bucket": "priority", "region": world.region_a.pk})
    assert response.status_code == 200
    text = response.content.decode()
    assert world.chu.finess in text and 'data-exercised="yes"' in text


def test_the_runner_acts_only_for_exercises() -> None:
    runner = regional_exercise_runner("ars")
    assert runner.label == "system:exercice-regional (ars)" and runner.runs_exercises and not runner.is_authenticated
