"""Each gap rule, its severity, the completeness score, and approval."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from planblanc.accounts.models import AuditEntry
from planblanc.plans.models import (
    AlertStep,
    ContactKind,
    Criticality,
    CriticalProcess,
    ExternalContact,
    ITSystem,
    PlanExport,
    PlanVersion,
    ReflexSheet,
    Seat,
    SeatDeputy,
)
from planblanc.plans.selectors import BLOCKING, INFO, WARNING, plan_gaps
from planblanc.plans.services import plan_approve, plan_export_record, plan_part_save
from planblanc.plans.snapshot import plan_snapshot, snapshot_diff, snapshot_sha256


def codes(plan):
    return {gap.code: gap.severity for gap in plan_gaps(plan=plan).gaps}


def test_it_finds_no_blocking_gap_in_a_complete_plan(complete_plan):
    report = plan_gaps(plan=complete_plan)
    assert report.blocking_count == 0, [g.message for g in report.gaps if g.blocking]


def test_it_flags_a_seat_without_deputy(complete_plan):
    SeatDeputy.objects.filter(seat__title="RSSI").delete()
    assert codes(complete_plan)["seat_no_deputy"] == WARNING


def test_it_blocks_on_a_seat_without_holder(complete_plan):
    Seat.objects.filter(title="RSSI").update(holder=None)
    assert codes(complete_plan)["seat_no_holder"] == BLOCKING


def test_it_flags_a_seat_holder_without_mobile(complete_plan):
    holder = Seat.objects.get(title="RSSI").holder
    holder.mobile_phone = ""
    holder.save()
    gaps = [g for g in plan_gaps(plan=complete_plan).gaps if g.code == "person_no_mobile"]
    assert len(gaps) == 1 and holder.last_name.upper() in gaps[0].message


def test_it_blocks_on_a_vital_system_without_recent_restore_test(complete_plan):
    ITSystem.objects.update(last_restore_test=timezone.localdate() - datetime.timedelta(days=400))
    assert codes(complete_plan)["system_no_recent_restore_test"] == BLOCKING


def test_it_blocks_on_a_vital_system_without_offline_copy(complete_plan):
    ITSystem.objects.update(has_offline_copy=False)
    assert codes(complete_plan)["system_no_offline_copy"] == BLOCKING


def test_it_only_warns_for_a_high_criticality_system(complete_plan):
    ITSystem.objects.update(criticality=Criticality.HIGH, has_offline_copy=False, last_restore_test=None)
    found = codes(complete_plan)
    assert found["system_no_offline_copy"] == WARNING
    assert found["system_no_recent_restore_test"] == WARNING


def test_it_ignores_medium_systems_for_backups(complete_plan):
    ITSystem.objects.update(criticality=Criticality.MEDIUM, has_offline_copy=False, last_restore_test=None)
    assert "system_no_offline_copy" not in codes(complete_plan)


def test_it_blocks_when_the_rto_exceeds_the_maximum_downtime(complete_plan):
    CriticalProcess.objects.update(rto=datetime.timedelta(hours=8))
    assert codes(complete_plan)["process_rto_over_mtd"] == BLOCKING


def test_it_warns_when_a_process_has_no_rto(complete_plan):
    CriticalProcess.objects.update(rto=None)
    found = codes(complete_plan)
    assert found["process_no_rto"] == WARNING
    assert "process_rto_over_mtd" not in found


def test_it_blocks_without_a_cert_sante_contact(complete_plan):
    ExternalContact.objects.filter(kind=ContactKind.CERT_SANTE).delete()
    assert codes(complete_plan)["no_cert_sante_contact"] == BLOCKING


def test_it_blocks_when_the_cert_sante_contact_has_no_phone_nor_email(complete_plan):
    ExternalContact.objects.filter(kind=ContactKind.CERT_SANTE).update(email="")
    found = codes(complete_plan)
    assert found["no_cert_sante_contact"] == BLOCKING
    assert found["contact_unreachable"] == WARNING


def test_it_blocks_on_a_reflex_sheet_without_owner_role(complete_plan):
    ReflexSheet.objects.filter(title="Fiche RSSI").update(owner_function="", owner_seat=None)
    report = plan_gaps(plan=complete_plan)
    gap = next(g for g in report.gaps if g.code == "reflex_sheet_no_owner")
    assert gap.blocking and gap.item == "Fiche RSSI"


def test_it_blocks_on_an_empty_alert_tree(complete_plan):
    AlertStep.objects.all().delete()
    assert codes(complete_plan)["alert_tree_empty"] == BLOCKING


def test_it_blocks_without_a_meeting_place(complete_plan):
    complete_plan.meeting_place = ""
    complete_plan.save()
    assert codes(complete_plan)["cell_no_meeting_place"] == BLOCKING


def test_it_asks_for_anssi_only_for_essential_operators(complete_plan):
    ExternalContact.objects.filter(kind=ContactKind.ANSSI).delete()
    assert "no_anssi_contact" not in codes(complete_plan)
    complete_plan.establishment.is_essential_operator = True
    complete_plan.establishment.save()
    assert codes(complete_plan)["no_anssi_contact"] == WARNING


def test_it_warns_when_a_department_has_no_degraded_procedure(complete_plan, world):
    # The CHU has an emergency department and the plan has no procedure for it.
    gap = next(g for g in plan_gaps(plan=complete_plan).gaps if g.code == "department_no_procedure")
    assert gap.severity == WARNING


def test_it_warns_when_the_printed_kit_is_older_than_the_approved_version(complete_plan, director):
    v1 = plan_approve(actor=director, plan=complete_plan)
    assert codes(complete_plan)["paper_kit_outdated"] == WARNING  # never printed
    plan_export_record(actor=director, plan=complete_plan, version=v1, kind=PlanExport.Kind.PAPER_KIT, content=b"%PDF")
    assert "paper_kit_outdated" not in codes(complete_plan)
    plan_approve(actor=director, plan=complete_plan)
    assert codes(complete_plan)["paper_kit_outdated"] == WARNING  # version 2 not printed


def test_it_notes_draft_changes_not_yet_approved(complete_plan, director):
    plan_approve(actor=director, plan=complete_plan)
    assert "draft_not_approved" not in codes(complete_plan)
    sheet = ReflexSheet.objects.get(title="Fiche RSSI")
    plan_part_save(actor=director, plan=complete_plan, instance=sheet, data={"title": "Fiche RSSI (v2)"})
    assert codes(complete_plan)["draft_not_approved"] == INFO


def test_it_scores_completeness_by_weighted_checks(complete_plan):
    before = plan_gaps(plan=complete_plan)
    ExternalContact.objects.filter(kind=ContactKind.CERT_SANTE).update(kind=ContactKind.OTHER)
    after = plan_gaps(plan=complete_plan)
    # A failed blocking check weighs 3 of the total.
    assert after.weight_total == before.weight_total
    assert after.weight_passed == before.weight_passed - 3
    assert after.score < before.score <= 100


# Approval ----------------------------------------------------------------------------


def test_it_approves_a_complete_plan_into_version_one(complete_plan, director):
    version = plan_approve(actor=director, plan=complete_plan, note="Première version")
    assert version.number == 1
    assert version.snapshot == plan_snapshot(complete_plan)
    assert version.snapshot_sha256 == snapshot_sha256(version.snapshot)
    assert AuditEntry.objects.filter(action="plan.approve", object_id=str(version.pk)).exists()


def test_it_refuses_approval_with_the_list_of_blocking_gaps(complete_plan, director):
    ExternalContact.objects.filter(kind=ContactKind.CERT_SANTE).delete()
    Seat.objects.filter(title="RSSI").update(holder=None)
    with pytest.raises(ValidationError) as refused:
        plan_approve(actor=director, plan=complete_plan)
    messages = refused.value.messages
    assert len(messages) == 3  # the heading and the two gaps
    assert any("CERT Santé" in m for m in messages)
    assert any("RSSI" in m for m in messages)
    assert not PlanVersion.objects.exists()


def test_it_refuses_approval_by_someone_who_is_not_the_director(complete_plan, world):
    # The establishment administrator may edit the plan, not approve it.
    with pytest.raises(PermissionDenied):
        plan_approve(actor=world.establishment_admin, plan=complete_plan)
    assert not PlanVersion.objects.exists()


def test_it_lets_the_deputy_director_approve(complete_plan, world):
    from planblanc.directory.models import Function, Membership
    from tests.factories import UserFactory

    deputy = Membership.objects.get(establishment=world.chu, function=Function.DEPUTY_DIRECTOR).person
    deputy.user = UserFactory(username="adjoint")
    deputy.save()
    from tests.factories import RoleAssignmentFactory

    RoleAssignmentFactory(user=deputy.user, role="crisis_member", establishment=world.chu)
    assert plan_approve(actor=deputy.user, plan=complete_plan).number == 1


def test_it_refuses_a_director_of_another_establishment(complete_plan, world):
    from planblanc.directory.models import Function
    from tests.factories import MembershipFactory, PersonFactory, RoleAssignmentFactory, UserFactory

    other = UserFactory(username="directeur.clinique")
    RoleAssignmentFactory(user=other, role="establishment_admin", establishment=world.clinic)
    MembershipFactory(person=PersonFactory(user=other), establishment=world.clinic, function=Function.DIRECTOR)
    with pytest.raises(PermissionDenied):
        plan_approve(actor=other, plan=complete_plan)


def test_it_keeps_an_approved_version_immutable(complete_plan, director):
    version = plan_approve(actor=director, plan=complete_plan)
    frozen = dict(version.snapshot)
    sheet = ReflexSheet.objects.get(title="Fiche RSSI")
    plan_part_save(actor=director, plan=complete_plan, instance=sheet, data={"title": "Fiche sécurité"})
    version.refresh_from_db()
    assert version.snapshot == frozen
    assert version.snapshot_sha256 == snapshot_sha256(frozen)
    version.note = "changed"
    with pytest.raises(PermissionError):
        version.save()


def test_it_numbers_versions_and_compares_them(complete_plan, director):
    v1 = plan_approve(actor=director, plan=complete_plan)
    sheet = ReflexSheet.objects.get(title="Fiche RSSI")
    plan_part_save(actor=director, plan=complete_plan, instance=sheet, data={"title": "Fiche sécurité"})
    ExternalContact.objects.filter(kind=ContactKind.ARS).update(phone="+33199000999")
    v2 = plan_approve(actor=director, plan=complete_plan)
    assert v2.number == 2
    changes = snapshot_diff(v1.snapshot, v2.snapshot)
    summary = {(c["section"], c["item"], c["change"]) for c in changes}
    assert ("reflex_sheets", "Fiche RSSI", "removed") in summary
    assert ("reflex_sheets", "Fiche sécurité", "added") in summary
    ars = next(c for c in changes if c["section"] == "contacts" and c["change"] == "changed")
    assert ars["fields"]["phone"] == ["+33199000125", "+33199000999"]


def test_it_refuses_a_deputy_from_another_establishment(complete_plan, director, world):
    from planblanc.plans.services import seat_set_deputies

    seat = Seat.objects.get(title="RSSI")
    with pytest.raises(ValidationError):
        seat_set_deputies(actor=director, seat=seat, people=[world.clinic_person])
    assert list(seat.deputies.values_list("person__last_name", flat=True)) == ["Adjoint"]
