from __future__ import annotations

import datetime
from io import BytesIO
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from planblanc.accounts.models import AuditEntry
from planblanc.exercises import report, selectors
from planblanc.exercises import run as run_services
from planblanc.exercises.models import InjectRun, InjectState, QuestionnaireAnswer
from tests.conftest import verified_client
from tests.exercises.runkit import exercise_with_people, now, play

pytestmark = pytest.mark.usefixtures("english_messages")


T = datetime.timedelta


def _finished(world: Any) -> Any:
    setup = exercise_with_people(world)
    t0 = now()
    run = run_services.run_start(actor=world.exercise_animator, exercise=setup.exercise, speed=10, now=t0)
    end = play(run, start=t0, step_seconds=30, actor=world.exercise_animator)
    run_services.observation_add(actor=setup.observer_user, run=run, text="Cellule réunie vite",
                                 inject=setup.exercise.injects.get(number=1),
                                 criterion=setup.exercise.criteria.get(area="alert"))
    return setup, run_services.run_finish(actor=world.exercise_animator, run=run, now=end + T(seconds=1))


def test_it_produces_the_pdf_with_context_scores_actions_and_answers(world: Any) -> None:
    setup, run = _finished(world)
    report.improvement_action_add(actor=world.exercise_animator, run=run, title="Imprimer la fiche réflexe",
                                  due_date=datetime.date(2027, 3, 1), owner=setup.players[0])
    report.questionnaire_answer(run=run, rating=4, realism=5, went_well="Bonne coordination",
                                to_improve="Annuaire papier")
    pdf = report.report_pdf(actor=world.exercise_animator, run=run)
    text = " ".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages).replace("\n", " ")
    assert "EXERCICE EXERCICE EXERCICE" in text
    assert setup.exercise.title[:25] in text
    assert "Imprimer la fiche réflexe" in text and "01/03/2027" in text and setup.players[0].full_name in text
    assert "Bonne coordination" in text and "Annuaire papier" in text
    assert "Cellule réunie vite" in text
    # Every inject sent appears in the timeline.
    for number in InjectRun.objects.filter(run=run, fired_at__isnull=False).values_list("inject__number", flat=True):
        assert f"inject {number}" in text.lower() or f"injection {number}" in text.lower() or f"{number}" in text
    assert AuditEntry.objects.filter(action="exercise.report_export").count() == 1


def test_it_draws_the_radar_chart_as_accessible_svg(world: Any) -> None:
    svg = report.radar_svg(labels=["A", "B", "C", "D"], values=[100, 50, None, 0])
    assert svg.startswith("<svg") and 'role="img"' in svg and "<title" in svg
    assert "style=" not in svg  # strict CSP on the page
    # The top axis at 100: the polygon reaches the outer ring's first point.
    assert "(not assessed)" in svg
    lone = report.radar_svg(labels=["<b>x</b>", "y", "z"], values=[10, 20, 30])
    assert "&lt;b&gt;" in lone and "<b>" not in lone


def test_it_puts_improvement_actions_in_the_plans_gaps(world: Any) -> None:
    from planblanc.plans.models import Plan
    from planblanc.plans.selectors import plan_gaps

    setup, run = _finished(world)
    with pytest.raises(ValidationError):
        report.improvement_action_add(actor=world.exercise_animator, run=run, title="", due_date=None)
    with pytest.raises(PermissionDenied):
        report.improvement_action_add(actor=world.outsider_admin, run=run, title="x", due_date=datetime.date(2027, 1, 1),
                                      owner_label="X")
    with pytest.raises(ValidationError):
        report.improvement_action_add(actor=world.exercise_animator, run=run, title="x",
                                      due_date=datetime.date(2027, 1, 1), owner=world.clinic_person)
    report.improvement_action_add(actor=world.exercise_animator, run=run, title="Tester la sauvegarde hors ligne",
                                  due_date=datetime.date(2027, 1, 15), owner_label="DSI")
    plan = Plan.objects.create(establishment=world.chu)
    gaps = [g for g in plan_gaps(plan=plan, today=datetime.date(2026, 12, 1)).gaps
            if g.code == "improvement_action_open"]
    assert len(gaps) == 1 and "Tester la sauvegarde hors ligne" in str(gaps[0].message)


def test_it_counts_for_the_yearly_obligation(world: Any) -> None:
    assert selectors.last_exercise_date(establishment=world.chu) is None
    _setup, run = _finished(world)
    assert selectors.last_exercise_date(establishment=world.chu) == timezone.localdate(run.finished_at)
    assert selectors.last_exercise_date(establishment=world.clinic) is None


