"""Forming the crisis cell when email may be down: declaring alerts each seat holder on
every channel at once, with the default answers and the meeting point; the cell board
shows each seat's holder and deputies (reached, coming at what time, cannot, on
standby); a deputy is alerted when the holder declines or stays silent; and the
plain-text messages carry the plan's words unescaped."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from planblanc.alerting.followup import followups_process
from planblanc.alerting.models import CampaignStatus, Delivery, Recipient
from planblanc.alerting.services import deliveries_process, recipient_answer
from planblanc.crisis.selectors import crisis_cell_board
from planblanc.crisis.services import crisis_declare
from tests.alerting.conftest import smtp  # noqa: F401 (fixture)
from tests.alerting.sendsms import SendSms
from tests.conftest import verified_client

pytestmark = pytest.mark.django_db

PLACE = "Hall d'accueil \"B\" <porte 2> & café"


@pytest.fixture
def sms(settings: Any, smtp: Any) -> Iterator[SendSms]:  # noqa: F811
    with SendSms() as box:
        settings.ALERTING_CHANNELS = {
            "email": [smtp.provider("relay")], "sms": [box.provider()], "voice": [{"name": "demo", "kind": "voice_log"}],
        }
        yield box


@pytest.fixture
def plan_with_quotes(complete_plan: Any, director: Any) -> Any:  # noqa: F811 - tests/crisis/conftest fixtures
    from planblanc.plans.services import plan_approve

    complete_plan.meeting_place = PLACE
    complete_plan.save(update_fields=["meeting_place"])
    return plan_approve(actor=director, plan=complete_plan, note="v1")


def _declare(world: Any, director: Any) -> Any:
    return crisis_declare(actor=director, establishment=world.chu, kind="ransomware", severity="critical",
                          first_facts="Rançongiciel : l'accueil est touché.")


def _states(crisis: Any) -> dict[tuple[str, str], str]:
    board = crisis_cell_board(crisis=crisis)
    return {(seat.title, m.recipient.name): m.state for seat in board.seats for m in seat.members}


def _by_name(crisis: Any, part: str) -> Recipient:
    return Recipient.objects.get(campaign=crisis.campaign, name__icontains=part)


def test_declaring_alerts_the_holders_on_every_channel_and_keeps_the_deputy_on_standby(
    world, director, plan_with_quotes, smtp, sms,  # noqa: F811
):
    crisis = _declare(world, director)
    campaign = crisis.campaign
    assert campaign.mode == "parallel" and campaign.keep_open
    assert [a["kind"] for a in campaign.answers] == ["coming", "cannot", "remote"]
    assert campaign.rendezvous["meeting_place"] == PLACE and campaign.rendezvous["bridge_code"] == "4242"
    deliveries_process(worker_id="w1")
    holders = Recipient.objects.filter(campaign=campaign, standby=False)
    assert holders.count() == 2
    for holder in holders:
        assert dict(Delivery.objects.filter(recipient=holder).values_list("channel", "status")) == {
            "email": "sent", "sms": "sent", "voice": "sent",
        }
    assert set(Delivery.objects.filter(recipient__standby=True).values_list("status", flat=True)) == {"held"}
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.OPEN
    states = _states(crisis)
    assert {state for (_seat, name), state in states.items() if "ADJOINT" in name.upper()} == {"standby"}
    assert {state for (_seat, name), state in states.items() if "ADJOINT" not in name.upper()} == {"reached"}


def test_the_cell_board_shows_who_is_coming_and_when_with_tap_to_call(world, director, plan_with_quotes, smtp, sms):  # noqa: F811
    crisis = _declare(world, director)
    deliveries_process(worker_id="w1")
    rita = _by_name(crisis, "Rssi")
    recipient_answer(recipient=rita, answer=1, minutes=20, via="sms")
    url = reverse("crisis:cell_board", args=[crisis.pk])
    for persona in (world.crisis_member, director):
        client = verified_client(persona)
        client.cookies["planblanc_language"] = "en"
        page = client.get(url)
        assert page.status_code == 200
    html = page.content.decode()
    arrives = timezone.localtime(Recipient.objects.get(pk=rita.pk).answered_at + timedelta(minutes=20))
    assert f"arrives around {arrives:%H:%M} (20 min)" in html
    assert 'href="tel:+33639980778"' in html and 'href="tel:+33639980777"' in html
    assert 'data-state="coming"' in html and 'data-state="standby"' in html and 'data-state="reached"' in html
    assert "Not acknowledged yet" in html and "Conference bridge" in html
    partial = verified_client(director).get(url, headers={"HX-Request": "true"}).content.decode()
    assert partial.lstrip().startswith('<div id="cell-board"') and "<html" not in partial
    # The console's "alert and cell" section shows the same board, without repeating the bridge.
    section = verified_client(director).get(reverse("crisis:section", args=[crisis.pk, "alerte"])).content.decode()
    assert 'id="cell-board"' in section and f"{url}?bare=1" in section
    bare = client.get(url + "?bare=1", headers={"HX-Request": "true"}).content.decode()
    assert 'data-state="coming"' in bare and "Conference bridge" not in bare and "?bare=1" in bare
    # Outside the establishment: 404.
    assert verified_client(world.outsider_admin).get(url).status_code == 404


def test_the_deputy_is_alerted_when_the_holder_declines(world, director, plan_with_quotes, smtp, sms):  # noqa: F811
    crisis = _declare(world, director)
    deliveries_process(worker_id="w1")
    recipient_answer(recipient=_by_name(crisis, "Rssi"), answer=1, minutes=10, via="voice")
    recipient_answer(recipient=_by_name(crisis, director.person.last_name), answer=2, via="link")
    # The deputy stands in for both seats: alerted once, on every channel.
    assert followups_process(worker_id="w1") == 3
    assert followups_process(worker_id="w2") == 0
    deliveries_process(worker_id="w1")
    deputy = Recipient.objects.get(campaign=crisis.campaign, standby=True)
    assert set(Delivery.objects.filter(recipient=deputy).values_list("status", flat=True)) == {"sent"}
    assert len(sms.texts_to("+33639980777")) == 1
    assert {state for (_seat, name), state in _states(crisis).items() if name == deputy.name} == {"reached"}
    recipient_answer(recipient=deputy, answer=1, minutes=15, via="sms")
    board = crisis_cell_board(crisis=crisis)
    assert board.filled == len(board.seats) == 2


def test_the_deputy_is_alerted_when_the_holder_stays_silent(world, director, plan_with_quotes, smtp, sms, settings):  # noqa: F811
    crisis = _declare(world, director)
    start = timezone.now()
    deliveries_process(worker_id="w1")
    recipient_answer(recipient=_by_name(crisis, "Rssi"), answer=3, via="app")
    # Before the delay (the plan says nothing: the setting's 10 minutes), nothing moves.
    assert followups_process(worker_id="w1", now=start + timedelta(minutes=settings.ALERTING_STANDBY_AFTER_MINUTES - 1)) == 0
    # The director stayed silent: the deputy is alerted.
    assert followups_process(worker_id="w1", now=start + timedelta(minutes=settings.ALERTING_STANDBY_AFTER_MINUTES + 1)) == 3
    deliveries_process(worker_id="w1")
    assert len(sms.texts_to("+33639980777")) == 1


def test_the_cell_alert_is_plain_text_everywhere(world, director, plan_with_quotes, smtp, sms):  # noqa: F811
    crisis = _declare(world, director)
    assert PLACE in crisis.campaign.message_fr and "l'accueil est touché" in crisis.campaign.message_fr
    deliveries_process(worker_id="w1")
    for mail in smtp.recorder.received:
        assert f"Lieu de réunion : {PLACE}\n" in mail.body and "&#x27;" not in mail.body and "&amp;" not in mail.body
    for request in sms.requests:
        assert "Hall d'accueil \"B\" <porte 2> & caf" in request["text"] and "&#x27;" not in request["text"]
    # The in-app list shows the text as written (escaped once for HTML, not twice).
    page = verified_client(director).get(reverse("alerting:to_acknowledge")).content.decode()
    assert "Hall d&#x27;accueil &quot;B&quot; &lt;porte 2&gt; &amp; café" in page
    assert "&amp;#x27;" not in page and "&amp;amp;" not in page


def test_email_first_then_sms_and_voice_to_those_who_have_not_acknowledged(
    world, director, plan_with_quotes, smtp, sms, settings,  # noqa: F811
):
    settings.CRISIS_CELL_ALERT_MODE = "email_first"
    settings.CRISIS_CELL_ALERT_FOLLOWUP_MINUTES = 5
    crisis = _declare(world, director)
    start = timezone.now()
    deliveries_process(worker_id="w1")
    assert len(smtp.recorder.received) == 2 and not sms.requests
    recipient_answer(recipient=_by_name(crisis, "Rssi"), answer=1, minutes=10, via="link")
    # Five minutes on: SMS and a call to the holder who has not acknowledged, only.
    followups_process(worker_id="w1", now=start + timedelta(minutes=6))
    deliveries_process(worker_id="w1")
    assert [r["to"] for r in sms.requests] == ["+33639980779"]
    crisis.campaign.refresh_from_db()
    assert crisis.campaign.status == CampaignStatus.OPEN
