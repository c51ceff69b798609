"""Acknowledgement by signed link: public, one tap on a phone, a POST (not the GET) so
that mail scanners opening links do not acknowledge; forged and expired links get a
clear page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client

from planblanc.accounts.models import AuditEntry
from planblanc.alerting.models import Acknowledgement, Delivery, DeliveryStatus, Recipient
from planblanc.alerting.services import (
    AckLinkExpired,
    AckLinkInvalid,
    RecipientInput,
    ack_link_make,
    ack_link_verify,
    campaign_create,
    deliveries_process,
)


@pytest.fixture
def sent(world, smtp, settings):
    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")], "webhook": [{"name": "h", "kind": "webhook"}]}
    campaign = campaign_create(
        actor=world.establishment_admin, establishment=world.chu, title="Rejoignez la cellule",
        message_fr="Cellule de crise salle B.", is_exercise=True, channels=["email", "webhook"],
        recipients=[
            RecipientInput(name="Camille Durand", email="camille@hopital.example"),
            RecipientInput(name="Garde", email="garde@hopital.example", webhook_url="http://127.0.0.1:9/x"),
        ],
    )
    deliveries_process(worker_id="w1")
    return campaign


def _path(delivery: Delivery) -> str:
    return "/ack/" + ack_link_make(delivery=delivery).split("/ack/", 1)[1]


@pytest.mark.django_db
def test_it_acknowledges_with_a_post_from_the_link_in_the_message(sent, smtp):
    delivery = Delivery.objects.get(campaign=sent, recipient__name="Camille Durand")
    link = next(r.body for r in smtp.recorder.received if r.rcpt == "camille@hopital.example")
    path = "/ack/" + link.split("/ack/", 1)[1].split()[0]
    client = Client(enforce_csrf_checks=True)

    page = client.get(path)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Rejoignez la cellule" in body and "EXERCICE EXERCICE EXERCICE" in body
    assert 'method="post"' in body
    # Opening the link is not acknowledging it (mail scanners open every link).
    assert not Acknowledgement.objects.exists()

    token = client.cookies["planblanc_csrftoken"].value
    done = client.post(path, {"csrfmiddlewaretoken": token})
    assert done.status_code == 200
    ack = Acknowledgement.objects.get()
    assert ack.recipient.name == "Camille Durand" and ack.via == "link" and ack.delivery == delivery
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.ACKNOWLEDGED and delivery.acknowledged_at
    assert Recipient.objects.get(pk=delivery.recipient_id).acknowledged_at
    assert AuditEntry.objects.filter(action="alerting.acknowledge").count() == 1

    # Twice: the first acknowledgement stands.
    again = client.post(path, {"csrfmiddlewaretoken": token})
    assert again.status_code == 200 and Acknowledgement.objects.count() == 1
    assert client.get(path).status_code == 200


@pytest.mark.django_db
def test_it_cancels_the_next_channels_of_whoever_acknowledges(world, smtp, settings):
    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")], "webhook": [{"name": "h", "kind": "webhook"}]}
    campaign = campaign_create(
        actor=world.establishment_admin, establishment=world.chu, title="T", message_fr="M",
        channels=["email", "webhook"],
        recipients=[RecipientInput(name="Garde", email="garde@hopital.example", webhook_url="http://127.0.0.1:9/x")],
    )
    email = Delivery.objects.get(campaign=campaign, channel="email")
    from planblanc.alerting.services import acknowledgement_record

    acknowledgement_record(delivery=email, via="app")
    assert Delivery.objects.get(campaign=campaign, channel="webhook").status == DeliveryStatus.CANCELLED
    assert Delivery.objects.get(campaign=campaign, channel="email").status == DeliveryStatus.CANCELLED


@pytest.mark.django_db
def test_it_refuses_a_forged_link_with_a_clear_page(sent, client):
    delivery = Delivery.objects.filter(campaign=sent).first()
    good = _path(delivery)
    value, timestamp, signature = good.strip("/").split("/")[1].split(":")
    other = Delivery.objects.exclude(pk=delivery.pk).first()
    forged = [
        f"/ack/{other.pk}:{timestamp}:{signature}/",  # someone else's delivery
        good[:-3] + "xx/",  # altered signature
        "/ack/not-a-token/",
    ]
    for path in forged:
        response = client.post(path)
        assert response.status_code == 400, path
        assert "This link is not valid" in response.content.decode() or "lien" in response.content.decode()
    assert not Acknowledgement.objects.exists()
    with pytest.raises(AckLinkInvalid):
        ack_link_verify(f"{other.pk}:{timestamp}:{signature}")


@pytest.mark.django_db
def test_it_refuses_an_expired_link_with_a_clear_page(sent, client, settings):
    delivery = Delivery.objects.filter(campaign=sent).first()
    signer = signing.TimestampSigner(salt="planblanc.alerting.ack")
    old = signer.sign(str(delivery.pk))
    settings.ALERTING_ACK_MAX_AGE_HOURS = 0
    with pytest.raises(AckLinkExpired):
        ack_link_verify(old, max_age=timedelta(seconds=-1))
    response = client.post(f"/ack/{old}/")
    assert response.status_code == 410
    assert not Acknowledgement.objects.exists()


@pytest.mark.django_db
def test_it_serves_the_acknowledgement_page_without_inline_script(sent, client):
    delivery = Delivery.objects.filter(campaign=sent).first()
    body = client.get(_path(delivery)).content.decode()
    assert "<script>" not in body and "style=" not in body
    assert 'name="viewport"' in body
