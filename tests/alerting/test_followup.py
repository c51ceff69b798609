"""SMS first, then voice to those who have not acknowledged: the engine's channel steps
are a fallback on failure only, so the follow-up (alerting/followup.py) calls, after
its delay, every recipient still unacknowledged — and nobody else."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from planblanc.alerting.followup import (
    campaign_create_with_followup,
    followup_schedule,
    followups_process,
)
from planblanc.alerting.models import Campaign, Delivery, DeliveryStatus, FollowUp, FollowUpStatus
from planblanc.alerting.services import RecipientInput, deliveries_process, sms_reply_record
from tests.support.smpp import TinySmsc

pytestmark = pytest.mark.usefixtures("english_messages")


PHONES = {"Alice": "+33612345671", "Bruno": "+33612345672", "Chloé": "+33612345673"}


def _channels(settings: Any, smsc: TinySmsc) -> None:
    settings.ALERTING_CHANNELS = {
        "sms": [{"name": "smsc", "kind": "smpp", "host": "127.0.0.1", "port": smsc.port, "bind": "transceiver",
                 "system_id": "pb", "password": "pw", "timeout": 5}],
        "voice": [{"name": "demo", "kind": "voice_log"}],
    }


def _create(world: Any, after_minutes: int = 10) -> tuple[Campaign, FollowUp]:
    return campaign_create_with_followup(
        actor=world.establishment_admin, establishment=world.chu, title="Cyberattaque",
        message_fr="Rejoignez la cellule de crise.", channels=["sms"], is_exercise=True, wake_workers=False,
        recipients=[RecipientInput(name=name, mobile_phone=phone) for name, phone in PHONES.items()],
        followup_channel="voice", followup_after_minutes=after_minutes,
    )


@pytest.mark.django_db
def test_it_calls_by_voice_only_those_who_have_not_acknowledged_the_sms(world, settings):
    with TinySmsc() as smsc:
        _channels(settings, smsc)
        campaign, followup = _create(world)
        deliveries_process(worker_id="w1")
    assert {to for to, _text in smsc.submitted} == {phone[1:] for phone in PHONES.values()}
    assert set(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True)) == {"sent"}
    assert sms_reply_record(sender=PHONES["Alice"], text="OK") is not None

    # Before the delay: nothing.
    assert followups_process(worker_id="w1") == 0
    assert not Delivery.objects.filter(campaign=campaign, channel="voice").exists()

    later = timezone.now() + timedelta(minutes=11)
    assert followups_process(worker_id="w1", now=later) == 2
    assert followups_process(worker_id="w2", now=later) == 0  # taken once
    voice = Delivery.objects.filter(campaign=campaign, channel="voice")
    assert sorted(voice.values_list("recipient__name", flat=True)) == ["Bruno", "Chloé"]
    followup.refresh_from_db()
    assert followup.status == FollowUpStatus.DONE and followup.recipients_count == 2
    assert Campaign.objects.get(pk=campaign.pk).status == "sending"

    deliveries_process(worker_id="w1")
    assert set(voice.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    assert set(voice.values_list("address", flat=True)) == {PHONES["Bruno"], PHONES["Chloé"]}
    assert Campaign.objects.get(pk=campaign.pk).status == "done"


@pytest.mark.django_db
def test_it_runs_from_the_worker_loop(world, settings):
    with TinySmsc() as smsc:
        _channels(settings, smsc)
        campaign, _followup = _create(world, after_minutes=0)
        call_command("alert_worker", "--once", verbosity=0)
    voice = Delivery.objects.filter(campaign=campaign, channel="voice")
    assert voice.count() == 3 and set(voice.values_list("status", flat=True)) == {DeliveryStatus.SENT}


@pytest.mark.django_db
def test_it_creates_neither_campaign_nor_follow_up_on_bad_input(world, settings):
    settings.ALERTING_CHANNELS = {"sms": [{"name": "smsc", "kind": "smpp", "host": "127.0.0.1", "port": 9}]}
    before = Campaign.objects.count()
    with pytest.raises(ValidationError) as caught:
        _create(world)  # no voice provider configured
    assert "voice" in str(caught.value.message_dict["channel"])
    settings.ALERTING_CHANNELS = {**settings.ALERTING_CHANNELS, "voice": [{"name": "demo", "kind": "voice_log"}]}
    with pytest.raises(ValidationError, match="between 0 and"):
        _create(world, after_minutes=-5)
    assert Campaign.objects.count() == before and not FollowUp.objects.exists()


@pytest.mark.django_db
def test_it_drops_the_follow_up_of_a_cancelled_campaign(world, settings):
    from planblanc.alerting.services import campaign_cancel

    settings.ALERTING_CHANNELS = {
        "sms": [{"name": "smsc", "kind": "smpp", "host": "127.0.0.1", "port": 9}],
        "voice": [{"name": "demo", "kind": "voice_log"}],
    }
    campaign, followup = _create(world)
    campaign_cancel(actor=world.establishment_admin, campaign=campaign)
    assert followups_process(worker_id="w1", now=timezone.now() + timedelta(hours=1)) == 0
    followup.refresh_from_db()
    assert followup.status == FollowUpStatus.CANCELLED
    assert not Delivery.objects.filter(campaign=campaign, channel="voice").exists()
    with pytest.raises(ValidationError, match="cancelled"):
        followup_schedule(actor=world.establishment_admin, campaign=campaign, channel="sms", after_minutes=5)

