"""A worker whose heartbeat went stale stops sending before another takes its rows
over: no message goes twice. Deterministic: the heartbeat is made stale by stopping its
thread and ageing its last beat, not by waiting for a loaded machine to starve it."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
from django.utils import timezone

from planblanc.alerting.models import Delivery, DeliveryStatus, ProviderPace
from planblanc.alerting.services import (
    RecipientInput,
    campaign_create,
    deliveries_claim,
    deliveries_process,
)
from planblanc.alerting.services.sending import delivery_send_batch
from planblanc.core import heartbeat
from planblanc.core.models import WorkerHeartbeat
from tests.support.smtp import SmtpServer


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def stalled_worker():
    """A worker's heartbeat whose thread no longer beats (as when starved of CPU)."""
    beat = heartbeat.heartbeat_start(kind="alert")
    beat._stop.set()
    beat._thread.join(timeout=5)
    yield beat
    beat.stop()


def _campaign(world: Any, count: int) -> Any:
    return campaign_create(
        actor=world.establishment_admin, establishment=world.chu, title="Cyberattaque", message_fr="Cellule.",
        channels=["email"], wake_workers=False,
        recipients=[RecipientInput(name=f"Agent {i}", email=f"agent{i}@chu-a.example") for i in range(count)],
    )


def _age(beat: Any, settings: Any, *, local_seconds: float) -> None:
    """This process last beat `local_seconds` ago; its row is as old as the others see it."""
    heartbeat._last_beat = time.monotonic() - local_seconds
    WorkerHeartbeat.objects.filter(worker_id=beat.worker_id).update(
        last_seen_at=timezone.now() - datetime.timedelta(seconds=local_seconds)
    )


@pytest.mark.django_db(transaction=True)
def test_a_stale_worker_sends_nothing_and_another_sends_everything_once(world, settings, smtp, stalled_worker):
    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
    _campaign(world, 20)
    claimed = deliveries_claim(worker_id=stalled_worker.worker_id, limit=50)
    assert len(claimed.deliveries) == 20
    # Half the dead-worker delay without a beat: the worker fences itself.
    _age(stalled_worker, settings, local_seconds=settings.ALERTING_DEAD_WORKER_SECONDS / 2 + 0.1)
    assert not heartbeat.heartbeat_fresh()
    delivery_send_batch(claimed=claimed, worker_id=stalled_worker.worker_id)
    assert smtp.recorder.received == []
    # What it held goes back to the queue at once, for anyone.
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.QUEUED}
    # Another worker (another process: this one's heartbeat ends) sends them all, once.
    stalled_worker.stop()
    deliveries_process(worker_id="other", max_rounds=5)
    counts = smtp.recorder.count_by_rcpt()
    assert len(counts) == 20 and set(counts.values()) == {1}


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_goes_stale_while_waiting_for_its_pace_does_not_send(world, settings, smtp, stalled_worker):
    """The heartbeat is checked again after the provider's pace made the worker wait:
    fresh when the message is prepared, stale by the time its slot comes."""
    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay", rate=10)]}
    _campaign(world, 3)
    claimed = deliveries_claim(worker_id=stalled_worker.worker_id, limit=50)
    dead = settings.ALERTING_DEAD_WORKER_SECONDS
    # The provider's next free slot is 2 s away; the last beat turns stale within 1 s,
    # so whatever the machine's speed, the slot comes after the fence.
    ProviderPace.objects.update_or_create(name="relay", defaults={"next_at": time.time() + 2.0})
    _age(stalled_worker, settings, local_seconds=dead / 2 - 1.0)
    delivery_send_batch(claimed=claimed, worker_id=stalled_worker.worker_id)
    assert smtp.recorder.received == []
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.QUEUED}


@pytest.mark.django_db(transaction=True)
def test_a_fresh_worker_keeps_its_rows_from_the_others(world, settings, smtp):
    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
    beat = heartbeat.heartbeat_start(kind="alert")
    try:
        _campaign(world, 5)
        claimed = deliveries_claim(worker_id=beat.worker_id, limit=50)
        assert len(claimed.deliveries) == 5
        # Another worker finds nothing to take over while the claimer beats.
        assert deliveries_claim(worker_id="other", limit=50).deliveries == []
        delivery_send_batch(claimed=claimed, worker_id=beat.worker_id)
    finally:
        beat.stop()
    assert len(smtp.recorder.count_by_rcpt()) == 5
