"""Campaign pages: create from a message for everyone of an establishment, live
progress, CSV export; whoever is outside the campaign's scope gets a 404."""

from __future__ import annotations

import csv
import io

import pytest

from planblanc.alerting.models import Campaign, Delivery
from planblanc.alerting.services import RecipientInput, campaign_create, deliveries_process
from tests.factories import MembershipFactory, PersonFactory


@pytest.fixture
def channels(settings, smtp):
    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
    return settings


@pytest.fixture
def chu_campaign(world, channels):
    campaign = campaign_create(
        actor=world.establishment_admin, establishment=world.chu, title="Panne messagerie", message_fr="Passez au papier.",
        recipients=[
            RecipientInput(name="Joignable", email="ok@hopital.example"),
            RecipientInput(name="Injoignable", mobile_phone="+33639980001"),
        ],
    )
    deliveries_process(worker_id="w1")
    return campaign


@pytest.mark.django_db
def test_it_sends_an_alert_to_everyone_of_the_establishment_from_the_page(world, client_for, channels, smtp):
    MembershipFactory(establishment=world.chu, person=PersonFactory(email="deux@hopital.example"))
    client = client_for("establishment_admin")
    form = client.get("/alertes/nouvelle/").content.decode()
    assert "CHU A" in form and "Clinique B" not in form
    response = client.post("/alertes/nouvelle/", {
        "establishment": world.chu.pk, "title": "Cyberattaque", "message_fr": "Bonjour {name}",
        "channels": ["email"], "is_exercise": "on",
    })
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/alertes/{campaign.pk}/"
    assert campaign.establishment == world.chu and campaign.is_exercise and campaign.created_by == world.establishment_admin
    assert sorted(campaign.recipients.values_list("email", flat=True)) == sorted(
        [world.chu_person.email, "deux@hopital.example"]
    )


@pytest.mark.django_db
def test_it_shows_bad_input_on_the_form_and_creates_nothing(world, client_for, channels):
    client = client_for("establishment_admin")
    response = client.post("/alertes/nouvelle/", {
        "establishment": world.chu.pk, "title": "Cyberattaque", "message_fr": "Bonjour {prenom}", "channels": ["email"],
    })
    assert response.status_code == 200
    assert "{prenom}" in response.content.decode()
    # Another establishment than one's own is not a valid choice.
    response = client.post("/alertes/nouvelle/", {
        "establishment": world.clinic.pk, "title": "X", "message_fr": "Y", "channels": ["email"],
    })
    assert response.status_code == 200 and "establishment" in response.context["form"].errors
    assert not Campaign.objects.exists()


@pytest.mark.django_db
def test_it_shows_live_progress_and_who_was_not_reached(world, client_for, chu_campaign):
    client = client_for("crisis_member")
    page = client.get(f"/alertes/{chu_campaign.pk}/").content.decode()
    assert 'hx-trigger="every 2s"' in page and "table-responsive" in page
    fragment = client.get(f"/alertes/{chu_campaign.pk}/progression/")
    body = fragment.content.decode()
    assert fragment.status_code == 200 and "<html" not in body
    assert "Injoignable" in body and "no channel" in body
    progress = fragment.context["progress"]
    assert (progress.recipients, progress.reached, progress.not_reached) == (2, 1, 1)
    assert progress.by_status == {"sent": 1, "failed": 1}


@pytest.mark.django_db
def test_it_exports_every_delivery_as_csv(world, client_for, chu_campaign):
    response = client_for("crisis_member").get(f"/alertes/{chu_campaign.pk}/export.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == Delivery.objects.filter(campaign=chu_campaign).count() == 2
    sent = next(r for r in rows if r["recipient"] == "Joignable")
    assert sent["status"] == "sent" and sent["sent_at"] and sent["message_id"].startswith("<")


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["outsider_admin"])
def test_it_hides_a_campaign_from_outsiders(world, client_for, chu_campaign, persona):
    client = client_for(persona)
    for path in ("/", "/progression/", "/export.csv"):
        assert client.get(f"/alertes/{chu_campaign.pk}{path}").status_code == 404
    assert "Panne messagerie" not in client.get("/alertes/").content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["establishment_admin", "crisis_member", "regional_officer", "national_admin"])
def test_it_shows_a_campaign_to_its_establishment_and_above(world, client_for, chu_campaign, persona):
    client = client_for(persona)
    assert client.get(f"/alertes/{chu_campaign.pk}/").status_code == 200
    assert "Panne messagerie" in client.get("/alertes/").content.decode()


@pytest.mark.django_db
def test_it_shows_a_regional_campaign_to_the_region_only(world, client_for, channels):
    campaign = campaign_create(
        actor=world.regional_officer, region=world.region_a, title="Vigilance régionale", message_fr="M",
        recipients=[RecipientInput(name="ARS", email="ars@sante.example")],
    )
    assert client_for("regional_officer").get(f"/alertes/{campaign.pk}/").status_code == 200
    assert client_for("outsider_admin").get(f"/alertes/{campaign.pk}/").status_code == 404
    assert client_for("crisis_member").get(f"/alertes/{campaign.pk}/").status_code == 404


@pytest.mark.django_db
def test_it_asks_for_login_on_campaign_pages(client, chu_campaign):
    response = client.get(f"/alertes/{chu_campaign.pk}/")
    assert response.status_code == 302 and "/compte/" in response["Location"]


@pytest.mark.django_db
def test_it_warns_when_queued_messages_age_without_a_worker(world, client_for, channels):
    from datetime import timedelta

    from django.utils import timezone

    campaign_create(
        actor=world.establishment_admin, establishment=world.chu, title="T", message_fr="M",
        recipients=[RecipientInput(name="A", email="a@hopital.example")],
    )
    client = client_for("crisis_member")
    assert "alert-danger" not in client.get("/alertes/").content.decode()
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    assert "alert_worker" in client.get("/alertes/").content.decode()
