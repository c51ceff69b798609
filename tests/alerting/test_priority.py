"""An alert never waits behind a mass mailing: a national awareness round is a million
invitations in the same outbox as the crisis cell's alert. The workers claim urgent rows
first, a claim holds one priority only, and a bulk batch gives way between two messages
as soon as an urgent row is due."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from planblanc.alerting.models import Campaign, Delivery, DeliveryStatus, Priority
from planblanc.alerting.services import (
    RecipientInput,
    campaign_create,
    deliveries_claim,
    deliveries_process,
    sending,
)
from tests.support.smtp import Recorder, SmtpServer


def _people(n: int, prefix: str) -> list[RecipientInput]:
    return [RecipientInput(name=f"Agent {i}", email=f"{prefix}{i}@hopital.example") for i in range(n)]


def _campaign(world: Any, recipients: list[RecipientInput], **kwargs: Any) -> Campaign:
    return campaign_create(actor=world.establishment_admin, establishment=world.chu, title=kwargs.pop("title", "Alerte"),
                           message_fr="Bonjour {name}.", recipients=recipients, wake_workers=False, **kwargs)


@pytest.mark.django_db
def test_the_claim_takes_urgent_rows_first_and_never_mixes_them_with_bulk_ones(world: Any, settings: Any) -> None:
    settings.ALERTING_CHANNELS = {"email": [{"name": "relay", "kind": "smtp", "host": "127.0.0.1", "port": 9}]}
    bulk = _campaign(world, _people(300, "formation"), title="Sensibilisation", priority=Priority.BULK)
    urgent = _campaign(world, _people(3, "cellule"), title="Cyberattaque")
    assert bulk.priority == Priority.BULK and urgent.priority == Priority.URGENT
    assert set(Delivery.objects.filter(campaign=bulk).values_list("priority", flat=True)) == {Priority.BULK}

    first = deliveries_claim(worker_id="w1", limit=200)
    assert first.priority == Priority.URGENT
    assert sorted(d.campaign_id for d in first.deliveries) == [urgent.pk] * 3  # only the alert, though 200 fit
    second = deliveries_claim(worker_id="w1", limit=200)
    assert second.priority == Priority.BULK and len(second.deliveries) == 200
    assert {d.campaign_id for d in second.deliveries} == {bulk.pk}


@pytest.mark.django_db
def test_an_unknown_priority_is_refused_with_a_message(world: Any) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        _campaign(world, _people(1, "x"), priority=7)
    assert "priority" in refused.value.message_dict
    assert not Campaign.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_bulk_send_gives_way_to_an_alert_between_two_messages(world: Any, settings: Any, monkeypatch: Any) -> None:
    """400 invitations go out through a real SMTP server. When the 50th is accepted, the
    crisis cell is alerted: its 3 messages go out next, before the invitations' batch of
    200 is done, and then the invitations go on. Every message is sent once."""
    monkeypatch.setattr(sending, "URGENT_LOOK_SECONDS", 0.0)  # look before every message
    alert_written = threading.Event()

    def alert_the_cell() -> None:
        try:
            _campaign(world, _people(3, "cellule"), title="Cyberattaque")
        finally:
            connection.close()
            alert_written.set()

    def on_message(count: int) -> None:
        # Before the server answers the 50th message: the worker looks right after it.
        if count == 50:
            thread = threading.Thread(target=alert_the_cell)
            thread.start()
            assert alert_written.wait(30)

    recorder = Recorder(on_message=on_message)
    with SmtpServer(recorder) as smtp:
        settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
        _campaign(world, _people(400, "formation"), title="Sensibilisation", priority=Priority.BULK)
        deliveries_process(worker_id="w1", limit=200)

    order = [received.rcpt for received in recorder.received]
    assert len(order) == 403 and len(set(order)) == 403
    alerts = [index for index, rcpt in enumerate(order) if rcpt.startswith("cellule")]
    # Positions 50, 51 and 52 (0-based): right after the 50th invitation. Without giving
    # way they would come after the first batch's 200 invitations.
    assert alerts == [50, 51, 52], alerts
    assert Delivery.objects.exclude(status=DeliveryStatus.SENT).count() == 0


@pytest.mark.django_db
def test_the_campaign_pages_say_which_sending_is_bulk(world: Any, settings: Any, client_for: Any) -> None:
    from django.urls import reverse

    settings.ALERTING_CHANNELS = {"email": [{"name": "relay", "kind": "smtp", "host": "127.0.0.1", "port": 9}]}
    bulk = _campaign(world, _people(3, "formation"), title="Sensibilisation", priority=Priority.BULK)
    urgent = _campaign(world, _people(3, "cellule"), title="Cyberattaque")
    admin = client_for("establishment_admin")
    note = "Envoi de masse : ses messages partent après toute alerte en attente"
    assert note in admin.get(reverse("alerting:campaign_detail", args=[bulk.pk])).content.decode()
    assert note not in admin.get(reverse("alerting:campaign_detail", args=[urgent.pk])).content.decode()
    listing = admin.get(reverse("alerting:campaign_list")).content.decode()
    assert listing.count(">Envoi de masse</span>") == 1
