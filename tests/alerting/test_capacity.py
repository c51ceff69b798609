"""Provider capacity: every provider of a channel sends at once, each at its declared
rate, paced through the database for all workers; the time to reach everyone is
estimated from the declared capacities."""

from __future__ import annotations

import os
import time

import pytest
from django.utils import translation

from planblanc.alerting.capacity import Pacer, reach_estimate
from planblanc.alerting.channels.base import build_providers
from planblanc.alerting.models import Delivery, DeliveryStatus
from planblanc.alerting.services import RecipientInput, campaign_create, deliveries_process
from tests.support.kannel import needs_kannel, running_kannel_pair


def test_it_estimates_the_time_to_reach_everyone(settings):
    settings.ALERTING_CHANNELS = {
        "sms": [{"name": "a", "kind": "kannel", "url": "http://127.0.0.1:9/", "callback_url": "http://127.0.0.1:9",
                 "secret": "s", "rate": 30},
                {"name": "b", "kind": "kannel", "url": "http://127.0.0.1:9/", "callback_url": "http://127.0.0.1:9",
                 "secret": "s", "rate": 30}],
        "voice": [{"name": "v", "kind": "voice_http", "url": "http://127.0.0.1:9/", "lines": 30, "call_seconds": 60}],
        "email": [{"name": "relay", "kind": "smtp", "host": "127.0.0.1"}],
    }
    with translation.override("fr"):
        texts = [item.text for item in reach_estimate({"sms": 2000, "voice": 2000, "email": 10})]
    assert texts[0].startswith("2") and texts[0].endswith("000 × SMS à 30/s sur 2 passerelles : ~33 s")
    assert "30 lignes" in texts[1] and "~67 min" in texts[1]
    assert "non déclarée" in texts[2]


@pytest.mark.django_db(transaction=True)
def test_it_shares_one_schedule_between_workers():
    """Two pacers (two workers) of one 20/s provider: 40 slots take 2 s, never more than
    20 in any second."""
    provider = build_providers({"webhook": [{"name": "hook", "kind": "webhook", "rate": 20}]})["webhook"][0]
    first, second = Pacer(provider), Pacer(provider)
    times = []
    start = time.monotonic()
    for _ in range(20):
        for pacer in (first, second):
            pacer.wait()
            times.append(time.monotonic())
    elapsed = time.monotonic() - start
    assert 1.8 <= elapsed <= 3.0
    assert max(sum(1 for t in times if s <= t < s + 1.0) for s in times) <= 21


# The providers of a channel send in parallel threads, each with its own database
# connection, on PostgreSQL; SQLite (one writer at a time) sends one provider after the other.
needs_parallel_sending = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="parallel providers need a server database (run with DATABASE_URL=postgres://…)",
)


@needs_kannel
@needs_parallel_sending
@pytest.mark.django_db(transaction=True)
def test_it_sends_on_two_kannel_links_at_once_each_at_its_rate(world, settings):
    rate, count = 10, 60
    with running_kannel_pair((rate, rate)) as kannel:
        settings.ALERTING_CHANNELS = {"sms": [kannel.provider(link) for link in kannel.links]}
        recipients = [
            RecipientInput(name=f"Agent {i}", mobile_phone=f"+336399800{i:02d}") for i in range(count)
        ]
        campaign = campaign_create(
            actor=world.establishment_admin, establishment=world.chu, title="Cyberattaque",
            message_fr="Mode dégradé.", channels=["sms"], recipients=recipients, wake_workers=False,
        )
        start = time.monotonic()
        deliveries_process(worker_id="w1")
        accepted = time.monotonic() - start
        assert kannel.wait_for(count, timeout=30)
    rows = Delivery.objects.filter(campaign=campaign)
    assert rows.filter(status=DeliveryStatus.SENT).count() == count
    by_provider = {name: rows.filter(provider=name).count() for name in ("kannel-link1", "kannel-link2")}
    assert by_provider == {"kannel-link1": count // 2, "kannel-link2": count // 2}
    limit = count / (2 * rate)  # 3 s
    assert limit * 0.9 <= accepted <= limit * 1.5 + 1, accepted
    for link in kannel.links:
        assert len(link.arrivals) == count // 2
        assert link.max_in_window(1.0) <= rate + 1, (link.name, link.max_in_window(1.0))


LONG_TEXT = (
    "Cyberattaque en cours : le systeme d'information est arrete. Passez en mode degrade, "
    "utilisez les procedures papier du plan blanc numerique, ne branchez aucun poste, "
    "rejoignez la cellule de crise salle 12 au rez-de-chaussee du batiment A des que possible. "
    "Les consignes detaillees suivent par affichage dans chaque service et par les cadres."
)


def test_it_counts_a_long_sms_as_its_parts_in_the_estimate(settings):
    settings.ALERTING_CHANNELS = {
        "sms": [{"name": "a", "kind": "kannel", "url": "http://127.0.0.1:9/", "callback_url": "http://127.0.0.1:9",
                 "secret": "s", "rate": 30}],
    }
    from planblanc.alerting.capacity import message_parts

    assert message_parts("sms", title="Alerte", text="Rejoignez la cellule.") == 1
    parts = message_parts("sms", title="Alerte", text=LONG_TEXT)
    assert parts >= 3  # the text, the link and the reply hint: 153 GSM characters a part
    # Outside the GSM alphabet a part holds 67 characters, not 153.
    short = LONG_TEXT[:200]
    assert message_parts("sms", title="Alerte", text="☎ " + short) > message_parts("sms", title="Alerte", text=short)
    with translation.override("fr"):
        [item] = reach_estimate({"sms": 600}, parts={"sms": parts})
    assert item.seconds == 600 * parts / 30
    assert item.text.endswith(f"({parts} parties par message)"), item.text


@needs_kannel
@pytest.mark.django_db(transaction=True)
def test_it_paces_a_long_sms_by_its_parts_through_kannel(world, settings):
    """8 SMS of 3 parts or more on a 10/s link: 24 parts or more, so the last goes at
    2.1 s at the earliest (it would be 0.7 s counting messages); the fake SMSC gets every
    part."""
    rate, count = 10, 8
    with running_kannel_pair((rate, rate)) as kannel:
        link = kannel.links[0]
        settings.ALERTING_CHANNELS = {"sms": [{**kannel.provider(link), "dlr_mask": 0}]}
        from planblanc.alerting.capacity import message_parts

        parts = message_parts("sms", title="Cyberattaque", text=LONG_TEXT, scope=str(world.chu))
        assert parts >= 3  # the text, the establishment's name, the link and the reply hint
        campaign = campaign_create(
            actor=world.establishment_admin, establishment=world.chu, title="Cyberattaque", message_fr=LONG_TEXT,
            channels=["sms"], wake_workers=False,
            recipients=[RecipientInput(name=f"Agent {i}", mobile_phone=f"+33639980{i:03d}") for i in range(count)],
        )
        start = time.monotonic()
        deliveries_process(worker_id="w1")
        accepted = time.monotonic() - start
        assert kannel.wait_for(count * parts, timeout=30), kannel.received()
        time.sleep(0.5)
        assert len(link.arrivals) == count * parts
    assert Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.SENT).count() == count
    earliest = (count - 1) * parts / rate
    assert earliest * 0.95 <= accepted <= earliest * 1.5 + 1.5, accepted
    assert link.max_in_window(1.0) <= rate + parts, link.max_in_window(1.0)
