"""The yearly campaign through the pages: created by the establishment's administrator,
invitations written to the alerting outbox with a personal link, a nurse who reads a
module, fails the quiz, passes it and downloads her certificate; her department's
progress rises. And the scope: outsiders get 404, a department head sees only the
departments they head, a forged or expired link opens nothing."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape

from planblanc.accounts.models import AuditEntry
from planblanc.alerting.models import Campaign as AlertCampaign
from planblanc.alerting.models import Delivery
from planblanc.alerting.services import outgoing_message
from planblanc.awareness import services
from planblanc.awareness.content import module_get
from planblanc.awareness.models import Assignment, Campaign
from planblanc.directory.models import Function
from tests.factories import DepartmentFactory, MembershipFactory, PersonFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(english_messages: None) -> None:
    """The assertions read the English messages."""


@pytest.fixture
def staff(world: Any) -> dict[str, Any]:
    maternity = DepartmentFactory(establishment=world.chu, name="Maternité CHU", kind="maternity")
    nurse = PersonFactory(first_name="Inès", last_name="Martin", email="ines.martin@example.org")
    MembershipFactory(person=nurse, establishment=world.chu, department=world.chu_emergency)
    midwife = PersonFactory(first_name="Léa", last_name="Petit")
    MembershipFactory(person=midwife, establishment=world.chu, department=maternity)
    head_user = UserFactory(username="head_of_emergency")
    head = PersonFactory(first_name="Paul", last_name="Chef", user=head_user)
    MembershipFactory(person=head, establishment=world.chu, department=world.chu_emergency,
                      function=Function.DEPARTMENT_HEAD)
    return {"nurse": nurse, "midwife": midwife, "maternity": maternity, "head_user": head_user}


def _create_campaign(client: Client, world: Any) -> Campaign:
    deadline = timezone.localdate() + datetime.timedelta(days=30)
    response = client.post(reverse("awareness:establishment", args=[world.chu.pk]), {
        "title": "Sensibilisation 2026", "year": 2026, "deadline": deadline.isoformat(), "channel": "email"})
    assert response.status_code == 302, response.content
    return Campaign.objects.get(establishment=world.chu)


def _answer(response: Any, *, right: bool) -> dict[str, list[str]]:
    """Fill the quiz shown in `response`: all right answers, or only wrong ones."""
    data: dict[str, list[str]] = {}
    module = response.context["module"]
    for shown in response.context["questions"]:
        question = module.question(shown["id"])
        data[f"q-{question.id}"] = [str(i) for i, a in enumerate(question.answers) if a.correct is right]
    return data


def test_the_nurse_is_invited_fails_once_passes_and_gets_her_certificate(
    world: Any, staff: dict[str, Any], client_for: Any
) -> None:
    admin = client_for("establishment_admin")
    campaign = _create_campaign(admin, world)
    nurse = staff["nurse"]
    modules = set(Assignment.objects.filter(campaign=campaign, person=nurse).values_list("module", flat=True))
    assert {"ransom-note", "phishing", "degraded-mode"} <= modules and "remote-work" not in modules

    # The invitations go to the alerting outbox, each with the person's own link.
    response = admin.post(reverse("awareness:campaign_invite", args=[campaign.pk]))
    assert response.status_code == 302
    campaign.refresh_from_db()
    alert = AlertCampaign.objects.get(pk=campaign.alert_campaign_id)
    delivery = Delivery.objects.get(recipient__campaign=alert, recipient__person=nurse, channel="email")
    body = outgoing_message(delivery).body
    link = re.search(r"http://\S+/sensibilisation/l/\S+/", body).group(0)
    path = link.split("localhost:8000", 1)[1] if "localhost:8000" in link else link
    assert "&amp;" not in body

    nurse_browser = Client()
    home = nurse_browser.get(path)
    assert home.status_code == 200 and "Inès MARTIN" in home.content.decode()
    token = home.context["token"]
    assert services.link_verify(token).person == nurse

    first = True
    for slug in sorted(modules):
        lesson = nurse_browser.get(reverse("awareness:learner_module", args=[token, slug]))
        assert escape(module_get(slug).sections[0].heading.fr) in lesson.content.decode()
        quiz_url = reverse("awareness:learner_quiz", args=[token, slug])
        quiz = nurse_browser.get(quiz_url)
        if first:
            failed = nurse_browser.post(quiz_url, _answer(quiz, right=False))
            assert failed.context["result"]["passed"] is False
            assert 'id="retry"' in failed.content.decode()
            assert Assignment.objects.get(campaign=campaign, person=nurse, module=slug).completed_at is None
            quiz = nurse_browser.get(quiz_url)
            first = False
        passed = nurse_browser.post(quiz_url, _answer(quiz, right=True))
        assert passed.context["result"] == {"score": 100, "passed": True, "needed": module_get(slug).pass_percent}

    done = Assignment.objects.filter(campaign=campaign, person=nurse)
    assert all(a.completed_at and a.best_score == 100 for a in done)
    assert done.get(module=sorted(modules)[0]).attempts == 2

    home = nurse_browser.get(reverse("awareness:learner_home", args=[token]))
    assert 'id="certificate"' in home.content.decode()
    pdf = nurse_browser.get(reverse("awareness:learner_certificate", args=[token]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # The audit log names her as an outside party acting through her personal link.
    audited = AuditEntry.objects.filter(action__in=["awareness.quiz_submit", "awareness.certificate"])
    assert {(e.action, e.actor_id, e.actor_label) for e in audited} == {
        ("awareness.quiz_submit", None, f"learner:{nurse.pk}"), ("awareness.certificate", None, f"learner:{nurse.pk}")}

    page = admin.get(reverse("awareness:establishment", args=[world.chu.pk]))
    rows = {row.label: row for row in page.context["by_department"]}
    assert rows["Urgences CHU"].trained == 1 and rows["Urgences CHU"].people == 2
    assert rows["Maternité CHU"].trained == 0


def test_the_quiz_refuses_an_unanswered_question_beside_it(world: Any, staff: dict[str, Any], client_for: Any) -> None:
    campaign = _create_campaign(client_for("establishment_admin"), world)
    token = services.link_make(campaign=campaign, person=staff["nurse"])
    url = reverse("awareness:learner_quiz", args=[token, "phishing"])
    response = Client().post(url, {})
    assert response.status_code == 200
    assert response.context["result"] is None
    with translation.override("fr"):
        message = escape(translation.gettext("Choose at least one answer."))
    assert response.content.decode().count(message) == module_get("phishing").quiz_size
    assert Assignment.objects.get(campaign=campaign, person=staff["nurse"], module="phishing").attempts == 0


def test_a_forged_an_altered_or_an_expired_link_opens_nothing(
    world: Any, staff: dict[str, Any], client_for: Any, settings: Any
) -> None:
    campaign = _create_campaign(client_for("establishment_admin"), world)
    token = services.link_make(campaign=campaign, person=staff["nurse"])
    forged = signing.dumps({"c": campaign.pk, "p": staff["midwife"].pk}, salt="another-salt", compress=True)
    altered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    browser = Client()
    for bad in (forged, altered, "nonsense", "x" * 400):
        assert browser.get(reverse("awareness:learner_home", args=[bad])).status_code == 404
    assert browser.get(reverse("awareness:learner_home", args=[token])).status_code == 200
    settings.AWARENESS_LINK_DAYS = -1
    assert browser.get(reverse("awareness:learner_home", args=[token])).status_code == 404
    with pytest.raises(services.LinkError, match="expired"):
        services.link_verify(token)


def test_the_outsider_reaches_nothing_of_another_tenant(world: Any, staff: dict[str, Any], client_for: Any) -> None:
    campaign = _create_campaign(client_for("establishment_admin"), world)
    outsider = client_for("outsider_admin")
    assert outsider.get(reverse("awareness:establishment", args=[world.chu.pk])).status_code == 404
    assert outsider.post(reverse("awareness:establishment", args=[world.chu.pk]), {"title": "x"}).status_code == 404
    assert outsider.post(reverse("awareness:campaign_invite", args=[campaign.pk])).status_code == 404
    assert campaign.alert_campaign_id is None and not AlertCampaign.objects.exists()
    # A link signed for another tenant's person, or made up, opens none of the learner pages.
    forged = signing.dumps({"c": campaign.pk, "p": world.clinic_person.pk}, salt=services.LINK_SALT, compress=True)
    for name, args in (("awareness:learner_home", [forged]), ("awareness:learner_module", [forged, "phishing"]),
                       ("awareness:learner_quiz", [forged, "phishing"]),
                       ("awareness:learner_certificate", [forged])):
        assert outsider.get(reverse(name, args=args)).status_code == 404


def test_a_department_head_sees_only_the_departments_they_head(
    world: Any, staff: dict[str, Any], client_for: Any
) -> None:
    _create_campaign(client_for("establishment_admin"), world)
    from tests.conftest import verified_client

    head = verified_client(staff["head_user"])
    page = head.get(reverse("awareness:establishment", args=[world.chu.pk]))
    assert page.status_code == 200
    assert [row.label for row in page.context["by_department"]] == ["Urgences CHU"]
    assert "Maternité CHU" not in page.content.decode()
    assert page.context["form"] is None
    assert head.post(reverse("awareness:establishment", args=[world.chu.pk]), {"title": "x"}).status_code == 404
    # Heading a department in one establishment opens nothing in another.
    assert head.get(reverse("awareness:establishment", args=[world.ch.pk])).status_code == 404


def test_the_quiz_keeps_the_score_never_the_answers_chosen(world: Any, staff: dict[str, Any], client_for: Any) -> None:
    campaign = _create_campaign(client_for("establishment_admin"), world)
    assignment = Assignment.objects.get(campaign=campaign, person=staff["nurse"], module="passwords")
    learner = services.link_verify(services.link_make(campaign=campaign, person=staff["nurse"]))
    questions = services.quiz_questions(assignment=assignment)
    services.quiz_submit(learner=learner, assignment=assignment, answers={q.id: {0} for q in questions})
    columns = {f.name for f in Assignment._meta.get_fields()}
    assert columns >= {"attempts", "best_score", "completed_at"}
    assert not columns & {"answers", "choices", "responses"}