def test_it_takes_questionnaire_answers_by_signed_link_only(world: Any) -> None:
    _setup, run = _finished(world)
    url = reverse("exercises:questionnaire", args=[report.questionnaire_token(run=run)])
    anonymous = Client()
    assert anonymous.get(url).status_code == 200
    response = anonymous.post(url, {"rating": "5", "realism": "3", "went_well": "Réalisme", "to_improve": ""})
    assert response.status_code == 200 and b"thanks" in response.content
    assert QuestionnaireAnswer.objects.get(run=run).rating == 5
    refused = anonymous.post(url, {"rating": "9", "realism": "3"})
    assert refused.status_code == 200 and QuestionnaireAnswer.objects.count() == 1
    forged = reverse("exercises:questionnaire", args=[report.questionnaire_token(run=run)[:-2] + "xx"])
    assert anonymous.get(forged).status_code == 404


def _routes(exercise_pk: int, row_pk: int) -> list[tuple[str, str]]:
    return [
        ("get", reverse("exercises:run_console", args=[exercise_pk])),
        ("get", reverse("exercises:run_state", args=[exercise_pk])),
        ("post", reverse("exercises:run_start", args=[exercise_pk])),
        ("post", reverse("exercises:run_control", args=[exercise_pk, "pause"])),
        ("post", reverse("exercises:run_inject", args=[exercise_pk, row_pk, "fire"])),
        ("get", reverse("exercises:run_player", args=[exercise_pk])),
        ("get", reverse("exercises:run_observer", args=[exercise_pk])),
        ("get", reverse("exercises:run_evaluation", args=[exercise_pk])),
        ("get", reverse("exercises:run_report", args=[exercise_pk])),
        ("get", reverse("exercises:run_report_pdf", args=[exercise_pk])),
    ]


def test_it_answers_404_to_outsiders_on_every_route(world: Any, client_for: Any) -> None:
    setup = exercise_with_people(world)
    run = run_services.run_start(actor=world.exercise_animator, exercise=setup.exercise)
    row = InjectRun.objects.filter(run=run).first()
    outsider = client_for("outsider_admin")
    for method, url in _routes(setup.exercise.pk, row.pk):
        assert getattr(outsider, method)(url).status_code == 404, url
    assert InjectRun.objects.get(pk=row.pk).state == InjectState.PENDING


def test_it_serves_the_pages_to_animators_players_and_observers(world: Any, client_for: Any) -> None:
    setup = exercise_with_people(world)
    animator = client_for("exercise_animator")
    console = reverse("exercises:run_console", args=[setup.exercise.pk])
    assert animator.get(console).status_code == 200
    response = animator.post(reverse("exercises:run_start", args=[setup.exercise.pk]), {"speed": "10"})
    assert response.status_code == 302
    run = run_services.run_of(exercise=setup.exercise)
    assert run is not None and run.speed == 10
    row = InjectRun.objects.filter(run=run).order_by("inject__number").first()
    animator.post(reverse("exercises:run_inject", args=[setup.exercise.pk, row.pk, "fire"]))
    state = animator.get(reverse("exercises:run_state", args=[setup.exercise.pk]))
    assert state.status_code == 200 and f'id="inject-{row.inject.number}" data-state="sent"' in state.content.decode()
    assert 'hx-trigger="every 2s"' in animator.get(console).content.decode()
    # The player sees the inject and the way to the exercise crisis console.
    player = verified_client(setup.player_user)
    page = player.get(reverse("exercises:run_player", args=[setup.exercise.pk])).content.decode()
    assert f"inbox-{row.inject.number}" in page and reverse("crisis:console", args=[run.crisis_id]) in page
    # Players do not drive the console; crisis members outside the exercise neither.
    assert player.get(console).status_code == 403
    assert client_for("crisis_member").post(
        reverse("exercises:run_control", args=[setup.exercise.pk, "pause"])).status_code == 403
    observer = verified_client(setup.observer_user)
    url = reverse("exercises:run_observer", args=[setup.exercise.pk])
    assert observer.post(url, {"text": "RAS", "inject": row.inject.pk}).status_code == 302
    assert run.observations.get().inject_id == row.inject.pk
    assert observer.get(reverse("exercises:run_evaluation", args=[setup.exercise.pk])).status_code == 200
    pdf = animator.get(reverse("exercises:run_report_pdf", args=[setup.exercise.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
