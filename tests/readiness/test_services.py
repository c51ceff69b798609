from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from planblanc.accounts.models import AuditEntry
from planblanc.readiness import selectors, services
from planblanc.readiness.models import Action, ActionStatus, Answer, Evidence, GovernanceRecord
from tests.factories import MembershipFactory, PersonFactory


def measure(assessment: Any, ref_id: str = "A1") -> Any:
    return assessment.referential.measures.get(ref_id=ref_id)


def test_it_requires_a_reason_for_not_applicable(world: Any, chu_assessment: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        services.answer_record(actor=world.establishment_admin, assessment=chu_assessment,
                               measure=measure(chu_assessment), not_applicable=True, not_applicable_reason="  ")
    assert "Say why this measure does not apply." in caught.value.message_dict["not_applicable_reason"]
    assert not Answer.objects.exists()
    answer = services.answer_record(actor=world.establishment_admin, assessment=chu_assessment,
                                    measure=measure(chu_assessment), not_applicable=True,
                                    not_applicable_reason="Aucun poste nomade")
    assert answer.level is None and answer.not_applicable_reason == "Aucun poste nomade"


def test_it_refuses_a_missing_or_unknown_level(world: Any, chu_assessment: Any) -> None:
    for level, expected in (("", "Choose a level"), ("parfait", "Unknown level “parfait”")):
        with pytest.raises(ValidationError) as caught:
            services.answer_record(actor=world.establishment_admin, assessment=chu_assessment,
                                   measure=measure(chu_assessment), level_code=level)
        assert expected in caught.value.message_dict["level"][0]
    assert not Answer.objects.exists()


def test_it_refuses_a_measure_of_another_referential(world: Any, chu_assessment: Any, bundled: dict) -> None:
    other = bundled["care"].measures.first()
    with pytest.raises(ValidationError):
        services.answer_record(actor=world.establishment_admin, assessment=chu_assessment, measure=other,
                               level_code="oui")


@pytest.mark.parametrize("persona", ["auditor", "crisis_member", "exercise_animator", "regional_officer", "outsider_admin"])
def test_it_refuses_answers_from_who_may_not_assess(world: Any, chu_assessment: Any, persona: str) -> None:
    with pytest.raises(PermissionDenied):
        services.answer_record(actor=world.users[persona], assessment=chu_assessment,
                               measure=measure(chu_assessment), level_code="oui")
    assert not Answer.objects.exists()


@pytest.mark.parametrize("persona", ["establishment_admin", "group_ciso", "national_admin"])
def test_it_lets_assessors_answer(world: Any, chu_assessment: Any, persona: str) -> None:
    services.answer_record(actor=world.users[persona], assessment=chu_assessment,
                           measure=measure(chu_assessment), level_code="oui")
    assert Answer.objects.filter(is_current=True).count() == 1


def test_it_audits_each_answer(world: Any, chu_assessment: Any) -> None:
    services.answer_record(actor=world.establishment_admin, assessment=chu_assessment,
                           measure=measure(chu_assessment), level_code="partiel")
    services.answer_record(actor=world.establishment_admin, assessment=chu_assessment,
                           measure=measure(chu_assessment), level_code="oui")
    entries = AuditEntry.objects.filter(action="assessment.answer").order_by("pk")
    assert entries.count() == 2
    last = entries.last()
    assert last.actor == world.establishment_admin and last.establishment == world.chu
    assert last.changes["level"] == ["partiel", "oui"]
    assert AuditEntry.objects.filter(action="assessment.start", establishment=world.chu).count() == 1


@pytest.mark.parametrize("url", ["pas une adresse", "ftp://serveur/preuve.pdf", "javascript:alert(1)", "www.exemple.fr"])
def test_it_refuses_an_evidence_link_that_is_not_a_url(world: Any, chu_assessment: Any, url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        services.evidence_add(actor=world.establishment_admin, assessment=chu_assessment,
                              measure=measure(chu_assessment), url=url)
    assert "is not a web address" in caught.value.message_dict["url"][0]
    assert not Evidence.objects.exists()


def test_it_needs_a_link_or_a_file(world: Any, chu_assessment: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        services.evidence_add(actor=world.establishment_admin, assessment=chu_assessment, measure=measure(chu_assessment))
    assert "Give either a link or a file." in caught.value.message_dict["url"]


def test_it_stores_evidence_files_under_the_data_dir_and_links(world: Any, chu_assessment: Any, tmp_path: Path, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    upload = SimpleUploadedFile("pv-test-restauration.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    evidence = services.evidence_add(actor=world.establishment_admin, assessment=chu_assessment,
                                     measure=measure(chu_assessment), file=upload, expires_on=None)
    assert Path(evidence.file.path).is_relative_to(tmp_path / "media")
    assert Path(evidence.file.path).read_bytes() == b"%PDF-1.4 test"
    assert evidence.title == "pv-test-restauration.pdf"
    link = services.evidence_add(actor=world.establishment_admin, assessment=chu_assessment,
                                 measure=measure(chu_assessment), url="https://intranet.chu.example/pca.pdf",
                                 title="PCA signé")
    assert link.url == "https://intranet.chu.example/pca.pdf"
    assert AuditEntry.objects.filter(action="evidence.add").count() == 2


def test_it_places_media_inside_the_data_dir() -> None:
    assert Path(settings.MEDIA_ROOT).is_relative_to(settings.DATA_DIR)


def test_it_does_not_propose_essential_operator_referentials_to_others(world: Any, bundled: dict) -> None:
    slugs = {r.slug for r in selectors.referentials_applicable(establishment=world.chu)}
    assert "nis-ose" not in slugs and "hygiene-anssi" in slugs
    with pytest.raises(ValidationError):
        services.assessment_start(actor=world.establishment_admin, establishment=world.chu, referential=bundled["nis-ose"])
    world.chu.is_essential_operator = True
    world.chu.save()
    assert "nis-ose" in {r.slug for r in selectors.referentials_applicable(establishment=world.chu)}
    services.assessment_start(actor=world.establishment_admin, establishment=world.chu, referential=bundled["nis-ose"])


# Governance -----------------------------------------------------------------------------


def test_it_refuses_a_security_budget_over_the_it_budget(world: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        services.governance_record_save(actor=world.establishment_admin, establishment=world.chu, year=2025,
                                        data={"it_budget": Decimal("1000000"), "security_budget": Decimal("1500000")})
    message = caught.value.message_dict["security_budget"][0]
    assert "150.0 %" in message and "cannot be over 100 %" in message
    assert not GovernanceRecord.objects.exists()
    with pytest.raises(ValidationError):
        services.governance_record_save(actor=world.establishment_admin, establishment=world.chu, year=2025,
                                        data={"it_budget": Decimal(0), "security_budget": Decimal(10)})
    with pytest.raises(ValidationError) as caught:
        services.governance_record_save(actor=world.establishment_admin, establishment=world.chu, year=2025,
                                        data={"it_budget": Decimal(-5)})
    assert "negative" in caught.value.message_dict["it_budget"][0]


def test_it_saves_the_governance_record_with_its_share(world: Any) -> None:
    ciso = world.chu_person
    record = services.governance_record_save(
        actor=world.establishment_admin, establishment=world.chu, year=2025,
        data={"ciso": ciso, "dpo_pooled": True, "it_budget": Decimal("2000000"), "security_budget": Decimal("130000"),
              "security_in_risk_management": True},
    )
    assert record.security_share == Decimal("6.5")
    again = services.governance_record_save(actor=world.establishment_admin, establishment=world.chu, year=2025,
                                            data={"security_budget": Decimal("200000")})
    assert again.pk == record.pk and again.security_share == Decimal("10.0")
    actions = list(
        AuditEntry.objects.filter(object_type="readiness.governancerecord").order_by("pk").values_list("action", flat=True)
    )
    assert actions == ["governance.create", "governance.update"]
    view = selectors.governance_view(establishment=world.chu, year=2025)
    assert not any("CISO" in gap or "DPO" in gap for gap in view.gaps)
    assert view.is_essential_operator is False


def test_it_accepts_a_pooled_officer_from_the_group_only_when_pooled(world: Any) -> None:
    group_ciso = world.ch_person  # works at the CH, same group as the CHU
    with pytest.raises(ValidationError):
        services.governance_record_save(actor=world.establishment_admin, establishment=world.chu, year=2025,
                                        data={"ciso": group_ciso})
    record = services.governance_record_save(actor=world.establishment_admin, establishment=world.chu, year=2025,
                                             data={"ciso": group_ciso, "ciso_pooled": True})
    assert record.ciso == group_ciso
    with pytest.raises(ValidationError):
        services.governance_record_save(actor=world.establishment_admin, establishment=world.chu, year=2025,
                                        data={"dpo": world.clinic_person, "dpo_pooled": True})


def test_it_lists_governance_gaps(world: Any) -> None:
    services.governance_record_save(actor=world.establishment_admin, establishment=world.chu, year=2025,
                                    data={"it_budget": Decimal(1000), "security_budget": Decimal(20)})
    gaps = selectors.governance_view(establishment=world.chu, year=2025).gaps
    assert any("CISO" in g for g in gaps) and any("DPO" in g for g in gaps)
    assert any("2.0 %" in g for g in gaps)
    assert any("white plan" in g for g in gaps)


def test_it_refuses_governance_changes_from_read_only_roles(world: Any) -> None:
    for persona in ("auditor", "regional_officer", "crisis_member", "outsider_admin"):
        with pytest.raises(PermissionDenied):
            services.governance_record_save(actor=world.users[persona], establishment=world.chu, year=2025, data={})
    assert not GovernanceRecord.objects.exists()


# Action plan ----------------------------------------------------------------------------


def test_it_creates_and_closes_an_action(world: Any, chu_assessment: Any) -> None:
    action = services.action_create(
        actor=world.establishment_admin, establishment=world.chu,
        data={"title": "Tester la restauration du DPI", "measure": measure(chu_assessment), "owner": world.chu_person,
              "due_on": None, "status": ActionStatus.TODO},
    )
    assert list(selectors.actions_open(establishment=world.chu)) == [action]
    services.action_update(actor=world.establishment_admin, action=action, data={"status": ActionStatus.DONE})
    action.refresh_from_db()
    assert action.closed_at is not None
    assert not selectors.actions_open(establishment=world.chu).exists()
    assert list(AuditEntry.objects.filter(object_type="readiness.action").order_by("pk").values_list("action", flat=True)) == [
        "action.create", "action.update"]


def test_it_refuses_an_action_without_title_or_with_an_owner_from_elsewhere(world: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        services.action_create(actor=world.establishment_admin, establishment=world.chu, data={"title": "  "})
    assert "title" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        services.action_create(actor=world.establishment_admin, establishment=world.chu,
                               data={"title": "Former les équipes", "owner": world.clinic_person})
    assert "owner" in caught.value.message_dict
    with pytest.raises(PermissionDenied):
        services.action_create(actor=world.auditor, establishment=world.chu, data={"title": "Former"})
    assert not Action.objects.exists()


# Aggregates -----------------------------------------------------------------------------


def test_it_aggregates_scores_in_a_bounded_number_of_queries(world: Any, mini: Any, django_assert_max_num_queries: Any) -> None:
    from planblanc.directory.models import Establishment
    from tests.factories import EstablishmentFactory

    extra = [EstablishmentFactory(region=world.region_a, category="ch") for _ in range(5)]
    for establishment in [world.chu, world.ch, *extra]:
        assessment = services.assessment_start(actor=world.national_admin, establishment=establishment, referential=mini)
        services.answer_record(actor=world.national_admin, assessment=assessment,
                               measure=mini.measures.get(ref_id="B2"), level_code="oui")  # 4 / 8 → 50
    services.answer_record(actor=world.national_admin, assessment=world.chu.assessments.get(),
                           measure=mini.measures.get(ref_id="B1"), level_code="oui")  # 6 / 8 → 75
    visible = Establishment.objects.visible_to(world.regional_officer)
    with django_assert_max_num_queries(1):
        scores = selectors.scores_by_establishment(establishments=visible)
    assert scores[world.chu.pk]["mini"] == Decimal("75.00")
    assert scores[world.ch.pk]["mini"] == Decimal("50.00")
    assert world.clinic.pk not in scores
    with django_assert_max_num_queries(1):
        by_category = selectors.score_summary_by(establishments=visible, referential_slug="mini", group_by="category")
    rows = {row["establishment__category"]: row for row in by_category}
    assert rows["chu"]["assessed"] == 1 and rows["chu"]["average"] == pytest.approx(75)
    assert rows["ch"]["assessed"] == 6 and rows["ch"]["average"] == pytest.approx(50)
    outsider_view = Establishment.objects.visible_to(world.outsider_admin)
    assert selectors.scores_by_establishment(establishments=outsider_view) == {}


def test_it_lets_people_of_the_establishment_own_actions(world: Any) -> None:
    newcomer = MembershipFactory(establishment=world.chu, person=PersonFactory(last_name="Nouveau")).person
    assert newcomer in selectors.establishment_people(establishment=world.chu)
    assert world.clinic_person not in selectors.establishment_people(establishment=world.chu, with_group=True)
    assert world.ch_person in selectors.establishment_people(establishment=world.chu, with_group=True)
