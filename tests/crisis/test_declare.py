"""Declaring a crisis: who may, a second one, the tasks, the status board, the alert."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from planblanc.accounts.models import AuditEntry
from planblanc.alerting.models import Campaign
from planblanc.crisis.chain import logbook_verify
from planblanc.crisis.models import (
    Crisis,
    CrisisTask,
    DepartmentStatus,
    LogbookEntry,
    SystemStatus,
    TaskSource,
)
from planblanc.crisis.services import crisis_declare
from planblanc.directory.models import Function
from planblanc.tenancy import Role
from tests.factories import MembershipFactory, PersonFactory, RoleAssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db


def _declare(actor, world, **kwargs):
    params = {"kind": "ransomware", "severity": "major", "first_facts": "Fichiers chiffrés sur le serveur PACS."}
    params.update(kwargs)
    return crisis_declare(actor=actor, establishment=world.chu, **params)


def test_it_lets_the_director_declare_and_opens_the_logbook(world, director, approved_plan):
    crisis = _declare(director, world)
    assert crisis.is_active and crisis.plan_version == approved_plan
    entries = list(LogbookEntry.objects.filter(crisis=crisis))
    assert entries[0].seq == 1 and "Fichiers chiffrés" in entries[0].text
    assert entries[0].author == director
    assert logbook_verify(crisis).ok
    assert AuditEntry.objects.filter(action="crisis.declare", object_id=str(crisis.pk)).exists()


def test_it_lets_a_deputy_director_declare(world):
    user = UserFactory(username="adjoint")
    RoleAssignmentFactory(user=user, role=Role.CRISIS_MEMBER, establishment=world.chu)
    MembershipFactory(person=PersonFactory(user=user), establishment=world.chu, function=Function.DEPUTY_DIRECTOR)
    assert _declare(user, world).declared_by == user


@pytest.mark.parametrize(
    "persona",
    ["national_admin", "regional_officer", "group_ciso", "establishment_admin", "crisis_member", "outsider_admin"],
)
def test_it_refuses_anyone_but_the_director_or_deputy(world, persona):
    with pytest.raises(PermissionDenied) as refused:
        _declare(world.users[persona], world)
    assert "director" in str(refused.value)
    assert not Crisis.objects.exists() and not LogbookEntry.objects.exists()


def test_it_refuses_a_director_of_another_establishment(world):
    user = UserFactory(username="directeur.clinique")
    RoleAssignmentFactory(user=user, role=Role.CRISIS_MEMBER, establishment=world.clinic)
    MembershipFactory(person=PersonFactory(user=user), establishment=world.clinic, function=Function.DIRECTOR)
    with pytest.raises(PermissionDenied):
        _declare(user, world)


def test_it_refuses_bad_input_with_a_message_per_field(world, director):
    with pytest.raises(ValidationError) as refused:
        _declare(director, world, kind="alien", severity="", first_facts="  ")
    assert set(refused.value.message_dict) == {"kind", "severity", "first_facts"}
    assert not Crisis.objects.exists()


def test_it_needs_confirmation_for_a_second_active_crisis(world, director):
    first = _declare(director, world)
    with pytest.raises(ValidationError) as refused:
        _declare(director, world, kind="data_theft")
    assert refused.value.code == "second_crisis"
    assert Crisis.objects.count() == 1
    second = _declare(director, world, kind="data_theft", confirm_second=True)
    assert second.pk != first.pk and Crisis.objects.filter(status="active").count() == 2


def test_it_makes_tasks_from_the_approved_plan_with_owners_and_due_times(world, director, approved_plan):
    crisis = _declare(director, world)
    tasks = {task.title: task for task in CrisisTask.objects.filter(crisis=crisis)}
    assert set(tasks) == {"Isoler les serveurs touchés", "Déclarer l'incident au CERT Santé", "Réunir la cellule de crise"}
    isolate = tasks["Isoler les serveurs touchés"]
    assert isolate.source == TaskSource.REFLEX_SHEET and isolate.sheet_title == "Fiche RSSI"
    assert isolate.owner is not None and isolate.owner.last_name == "Rssi"  # the RSSI seat's holder
    assert isolate.due_at == crisis.declared_at + datetime.timedelta(minutes=15)
    assert tasks["Déclarer l'incident au CERT Santé"].due_at == crisis.declared_at + datetime.timedelta(hours=1)
    assert tasks["Réunir la cellule de crise"].owner == director.person


def test_it_sets_the_status_board_from_the_departments_and_the_plan_systems(world, director, approved_plan):
    crisis = _declare(director, world)
    assert list(DepartmentStatus.objects.filter(crisis=crisis).values_list("name", "status")) == [
        ("Urgences CHU", "normal")
    ]
    assert list(SystemStatus.objects.filter(crisis=crisis).values_list("name", "status")) == [("Dossier patient", "up")]


def test_it_alerts_the_crisis_cell_with_the_bridge_details(world, director, approved_plan):
    crisis = _declare(director, world)
    campaign = Campaign.objects.get(pk=crisis.campaign_id)
    names = sorted(campaign.recipients.values_list("name", flat=True))
    # Holders (director, RSSI) and the deputy, once each.
    assert len(names) == 3 and any("ADJOINT" in name for name in names)
    assert "+33199000123" in campaign.message_fr and "4242" in campaign.message_fr
    assert "Salle de crise, bâtiment A" in campaign.message_fr
    assert not campaign.is_exercise


def test_it_flags_an_exercise_and_its_campaign(world, director, approved_plan):
    crisis = _declare(director, world, is_exercise=True)
    assert crisis.is_exercise and Campaign.objects.get(pk=crisis.campaign_id).is_exercise
    assert "EXERCISE" in LogbookEntry.objects.get(crisis=crisis, seq=1).text


def test_it_declares_without_a_plan_and_says_no_cell_was_alerted(world, director):
    crisis = _declare(director, world)
    assert crisis.campaign is None and not CrisisTask.objects.filter(crisis=crisis).exists()
    assert "No crisis cell" in LogbookEntry.objects.get(crisis=crisis, seq=2).text
