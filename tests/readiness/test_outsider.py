"""Readiness routes named one by one against an outsider (the clinic's administrator,
region B) and an anonymous visitor: 404 or the login page, none of the CHU's answers,
actions or governance in the answer, and nothing written; the API answers a 404 too."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django.urls import reverse

from planblanc.readiness import services
from planblanc.readiness.models import Action, Answer, GovernanceRecord
from tests.support.api import token_client


def _state() -> tuple[Any, ...]:
    return (sorted(Answer.objects.values_list("pk", "level_id")), sorted(Action.objects.values_list("title", "status")),
            GovernanceRecord.objects.count())


def _chu_readiness(world: Any, chu_assessment: Any) -> Any:
    measure = chu_assessment.referential.measures.get(ref_id="A1")
    services.answer_record(actor=world.establishment_admin, assessment=chu_assessment, measure=measure, level_code="oui")
    services.action_create(actor=world.establishment_admin, establishment=world.chu,
                           data={"title": "Restaurer la sauvegarde du CHU"})
    return measure


def test_the_outsider_gets_a_404_on_the_chu_readiness_pages(client_for: Any, world: Any, chu_assessment: Any) -> None:
    _chu_readiness(world, chu_assessment)
    outsider = client_for("outsider_admin")
    before = _state()
    pages = {
        "readiness:establishment": reverse("readiness:establishment", args=[world.chu.pk]),
        "readiness:actions": reverse("readiness:actions", args=[world.chu.pk]),
        "readiness:governance": reverse("readiness:governance", args=[world.chu.pk]),
    }
    for name, url in pages.items():
        response = outsider.get(url)
        assert response.status_code == 404, name
        assert "Restaurer la sauvegarde du CHU" not in response.content.decode(), name
    assert outsider.post(pages["readiness:actions"], {"title": "Action pirate", "status": "todo"}).status_code == 404
    assert outsider.post(pages["readiness:governance"],
                         {"year": "2025", "it_budget": "100", "security_budget": "5"}).status_code == 404
    assert _state() == before


def test_the_readiness_index_lists_only_the_outsiders_own_establishment(
        client_for: Any, world: Any, chu_assessment: Any) -> None:
    _chu_readiness(world, chu_assessment)
    page = client_for("outsider_admin").get(reverse("readiness:index"))
    assert page.status_code == 200
    body = page.content.decode()
    assert world.clinic.name in body
    assert world.chu.name not in body and reverse("readiness:establishment", args=[world.chu.pk]) not in body
    # The search does not reach outside the scope either.
    searched = client_for("outsider_admin").get(reverse("readiness:index"), {"q": "CHU"}).content.decode()
    assert world.chu.name not in searched


def test_an_anonymous_visitor_is_sent_to_the_login_page(world: Any, chu_assessment: Any) -> None:
    anonymous = Client()
    for name in ("readiness:index",):
        assert reverse("accounts:login") in anonymous.get(reverse(name))["Location"]
    for name in ("readiness:establishment", "readiness:actions", "readiness:governance"):
        response = anonymous.get(reverse(name, args=[world.chu.pk]))
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login")), name


def test_the_api_hides_the_chu_assessment_from_the_outsider(world: Any, chu_assessment: Any) -> None:
    measure = _chu_readiness(world, chu_assessment)
    outsider = token_client(world.outsider_admin)
    before = _state()
    response = outsider.get(f"/api/v1/readiness/assessments/{chu_assessment.pk}")
    assert response.status_code == 404 and "Mesure A1" not in response.content.decode()
    response = outsider.put(f"/api/v1/readiness/assessments/{chu_assessment.pk}/measures/{measure.pk}/answer",
                            data={"level": "non"}, content_type="application/json")
    assert response.status_code == 404
    # A read-only role of the CHU reads it but may not answer.
    auditor = token_client(world.auditor)
    assert auditor.get(f"/api/v1/readiness/assessments/{chu_assessment.pk}").status_code == 200
    response = auditor.put(f"/api/v1/readiness/assessments/{chu_assessment.pk}/measures/{measure.pk}/answer",
                           data={"level": "non"}, content_type="application/json")
    assert response.status_code in (403, 404)
    # Without a token: 401, nothing said.
    assert Client().get(f"/api/v1/readiness/assessments/{chu_assessment.pk}").status_code == 401
    assert _state() == before
