"""CAP 1.2: export of a regional campaign valid against the official schema, reception
of a CAP message into a campaign (round trip, bad XML, wrong schema, unknown area), the
upload page and the API."""

from __future__ import annotations

from typing import Any

import capvalidator
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation
from lxml import etree

from planblanc.alerting.cap import CAP_NS, cap_export, cap_parse, cap_receive
from planblanc.alerting.models import Campaign, Delivery, Recipient
from planblanc.alerting.services import RecipientInput, campaign_cancel, campaign_create
from tests.support.api import token_client

pytestmark = pytest.mark.usefixtures("english_messages")


NS = {"cap": CAP_NS}


@pytest.fixture
def email_channel(settings: Any) -> Any:
    settings.ALERTING_CHANNELS = {"email": [{"name": "relay", "kind": "smtp", "host": "127.0.0.1", "port": 1}]}
    return settings


def _regional(world: Any, *, is_exercise: bool = True, message_en: str = "Email is down in {establishment}.") -> Campaign:
    return campaign_create(
        actor=world.regional_officer, region=world.region_a, title="Cyberattaque en cours",
        message_fr="La messagerie est coupée dans {establishment}. Passez en mode dégradé.",
        message_en=message_en, is_exercise=is_exercise, channels=["email"], wake_workers=False,
        recipients=[RecipientInput(name="Cellule régionale", email="cellule@example.org")],
    )


@pytest.mark.django_db
def test_it_exports_a_regional_campaign_valid_against_the_cap_schema(world, email_channel):
    campaign = _regional(world)
    xml = cap_export(campaign)
    assert capvalidator.check_schema(xml).passed
    root = etree.fromstring(xml)
    assert root.findtext("cap:status", namespaces=NS) == "Exercise"
    assert root.findtext("cap:msgType", namespaces=NS) == "Alert"
    assert root.findtext("cap:identifier", namespaces=NS).endswith(f"campaign-{campaign.pk}")
    sent = root.findtext("cap:sent", namespaces=NS)
    assert sent[-6] in "+-" and "." not in sent
    infos = root.findall("cap:info", NS)
    assert [i.findtext("cap:language", namespaces=NS) for i in infos] == ["fr-FR", "en-GB"]
    french = infos[0]
    assert [c.text for c in french.findall("cap:category", NS)] == ["Health", "Infra"]
    assert french.findtext("cap:headline", namespaces=NS) == "EXERCICE EXERCICE EXERCICE Cyberattaque en cours"
    assert "coupée dans Région A" in french.findtext("cap:description", namespaces=NS)
    assert french.findtext("cap:web", namespaces=NS).endswith(f"/alertes/{campaign.pk}/")
    assert french.findtext("cap:area/cap:areaDesc", namespaces=NS) == "Région A"
    assert french.findtext("cap:area/cap:geocode/cap:value", namespaces=NS) == "RA"


@pytest.mark.django_db
def test_it_exports_an_actual_campaign_and_its_cancellation(world, email_channel):
    campaign = _regional(world, is_exercise=False, message_en="")
    root = etree.fromstring(cap_export(campaign))
    assert root.findtext("cap:status", namespaces=NS) == "Actual"
    assert len(root.findall("cap:info", NS)) == 1
    campaign_cancel(actor=world.regional_officer, campaign=campaign)
    campaign.refresh_from_db()
    xml = cap_export(campaign)
    assert capvalidator.check_schema(xml).passed
    root = etree.fromstring(xml)
    assert root.findtext("cap:msgType", namespaces=NS) == "Cancel"
    assert f"campaign-{campaign.pk}," in root.findtext("cap:references", namespaces=NS)


@pytest.mark.django_db
def test_it_refuses_to_export_a_campaign_of_one_establishment(world, email_channel):
    campaign = campaign_create(
        actor=world.establishment_admin, establishment=world.chu, title="Alerte", message_fr="Texte",
        channels=["email"], wake_workers=False, recipients=[RecipientInput(name="A", email="a@example.org")],
    )
    with pytest.raises(ValidationError, match="regional or national"):
        cap_export(campaign)


