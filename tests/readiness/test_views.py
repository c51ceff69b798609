"""Pages and API: tenancy (the outsider gets 404 everywhere), read-only roles cannot
write, assessors can; the pages render on every route."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from planblanc.readiness import services
from planblanc.readiness.models import Action, ActionStatus, Answer, Evidence, GovernanceRecord


@pytest.fixture
def setup(world: Any, chu_assessment: Any) -> dict[str, Any]:
    a1 = chu_assessment.referential.measures.get(ref_id="A1")
    services.answer_record(actor=world.establishment_admin, assessment=chu_assessment, measure=a1, level_code="oui")
    evidence = services.evidence_add(actor=world.establishment_admin, assessment=chu_assessment, measure=a1,
                                     url="https://intranet.chu.example/preuve")
    action = services.action_create(actor=world.establishment_admin, establishment=world.chu,
                                    data={"title": "Tester la restauration"})
    return {"assessment": chu_assessment, "measure": a1, "evidence": evidence, "action": action}


def read_urls(world: Any, setup: dict[str, Any]) -> list[str]:
    assessment, measure = setup["assessment"], setup["measure"]
    return [
        reverse("readiness:establishment", args=[world.chu.pk]),
        reverse("readiness:assessment", args=[assessment.pk]),
        reverse("readiness:answer_history", args=[assessment.pk, measure.pk]),
        reverse("readiness:actions", args=[world.chu.pk]),
        reverse("readiness:governance", args=[world.chu.pk]),
        reverse("api:get_assessment", args=[assessment.pk]),
        reverse("api:list_referentials") + f"?establishment_id={world.chu.pk}",
    ]


def write_requests(world: Any, setup: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    assessment, measure = setup["assessment"], setup["measure"]
    prefix = f"m{measure.pk}"
    return [
        (reverse("readiness:assessment_start", args=[world.chu.pk, assessment.referential_id]), {}),
        (reverse("readiness:answer", args=[assessment.pk, measure.pk]), {f"{prefix}-level": "non"}),
        (reverse("readiness:evidence_add", args=[assessment.pk, measure.pk]), {f"{prefix}e-url": "https://exemple.fr/x"}),
        (reverse("readiness:actions", args=[world.chu.pk]), {"title": "Action pirate", "status": "todo"}),
        (reverse("readiness:action_edit", args=[setup["action"].pk]), {"title": "Renommée", "status": "done"}),
        (reverse("readiness:governance", args=[world.chu.pk]), {"year": "2025", "it_budget": "100", "security_budget": "5"}),
    ]


def unchanged(setup: dict[str, Any]) -> None:
    assert Answer.objects.count() == 1
    assert Evidence.objects.count() == 1
    assert list(Action.objects.values_list("title", "status")) == [("Tester la restauration", ActionStatus.TODO)]
    assert not GovernanceRecord.objects.exists()


def test_it_shows_every_page_to_the_establishment_admin(client_for: Any, world: Any, setup: dict[str, Any]) -> None:
    client = client_for("establishment_admin")
    for url in read_urls(world, setup):
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get(reverse("readiness:assessment", args=[setup["assessment"].pk])).content.decode()
    assert "Mesure A1" in page and "hx-post" in page and "<script" not in page.split("</head>")[1]
    assert 'style="' not in page


@pytest.mark.parametrize("persona", ["outsider_admin"])
def test_it_hides_everything_from_an_outsider(client_for: Any, world: Any, setup: dict[str, Any], persona: str) -> None:
    client = client_for(persona)
    for url in read_urls(world, setup):
        assert client.get(url).status_code == 404, url
    assert client.get(reverse("readiness:evidence_file", args=[setup["evidence"].pk])).status_code == 404
    for url, data in write_requests(world, setup):
        assert client.post(url, data).status_code == 404, url
    response = client.put(
        reverse("api:put_answer", args=[setup["assessment"].pk, setup["measure"].pk]),
        data={"level": "non"}, content_type="application/json",
    )
    assert response.status_code == 404
    unchanged(setup)


@pytest.mark.parametrize("persona", ["auditor", "crisis_member", "exercise_animator", "regional_officer"])
def test_it_lets_read_only_roles_read_but_not_write(client_for: Any, world: Any, setup: dict[str, Any], persona: str) -> None:
    client = client_for(persona)
    for url in read_urls(world, setup):
        assert client.get(url).status_code == 200, url
    page = client.get(reverse("readiness:assessment", args=[setup["assessment"].pk])).content.decode()
    assert "Save the answer" not in page and "Enregistrer la réponse" not in page
    for url, data in write_requests(world, setup):
        assert client.post(url, data).status_code == 404, url
    response = client.put(
        reverse("api:put_answer", args=[setup["assessment"].pk, setup["measure"].pk]),
        data={"level": "non"}, content_type="application/json",
    )
    assert response.status_code == 404
    unchanged(setup)


def test_it_answers_a_measure_inline_with_htmx(client_for: Any, world: Any, setup: dict[str, Any]) -> None:
    client = client_for("establishment_admin")
    assessment, b1 = setup["assessment"], setup["assessment"].referential.measures.get(ref_id="B1")
    url = reverse("readiness:answer", args=[assessment.pk, b1.pk])
    response = client.post(url, {f"m{b1.pk}-level": "partiel", f"m{b1.pk}-comment": "En cours"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="measure-{b1.pk}"' in body and 'hx-swap-oob="true"' in body
    # A1 done (1) and B1 partly (2 × 0.5): 100 × 2 / 8 = 25
    assessment.refresh_from_db()
    assert assessment.score == Decimal("25.00")
    assert "25,0" in body or "25.0" in body


def test_it_shows_the_reason_error_inline(client_for: Any, world: Any, setup: dict[str, Any]) -> None:
    client = client_for("establishment_admin")
    assessment, b1 = setup["assessment"], setup["assessment"].referential.measures.get(ref_id="B1")
    response = client.post(reverse("readiness:answer", args=[assessment.pk, b1.pk]),
                           {f"m{b1.pk}-not_applicable": "on"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert not Answer.objects.filter(measure=b1).exists()


def test_it_refuses_a_bad_evidence_link_from_the_page(client_for: Any, world: Any, setup: dict[str, Any]) -> None:
    client = client_for("establishment_admin")
    assessment, measure = setup["assessment"], setup["measure"]
    response = client.post(reverse("readiness:evidence_add", args=[assessment.pk, measure.pk]),
                           {f"m{measure.pk}e-url": "pas un lien"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    assert Evidence.objects.count() == 1


def test_it_saves_governance_and_refuses_a_share_over_100(client_for: Any, world: Any, setup: dict[str, Any]) -> None:
    client = client_for("establishment_admin")
    url = reverse("readiness:governance", args=[world.chu.pk])
    response = client.post(url, {"year": "2025", "it_budget": "1000", "security_budget": "1200"})
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    assert not GovernanceRecord.objects.exists()
    response = client.post(url, {"year": "2025", "it_budget": "1000", "security_budget": "70", "dpo_pooled": "on"})
    assert response.status_code == 302
    record = GovernanceRecord.objects.get()
    assert record.year == 2025 and record.security_share == Decimal("7.0") and record.dpo_pooled


def test_it_starts_an_assessment_from_the_overview(client_for: Any, world: Any, bundled: dict) -> None:
    client = client_for("group_ciso")
    page = client.get(reverse("readiness:establishment", args=[world.ch.pk])).content.decode()
    assert bundled["hygiene-anssi"].name.replace("'", "&#x27;") in page
    assert bundled["nis-ose"].name.replace("'", "&#x27;") not in page
    response = client.post(reverse("readiness:assessment_start", args=[world.ch.pk, bundled["hygiene-anssi"].pk]))
    assert response.status_code == 302
    assert client.post(reverse("readiness:assessment_start", args=[world.ch.pk, bundled["nis-ose"].pk])).status_code == 404


def test_it_serves_evidence_files_as_attachments(client_for: Any, world: Any, setup: dict[str, Any], tmp_path: Any, settings: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    evidence = services.evidence_add(actor=world.establishment_admin, assessment=setup["assessment"],
                                     measure=setup["measure"], file=SimpleUploadedFile("x.html", b"<script>1</script>"))
    response = client_for("auditor").get(reverse("readiness:evidence_file", args=[evidence.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert b"".join(response.streaming_content) == b"<script>1</script>"


def test_it_lists_establishments_with_their_scores(client_for: Any, world: Any, setup: dict[str, Any], django_assert_max_num_queries: Any) -> None:
    assessment = setup["assessment"]
    services.answer_record(actor=world.establishment_admin, assessment=assessment,
                           measure=assessment.referential.measures.get(ref_id="B1"), level_code="partiel")
    client = client_for("regional_officer")
    with django_assert_max_num_queries(15):
        response = client.get(reverse("readiness:index"))
    body = response.content.decode()
    assert "CHU A" in body and "mini 25 %" in body and "Clinique B" not in body
    # The menu page stays at its address (no redirect), even for a single establishment.
    response = client_for("auditor").get(reverse("readiness:index"))
    assert response.status_code == 200 and "CHU A" in response.content.decode()


def test_it_answers_through_the_api(client_for: Any, world: Any, setup: dict[str, Any]) -> None:
    client = client_for("establishment_admin")
    assessment, b2 = setup["assessment"], setup["assessment"].referential.measures.get(ref_id="B2")
    url = reverse("api:put_answer", args=[assessment.pk, b2.pk])
    response = client.put(url, data={"not_applicable": True}, content_type="application/json")
    assert response.status_code == 422
    assert "not_applicable_reason" in response.json()["errors"]
    response = client.put(url, data={"level": "oui"}, content_type="application/json")
    assert response.status_code == 200
    # A1 (1) + B2 (4) out of 8 → 62.5
    assert response.json()["score"]["value"] == "62.50"
    data = client.get(reverse("api:get_assessment", args=[assessment.pk])).json()
    assert {m["ref_id"]: (m["answer"] or {}).get("level") for m in data["measures"]} == {
        "A1": "oui", "A2": None, "B1": None, "B2": "oui"}
    assert client.get(reverse("api:list_referentials")).json()[0]["slug"] == "mini"


def test_it_renders_a_whole_referential_in_a_bounded_number_of_queries(
    client_for: Any, world: Any, bundled: dict, django_assert_max_num_queries: Any
) -> None:
    hygiene = bundled["hygiene-anssi"]
    assessment = services.assessment_start(actor=world.establishment_admin, establishment=world.chu, referential=hygiene)
    top = hygiene.scale.levels.order_by("-value").first()
    for measure in hygiene.measures.all()[:10]:
        services.answer_record(actor=world.establishment_admin, assessment=assessment, measure=measure, level_code=top.code)
    client = client_for("establishment_admin")
    with django_assert_max_num_queries(20):
        response = client.get(reverse("readiness:assessment", args=[assessment.pk]))
    assert response.content.decode().count('class="list-group-item pb-measure"') == 42
