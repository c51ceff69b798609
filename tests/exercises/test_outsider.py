"""Exercise routes named one by one against an outsider (the clinic's administrator,
region B), a role of the CHU without the right, and an anonymous visitor. The CHU's
exercise, its participants, injects and live run are never shown to the outsider
(404), the auditor reads but does not act (403), the anonymous visitor is sent to the
login page, and nothing changes."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from planblanc.exercises import run as run_services
from planblanc.exercises.models import (
    Exercise,
    ExerciseRun,
    ExpectedReaction,
    Inject,
    InjectRun,
    Observation,
    Participant,
    ReactionCheck,
)
from tests.conftest import verified_client
from tests.exercises.runkit import Setup, exercise_with_people

pytestmark = pytest.mark.usefixtures("english_messages")


@pytest.fixture
def running(world: Any) -> tuple[Setup, ExerciseRun]:
    setup = exercise_with_people(world)
    run = run_services.run_start(actor=world.exercise_animator, exercise=setup.exercise)
    return setup, run


def _state() -> tuple[Any, ...]:
    return (
        list(Exercise.objects.order_by("pk").values()), list(Inject.objects.order_by("pk").values_list("pk", "subject")),
        list(Participant.objects.order_by("pk").values_list("pk", "role")),
        list(ExpectedReaction.objects.order_by("pk").values_list("pk", "description")),
        list(ExerciseRun.objects.order_by("pk").values_list("pk", "status", "speed")),
        list(InjectRun.objects.order_by("pk").values_list("pk", "state", "note")),
        Observation.objects.count(), ReactionCheck.objects.count(),
    )


def _outsider_routes(setup: Setup, run: ExerciseRun) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """name → (method, url, data) for every route that reads or changes the exercise: what
    an outsider, an anonymous visitor or the auditor tries."""
    exercise = setup.exercise
    pk = exercise.pk
    inject = exercise.injects.filter(expected_reactions__isnull=False).first()
    assert inject is not None
    reaction = inject.expected_reactions.first()
    participant = exercise.participants.first()
    row = run.injects.first()
    assert reaction is not None and participant is not None and row is not None
    return {
        "exercises:edit": ("post", reverse("exercises:edit", args=[pk]), {"title": "Renommé"}),
        "exercises:cancel": ("post", reverse("exercises:cancel", args=[pk]), {}),
        "exercises:export_json": ("get", reverse("exercises:export_json", args=[pk]), {}),
        "exercises:export_xlsx": ("get", reverse("exercises:export_xlsx", args=[pk]), {}),
        "exercises:import_upload": ("post", reverse("exercises:import_upload", args=[pk]), {}),
        "exercises:inject_add": ("post", reverse("exercises:inject_add", args=[pk]), {"subject": "Inject intrus"}),
        "exercises:participant_remove": (
            "post", reverse("exercises:participant_remove", args=[pk, participant.pk]), {}),
        "exercises:reaction_add": ("post", reverse("exercises:reaction_add", args=[pk, inject.pk]),
                                   {"description": "Réaction intruse"}),
        "exercises:reaction_delete": (
            "post", reverse("exercises:reaction_delete", args=[pk, inject.pk, reaction.pk]), {}),
        "exercises:run_console": ("get", reverse("exercises:run_console", args=[pk]), {}),
        "exercises:run_state": ("get", reverse("exercises:run_state", args=[pk]), {}),
        "exercises:run_start": ("post", reverse("exercises:run_start", args=[pk]), {}),
        "exercises:run_control": ("post", reverse("exercises:run_control", args=[pk, "pause"]), {}),
        "exercises:run_inject": ("post", reverse("exercises:run_inject", args=[pk, row.pk, "skip"]),
                                 {"note": "intrus"}),
        "exercises:run_player": ("get", reverse("exercises:run_player", args=[pk]), {}),
        "exercises:run_player_inbox": ("get", reverse("exercises:run_player_inbox", args=[pk]), {}),
        "exercises:run_observer": ("post", reverse("exercises:run_observer", args=[pk]), {"text": "Note intruse"}),
        "exercises:run_evaluation": ("post", reverse("exercises:run_evaluation", args=[pk]),
                                     {"reaction": reaction.pk, "outcome": "met"}),
        "exercises:run_report": ("post", reverse("exercises:run_report", args=[pk]),
                                 {"title": "Action intruse", "due_date": "2030-01-01"}),
        "exercises:run_report_pdf": ("get", reverse("exercises:run_report_pdf", args=[pk]), {}),
    }


def _send(client: Client, method: str, url: str, data: dict[str, Any], name: str) -> Any:
    if name == "exercises:import_upload":
        data = {"file": SimpleUploadedFile("chronogramme.csv", b"heure;titre\n09:00;Intrus\n", content_type="text/csv")}
    return getattr(client, method)(url, data)


def test_the_outsider_gets_a_404_on_every_exercise_route(world: Any, running: tuple[Setup, ExerciseRun]) -> None:
    setup, run = running
    outsider = verified_client(world.outsider_admin)
    before = _state()
    secrets = (setup.exercise.title, "Observatrice", "Animatrice", "Cellule0")
    for name, (method, url, data) in _outsider_routes(setup, run).items():
        response = _send(outsider, method, url, data, name)
        assert response.status_code == 404, name
        body = response.content.decode(errors="replace")
        assert not [s for s in secrets if s in body], name
        if method == "post" and name not in ("exercises:run_start", "exercises:run_control", "exercises:run_inject",
                                             "exercises:cancel", "exercises:participant_remove",
                                             "exercises:reaction_add", "exercises:reaction_delete"):
            assert outsider.get(url).status_code == 404, f"get {name}"
    assert _state() == before


def test_an_anonymous_visitor_is_sent_to_the_login_page(world: Any, running: tuple[Setup, ExerciseRun]) -> None:
    setup, run = running
    anonymous = Client()
    before = _state()
    for name, (method, url, data) in _outsider_routes(setup, run).items():
        response = _send(anonymous, method, url, data, name)
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("accounts:login")), name
    assert _state() == before


def test_the_auditor_of_the_chu_reads_the_exercise_but_changes_nothing(
        world: Any, running: tuple[Setup, ExerciseRun]) -> None:
    setup, run = running
    auditor = verified_client(world.auditor)
    before = _state()
    reads = {"exercises:export_json", "exercises:export_xlsx", "exercises:run_report_pdf"}
    for name, (method, url, data) in _outsider_routes(setup, run).items():
        response = _send(auditor, method, url, data, name)
        if name in reads:
            assert response.status_code == 200, name
        else:
            assert response.status_code in (403, 404), name
    assert _state() == before
