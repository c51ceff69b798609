"""Web Push against a local push service that decrypts the payload (RFC 8291) with the
device's private key and checks the VAPID signature (RFC 8292)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from planblanc.accounts.models import AuditEntry
from planblanc.alerting.models import Acknowledgement, Delivery, DeliveryStatus, PushSubscription
from planblanc.alerting.services import RecipientInput, campaign_create, deliveries_process
from tests.conftest import verified_client
from tests.support.pushservice import PushService


@pytest.fixture
def push_settings(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.ALERTING_CHANNELS = {
        "push": [{"name": "push", "kind": "webpush", "subject": "mailto:alertes@example.org"}],
        "webhook": [{"name": "chat", "kind": "webhook"}],
    }
    return settings


def _subscribe(person, device, agent="Firefox Android"):
    info = device.subscription()
    return PushSubscription.objects.create(
        person=person, endpoint=info["endpoint"], p256dh=info["keys"]["p256dh"], auth=info["keys"]["auth"],
        user_agent=agent,
    )


def _campaign(world, person, channels=("push",), webhook_url=""):
    return campaign_create(
        actor=world.establishment_admin, establishment=world.chu, title="Cyberattaque",
        message_fr="Rejoignez la cellule de crise.", channels=list(channels), is_exercise=True,
        recipients=[RecipientInput(name=person.full_name, person=person, webhook_url=webhook_url)],
    )


@pytest.mark.django_db
def test_it_pushes_an_encrypted_notification_to_every_device(world, push_settings):
    person = world.chu_person
    with PushService() as service:
        phone, tablet = service.device(), service.device()
        _subscribe(person, phone)
        _subscribe(person, tablet, agent="Chrome")
        campaign = _campaign(world, person)
        deliveries_process(worker_id="w1")
        assert service.errors == []
        delivery = Delivery.objects.get(campaign=campaign)
        assert delivery.status == DeliveryStatus.SENT
        for device in (phone, tablet):
            assert len(device.received) == 1
            payload = device.received[0]["payload"]
            assert payload["title"].startswith("EXERCICE")
            assert "cellule de crise" in payload["body"]
            assert payload["url"].startswith(push_settings.ALERTING_PUBLIC_URL + "/ack/")
            assert [a["action"] for a in payload["actions"]] == ["ack", "decline"]
            assert payload["actions"][0]["title"] == "J'arrive"
            assert device.received[0]["claims"]["sub"] == "mailto:alertes@example.org"
            assert device.received[0]["urgency"] == "high"
        assert PushSubscription.objects.filter(person=person, last_success_at__isnull=False).count() >= 1
    # The VAPID key was generated once into the data directory.
    assert (push_settings.DATA_DIR / "vapid_private.pem").exists()


@pytest.mark.django_db
def test_it_removes_a_gone_device_and_uses_the_next_channel(world, push_settings):
    from tests.support.webhook import HookServer

    person = world.chu_person
    with PushService() as service, HookServer() as hook:
        gone = service.device(status=410)
        _subscribe(person, gone)
        campaign = _campaign(world, person, channels=("push", "webhook"), webhook_url=hook.url)
        deliveries_process(worker_id="w1")
        push_row = Delivery.objects.get(campaign=campaign, channel="push")
        assert push_row.status == DeliveryStatus.FAILED
        assert "410" in push_row.reason
        assert not PushSubscription.objects.filter(endpoint=gone.endpoint).exists()
        assert Delivery.objects.get(campaign=campaign, channel="webhook").status == DeliveryStatus.SENT
        assert len(hook.received) == 1


@pytest.mark.django_db
def test_it_acknowledges_from_the_notification_action(world, push_settings, client):
    person = world.chu_person
    with PushService() as service:
        device = service.device()
        _subscribe(person, device)
        campaign = _campaign(world, person)
        deliveries_process(worker_id="w1")
        action = device.received[0]["payload"]["actions"][0]
    # The service worker posts to the action's URL, without a session or CSRF token.
    path = action["url"].removeprefix(push_settings.ALERTING_PUBLIC_URL)
    response = client.post(path)
    assert response.status_code == 200
    ack = Acknowledgement.objects.get(recipient__campaign=campaign)
    assert ack.via == "push"
    # A forged link does nothing.
    assert client.post("/ack/1:forged:signature/push/ack/").status_code == 400


@pytest.mark.django_db
def test_it_records_a_decline_from_the_notification(world, push_settings, client):
    person = world.chu_person
    with PushService() as service:
        device = service.device()
        _subscribe(person, device)
        campaign = _campaign(world, person)
        deliveries_process(worker_id="w1")
        decline = device.received[0]["payload"]["actions"][1]
    response = client.post(decline["url"].removeprefix(push_settings.ALERTING_PUBLIC_URL))
    assert response.status_code == 200
    assert not Acknowledgement.objects.filter(recipient__campaign=campaign).exists()
    entry = AuditEntry.objects.get(action="alerting.answer")
    assert entry.changes["answer"] == "cannot" and entry.changes["via"] == "push"


@pytest.mark.django_db
def test_it_lists_subscribes_and_removes_own_devices_only(world, push_settings):
    user = world.crisis_member
    world.chu_person.user = user
    world.chu_person.save()
    client = verified_client(user)
    with PushService() as service:
        info = service.device().subscription()
    response = client.post(reverse("alerting:device_subscribe"), data=json.dumps(info),
                           content_type="application/json", HTTP_USER_AGENT="Firefox Android")
    assert response.status_code == 201
    page = client.get(reverse("alerting:devices"))
    assert page.status_code == 200
    assert "Firefox Android" in page.content.decode()
    assert "planblanc/push.js" in page.content.decode()
    # Bad input: a clear message, nothing saved.
    bad = client.post(reverse("alerting:device_subscribe"), data="{\"endpoint\": 3}", content_type="application/json")
    assert bad.status_code == 400 and "error" in bad.json()
    assert PushSubscription.objects.count() == 1
    mine = PushSubscription.objects.get()
    # Someone else cannot remove it.
    other = verified_client(world.establishment_admin)
    assert other.post(reverse("alerting:device_remove", args=[mine.pk])).status_code == 404
    removed = client.post(reverse("alerting:device_remove", args=[mine.pk]), HTTP_HX_REQUEST="true")
    assert removed.status_code == 200
    assert not PushSubscription.objects.exists()
