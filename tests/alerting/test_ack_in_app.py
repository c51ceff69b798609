"""Acknowledgement in the application: the logged-in recipient sees the alerts sent to
them on the dashboard and acknowledges each with one button; nobody else can."""

from __future__ import annotations

import pytest
from django.urls import reverse

from planblanc.accounts.models import AuditEntry
from planblanc.alerting.models import Acknowledgement, Delivery, DeliveryStatus, Recipient
from planblanc.alerting.services import RecipientInput, campaign_create, deliveries_process
from tests.conftest import verified_client
from tests.factories import PersonFactory


@pytest.fixture
def member_person(world):
    person = PersonFactory(last_name="Durand", first_name="Camille", email="camille@hopital.example")
    person.user = world.crisis_member
    person.save()
    return person


@pytest.fixture
def sent(world, smtp, settings, member_person):
    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
    campaign = campaign_create(
        actor=world.establishment_admin, establishment=world.chu, title="Rejoignez la cellule",
        message_fr="Bonjour {name}, cellule de crise salle B.", is_exercise=False, channels=["email", "sms"],
        recipients=[
            RecipientInput(name="Camille Durand", email="camille@hopital.example", mobile_phone="+33639980001",
                           person=member_person),
            RecipientInput(name="Autre", email="autre@hopital.example"),
        ],
    )
    deliveries_process(worker_id="w1")
    return campaign


@pytest.mark.django_db
def test_it_lists_my_alert_on_the_dashboard_and_acknowledges_it_with_one_button(world, sent):
    client = verified_client(world.crisis_member)
    client.cookies["planblanc_language"] = "en"
    home = client.get(reverse("core:home")).content.decode()
    assert "waits for your acknowledgement" in home
    page = client.get(reverse("alerting:to_acknowledge")).content.decode()
    assert "Rejoignez la cellule" in page and "Bonjour Camille Durand" in page
    mine = Recipient.objects.get(campaign=sent, name="Camille Durand")

    response = client.post(reverse("alerting:to_acknowledge"), {"recipient": mine.pk})
    assert response.status_code == 302
    ack = Acknowledgement.objects.get(recipient=mine)
    assert ack.via == "app"
    mine.refresh_from_db()
    assert mine.acknowledged_at is not None
    sent_email = Delivery.objects.get(recipient=mine, channel="email")
    assert sent_email.status == DeliveryStatus.ACKNOWLEDGED
    # The later SMS step is not needed any more.
    assert not Delivery.objects.filter(recipient=mine, status__in=("held", "queued")).exists()
    assert AuditEntry.objects.filter(action="alerting.acknowledge").count() == 1
    assert "waits for your acknowledgement" not in client.get(reverse("core:home")).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["establishment_admin", "outsider_admin", "national_admin"])
def test_it_refuses_to_acknowledge_someone_elses_alert(world, sent, persona):
    mine = Recipient.objects.get(campaign=sent, name="Camille Durand")
    client = verified_client(world.users[persona])
    assert client.post(reverse("alerting:to_acknowledge"), {"recipient": mine.pk}).status_code == 404
    assert client.post(reverse("alerting:to_acknowledge"), {"recipient": "x"}).status_code == 404
    assert "Rejoignez la cellule" not in client.get(reverse("alerting:to_acknowledge")).content.decode()
    assert not Acknowledgement.objects.exists()
