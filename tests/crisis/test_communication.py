"""Crisis communication: templates from data files in French and English with
variables, a draft approved by the director, a deputy or the communication officer
before it is sent through the alerting engine, each step in the logbook."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from planblanc.alerting.models import Campaign, Delivery
from planblanc.crisis.communication import (
    communication_approve,
    communication_draft,
    communication_edit,
    communication_render,
    communication_send,
    communication_templates,
)
from planblanc.crisis.models import CommunicationDraft, LogbookEntry
from planblanc.directory.models import Function
from tests.conftest import verified_client
from tests.factories import MembershipFactory, PersonFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(world):
    people = []
    for i in range(2):
        person = PersonFactory(first_name=f"Agent{i}", last_name="Soignant", email=f"agent{i}@chu-a.example")
        MembershipFactory(person=person, establishment=world.chu, function=Function.STAFF)
        people.append(person)
    return people


def test_it_has_templates_for_every_audience_in_both_languages(crisis):
    templates = communication_templates()
    assert {t["audience"] for t in templates.values()} == {"staff", "patients", "press", "partners"}
    for key in templates:
        rendered = communication_render(crisis=crisis, template_key=key,
                                        values={"instructions": "Procédures papier", "contact": "poste 4242"})
        assert "CHU A" in rendered["title"] and "CHU A" in rendered["message_fr"] and "CHU A" in rendered["message_en"]
        assert "poste 4242" in rendered["message_fr"] and "${" not in rendered["message_fr"] + rendered["message_en"]
    with pytest.raises(ValidationError, match="Choose a communication template"):
        communication_render(crisis=crisis, template_key="nope")


def test_it_needs_approval_before_sending(crisis, director, staff, client_for, world):
    member = world.users["crisis_member"]
    draft = communication_draft(actor=member, crisis=crisis, template_key="staff",
                                values={"instructions": "Débranchez les postes"})
    assert draft.status == "draft" and "Débranchez les postes" in draft.message_fr
    with pytest.raises(ValidationError, match="must be approved"):
        communication_send(actor=member, draft=draft, people=staff)
    assert not Campaign.objects.exclude(pk=crisis.campaign_id).exists()
    # A crisis-cell member without the director's or communication officer's function may not approve.
    with pytest.raises(PermissionDenied, match="Only the director"):
        communication_approve(actor=member, draft=draft)
    approved = communication_approve(actor=director, draft=draft)
    assert approved.status == "approved" and approved.approved_by_label
    # A change after approval needs approval again.
    changed = communication_edit(actor=member, draft=approved, title=approved.title,
                                 message_fr=approved.message_fr + " Merci.", message_en=approved.message_en)
    assert changed.status == "draft"
    with pytest.raises(ValidationError, match="must be approved"):
        communication_send(actor=member, draft=changed, people=staff)
    communication_approve(actor=director, draft=changed)
    changed.refresh_from_db()
    sent = communication_send(actor=member, draft=changed, people=staff, channels=("email",))
    assert sent.status == "sent" and sent.recipient_count == 2
    campaign = sent.campaign
    assert campaign.establishment_id == world.chu.pk and "Merci." in campaign.message_fr
    assert Delivery.objects.filter(campaign=campaign, channel="email").count() == 2
    with pytest.raises(ValidationError, match="already sent"):
        communication_send(actor=member, draft=sent, people=staff)
    texts = list(LogbookEntry.objects.filter(crisis=crisis).values_list("text", flat=True))
    assert any("Communication drafted" in t for t in texts)
    assert sum("Communication approved" in t for t in texts) == 2
    assert any(f"alert campaign #{campaign.pk}" in t and "2 people" in t for t in texts)


def test_the_communication_officer_approves(crisis, world):
    from planblanc.tenancy import Role
    from tests.factories import RoleAssignmentFactory, UserFactory

    user = UserFactory(username="com")
    RoleAssignmentFactory(user=user, role=Role.CRISIS_MEMBER, establishment=world.chu)
    person = PersonFactory(first_name="Céline", last_name="Com", user=user)
    MembershipFactory(person=person, establishment=world.chu, function=Function.COMMUNICATION)
    draft = communication_draft(actor=world.users["crisis_member"], crisis=crisis, template_key="press")
    assert communication_approve(actor=user, draft=draft).status == "approved"
    other = communication_draft(actor=world.users["crisis_member"], crisis=crisis, template_key="press")
    with pytest.raises(PermissionDenied):
        communication_approve(actor=world.users["crisis_member"], draft=other)


def test_it_sends_only_to_people_of_the_establishment(crisis, director, world):
    draft = communication_approve(actor=director, draft=communication_draft(
        actor=director, crisis=crisis, template_key="partners"))
    with pytest.raises(ValidationError, match="people of this establishment"):
        communication_send(actor=director, draft=draft, people=[world.clinic_person])
    with pytest.raises(ValidationError, match="at least one recipient"):
        communication_send(actor=director, draft=draft, people=[])
    draft.refresh_from_db()
    assert draft.status == "approved" and draft.campaign_id is None


def test_the_pages_draft_approve_and_send(crisis, director, staff):
    client = verified_client(director)
    client.cookies["planblanc_language"] = "en"
    url = reverse("crisis:communication_list", args=[crisis.pk])
    client.post(url, {"template_key": "patients", "instructions": "Urgences ouvertes", "contact": "15"})
    draft = CommunicationDraft.objects.get()
    refused = client.post(reverse("crisis:communication_action", args=[crisis.pk, draft.pk, "send"]),
                          {"people": [staff[0].pk], "channels": ["email"]}, follow=True).content.decode()
    assert "must be approved" in refused
    client.post(reverse("crisis:communication_action", args=[crisis.pk, draft.pk, "approve"]))
    client.post(reverse("crisis:communication_action", args=[crisis.pk, draft.pk, "send"]),
                {"people": [staff[0].pk], "channels": ["email"]})
    draft.refresh_from_db()
    assert draft.status == "sent" and draft.recipient_count == 1
    assert "Urgences ouvertes" in client.get(url).content.decode()


def test_outsiders_get_404_on_every_communication_route(crisis, director, client_for):
    draft = communication_draft(actor=director, crisis=crisis, template_key="staff")
    client = client_for("outsider_admin")
    assert client.get(reverse("crisis:communication_list", args=[crisis.pk])).status_code == 404
    assert client.post(reverse("crisis:communication_list", args=[crisis.pk]),
                       {"template_key": "staff"}).status_code == 404
    for action in ("approve", "edit", "send"):
        assert client.post(reverse("crisis:communication_action", args=[crisis.pk, draft.pk, action]),
                           {"title": "x", "message_fr": "x"}).status_code == 404
    draft.refresh_from_db()
    assert draft.status == "draft" and CommunicationDraft.objects.count() == 1