@pytest.mark.django_db
def test_it_round_trips_export_then_reception(world, email_channel):
    exported = _regional(world)
    campaign = cap_receive(actor=world.regional_officer, xml=cap_export(exported))
    assert campaign.pk != exported.pk
    assert campaign.region == world.region_a and campaign.establishment is None
    assert campaign.is_exercise
    assert campaign.title == "Cyberattaque en cours"
    assert "mode dégradé" in campaign.message_fr
    assert "Email is down in Région A" in campaign.message_en
    # Everyone of the region's establishments, nobody from region B.
    names = set(Recipient.objects.filter(campaign=campaign).values_list("name", flat=True))
    assert world.chu_person.full_name in names and world.ch_person.full_name in names
    assert world.clinic_person.full_name not in names
    assert Delivery.objects.filter(campaign=campaign).exists()


@pytest.mark.django_db
def test_it_maps_finess_geocodes_to_an_establishment(world, email_channel):
    xml = cap_export(_regional(world, is_exercise=False)).replace(
        b"<valueName>FR-REGION</valueName>", b"<valueName>FINESS</valueName>"
    ).replace(b"<value>RA</value>", f"<value>{world.chu.finess}</value>".encode())
    draft = cap_parse(xml)
    assert draft.establishment == world.chu and not draft.is_exercise
    campaign = cap_receive(actor=world.regional_officer, xml=xml)
    assert campaign.region == world.region_a and campaign.establishment is None
    again = xml.replace(b"</identifier>", b"-2</identifier>")
    assert cap_receive(actor=world.establishment_admin, xml=again).establishment == world.chu
    assert list(Recipient.objects.filter(campaign=campaign).values_list("name", flat=True)) == [
        world.chu_person.full_name
    ]


@pytest.mark.django_db
def test_it_refuses_xml_that_is_not_well_formed_and_creates_nothing(world, email_channel):
    with pytest.raises(ValidationError, match="not well-formed"):
        cap_receive(actor=world.regional_officer, xml=b"<alert><unclosed></alert>")
    entity = b'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY x "boom">]><alert>&x;</alert>'
    with pytest.raises(ValidationError, match="DOCTYPE"):
        cap_receive(actor=world.regional_officer, xml=entity)
    assert not Campaign.objects.exists()


@pytest.mark.django_db
def test_it_lists_the_schema_errors_and_creates_nothing(world, email_channel):
    xml = cap_export(_regional(world)).replace(b"<msgType>Alert</msgType>", b"<msgType>Panic</msgType>")
    before = Campaign.objects.count()
    with pytest.raises(ValidationError) as caught:
        cap_receive(actor=world.regional_officer, xml=xml)
    messages = caught.value.messages
    assert "CAP 1.2 schema" in messages[0]
    assert any("msgType" in m and "Panic" in m for m in messages[1:])
    with translation.override("fr"), pytest.raises(ValidationError) as caught:
        cap_receive(actor=world.regional_officer, xml=xml)
    assert "schéma CAP 1.2" in caught.value.messages[0]
    assert Campaign.objects.count() == before


@pytest.mark.django_db
def test_it_refuses_an_unknown_area_and_creates_nothing(world, email_channel):
    xml = cap_export(_regional(world)).replace(b"<value>RA</value>", b"<value>ZZ</value>")
    before = Campaign.objects.count()
    with pytest.raises(ValidationError, match="FR-REGION ZZ"):
        cap_receive(actor=world.regional_officer, xml=xml)
    assert Campaign.objects.count() == before


@pytest.mark.django_db
def test_it_refuses_a_region_outside_the_officers_scope(world, email_channel):
    xml = cap_export(_regional(world)).replace(b"<value>RA</value>", b"<value>RB</value>")
    before = Campaign.objects.count()
    with pytest.raises(PermissionDenied):
        cap_receive(actor=world.regional_officer, xml=xml)
    assert Campaign.objects.count() == before


# Pages and API -------------------------------------------------------------------------------


def _token_client(user: Any) -> Any:

    return token_client(user)


@pytest.mark.django_db
def test_it_downloads_the_cap_file_in_scope_only(world, email_channel, client_for):
    campaign = _regional(world)
    url = f"/alertes/{campaign.pk}/cap.xml"
    officer = client_for("regional_officer")
    page = officer.get(f"/alertes/{campaign.pk}/")
    assert url in page.content.decode()
    response = officer.get(url)
    assert response.status_code == 200 and response["Content-Type"].startswith("application/cap+xml")
    assert capvalidator.check_schema(response.content).passed
    assert client_for("outsider_admin").get(url).status_code == 404


