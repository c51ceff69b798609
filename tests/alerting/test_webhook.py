"""Webhooks to a real local HTTP server: generic JSON and chat-compatible payloads."""

from __future__ import annotations

import pytest

from planblanc.alerting.models import Delivery, DeliveryStatus
from planblanc.alerting.services import RecipientInput, campaign_create, deliveries_process
from tests.support.webhook import HookServer


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["webhook", "mattermost", "slack", "teams"])
def test_it_posts_each_kind_of_payload(world, settings, kind):
    with HookServer() as hook:
        settings.ALERTING_CHANNELS = {"webhook": [{"name": "chat", "kind": kind}]}
        campaign = campaign_create(
            actor=world.establishment_admin, establishment=world.chu, title="Alerte cyber",
            message_fr="Messagerie coupée, basculez en mode dégradé.", channels=["webhook"], is_exercise=True,
            recipients=[RecipientInput(name="Canal cellule de crise", webhook_url=hook.url)],
        )
        deliveries_process(worker_id="w1")
    delivery = Delivery.objects.get(campaign=campaign)
    assert delivery.status == DeliveryStatus.SENT
    (payload,) = hook.received
    assert hook.headers[0]["Idempotency-Key"] == delivery.message_id
    if kind == "webhook":
        assert payload["subject"] == "EXERCICE EXERCICE EXERCICE Alerte cyber"
        assert payload["idempotency_key"] == delivery.idempotency_key and "/ack/" in payload["ack_url"]
    elif kind == "teams":
        assert payload["@type"] == "MessageCard" and payload["title"].startswith("EXERCICE")
        assert "/ack/" in payload["potentialAction"][0]["targets"][0]["uri"]
    else:
        assert payload["text"].startswith(("**EXERCICE", "*EXERCICE"))
        assert "mode dégradé" in payload["text"]


@pytest.mark.django_db
def test_it_retries_a_503_and_fails_a_404_with_the_reason(world, fast_retries):
    with HookServer(statuses=[503, 404]) as hook:
        fast_retries.ALERTING_CHANNELS = {"webhook": [{"name": "hook", "kind": "webhook"}]}
        campaign = campaign_create(
            actor=world.establishment_admin, establishment=world.chu, title="Alerte", message_fr="Texte",
            channels=["webhook"], recipients=[RecipientInput(name="Canal", webhook_url=hook.url)],
        )
        deliveries_process(worker_id="w1")
    delivery = Delivery.objects.get(campaign=campaign)
    assert delivery.status == DeliveryStatus.FAILED
    assert "HTTP 404" in delivery.reason
    assert list(delivery.attempt_log.values_list("outcome", flat=True)) == ["transient", "permanent"]