@pytest.mark.django_db
def test_it_receives_an_upload_after_confirmation(world, email_channel, client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    xml = cap_export(_regional(world))
    officer = client_for("regional_officer")
    before = Campaign.objects.count()
    preview = officer.post("/alertes/cap/recevoir/", {"file": SimpleUploadedFile("alert.xml", xml)})
    assert preview.status_code == 200 and preview.context["draft"].region == world.region_a
    assert Campaign.objects.count() == before  # nothing before confirmation
    response = officer.post("/alertes/cap/recevoir/", {"xml": xml.decode(), "confirm": "1"})
    assert response.status_code == 302
    assert Campaign.objects.count() == before + 1
    assert response["Location"] == f"/alertes/{Campaign.objects.first().pk}/"


@pytest.mark.django_db
def test_it_shows_the_schema_errors_on_the_upload_page(world, email_channel, client_for):
    xml = cap_export(_regional(world)).replace(b"<status>Exercise</status>", b"<status>Maybe</status>")
    officer = client_for("regional_officer")
    before = Campaign.objects.count()
    response = officer.post("/alertes/cap/recevoir/", {"xml": xml.decode(), "confirm": "1"})
    assert response.status_code == 200 and "status" in response.content.decode()
    assert response.context["form"].non_field_errors()
    assert Campaign.objects.count() == before


@pytest.mark.django_db
def test_it_keeps_the_upload_page_from_establishment_staff(world, client_for):
    assert client_for("establishment_admin").get("/alertes/cap/recevoir/").status_code == 403
    assert client_for("regional_officer").get("/alertes/cap/recevoir/").status_code == 200
    # The list offers the page only to those who may use it.
    assert "/alertes/cap/recevoir/" in client_for("regional_officer").get("/alertes/").content.decode()
    assert "/alertes/cap/recevoir/" not in client_for("establishment_admin").get("/alertes/").content.decode()


@pytest.mark.django_db
def test_it_receives_through_the_api_with_a_token(world, email_channel):
    xml = cap_export(_regional(world))
    api = _token_client(world.regional_officer)
    before = Campaign.objects.count()
    checked = api.post("/api/v1/alerting/cap", xml, content_type="application/cap+xml")
    assert checked.status_code == 200 and checked.json()["started"] is False
    assert checked.json()["recipients"] == 2 and Campaign.objects.count() == before
    started = api.post("/api/v1/alerting/cap?start=true", xml, content_type="application/cap+xml")
    assert started.status_code == 201, started.content
    campaign = Campaign.objects.get(pk=started.json()["campaign_id"])
    assert campaign.region == world.region_a and campaign.is_exercise
    exported = api.get(f"/api/v1/alerting/campaigns/{campaign.pk}/cap")
    assert exported.status_code == 200 and capvalidator.check_schema(exported.content).passed


@pytest.mark.django_db
def test_it_answers_422_403_404_and_401_through_the_api(world, email_channel):
    from django.test import Client

    campaign = _regional(world)
    xml = cap_export(campaign)
    before = Campaign.objects.count()
    bad = _token_client(world.regional_officer).post(
        "/api/v1/alerting/cap?start=true", xml.replace(b"<scope>", b"<scope>X"), content_type="application/xml"
    )
    assert bad.status_code == 422 and "scope" in str(bad.json()["errors"])
    outsider = _token_client(world.outsider_admin)
    assert outsider.post("/api/v1/alerting/cap?start=true", xml, content_type="application/xml").status_code == 403
    assert outsider.get(f"/api/v1/alerting/campaigns/{campaign.pk}/cap").status_code == 404
    assert Client().post("/api/v1/alerting/cap", xml, content_type="application/xml").status_code == 401
    assert Campaign.objects.count() == before


@pytest.mark.django_db
def test_it_starts_one_campaign_for_a_message_received_twice(world, email_channel):
    xml = cap_export(_regional(world))
    first = cap_receive(actor=world.regional_officer, xml=xml)
    before = Campaign.objects.count()
    with pytest.raises(ValidationError, match=f"already received: campaign {first.pk}"):
        cap_receive(actor=world.regional_officer, xml=xml)
    assert Campaign.objects.count() == before
