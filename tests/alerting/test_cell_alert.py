"""A crisis-cell alert that assumes email is down: every channel of each person at once
(a message handed to the mail relay is not an acknowledgement), open until everyone
alerted acknowledges or a user closes it, answers beyond "received" (by link, SMS
keyword, keypad, in the app), and deputies alerted when their holder declines or stays
silent — through the outbox and follow-up engine, once."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from planblanc.accounts.models import AuditEntry
from planblanc.alerting.answers import DEFAULT_ANSWERS, answer_parse, answers_clean
from planblanc.alerting.channels.voice import callback_token
from planblanc.alerting.followup import followups_process
from planblanc.alerting.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    FollowUp,
    FollowUpStatus,
    Recipient,
    RecipientAnswer,
)
from planblanc.alerting.services import (
    RecipientInput,
    SeatInput,
    campaign_create,
    deliveries_process,
    recipient_answer,
)
from tests.alerting.sendsms import SendSms
from tests.conftest import verified_client
from tests.factories import PersonFactory
from tests.support.kannel import kannel_fixture, needs_kannel  # noqa: F401 - the `kannel` fixture

pytestmark = pytest.mark.django_db

HOLDER_A = RecipientInput(name="Alice Direction", email="alice@hopital.example", mobile_phone="+33639980011")
HOLDER_B = RecipientInput(name="Bruno Rssi", email="bruno@hopital.example", mobile_phone="+33639980012")
DEPUTY_C = RecipientInput(name="Chloé Adjointe", email="chloe@hopital.example", mobile_phone="+33639980013",
                          standby=True)
RENDEZVOUS = {"meeting_place": "Salle de crise, bâtiment A", "bridge_phone": "+33199000123", "bridge_code": "4242"}


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.fixture
def sms(settings: Any, smtp: Any) -> Iterator[SendSms]:
    with SendSms() as box:
        settings.ALERTING_CHANNELS = {
            "email": [smtp.provider("relay")], "sms": [box.provider()], "voice": [{"name": "demo", "kind": "voice_log"}],
        }
        yield box


def _cell(world: Any, *, message: str = "Rejoignez la cellule de crise.", **kwargs: Any) -> Campaign:
    return campaign_create(
        actor=world.establishment_admin, establishment=world.chu, title="Crise cyber", message_fr=message,
        recipients=kwargs.pop("recipients", [HOLDER_A, HOLDER_B, DEPUTY_C]), channels=["email", "sms", "voice"],
        mode="parallel", keep_open=True, answers=DEFAULT_ANSWERS, rendezvous=RENDEZVOUS,
        seats=kwargs.pop("seats", [SeatInput(title="Direction", members=(0, 2)), SeatInput(title="RSSI", members=(1,))]),
        standby_after_minutes=10, wake_workers=False, **kwargs,
    )


def _recipient(campaign: Campaign, name: str) -> Recipient:
    return Recipient.objects.get(campaign=campaign, name=name)


def _statuses(campaign: Campaign, name: str) -> dict[str, str]:
    return dict(Delivery.objects.filter(recipient__campaign=campaign, recipient__name=name).values_list("channel", "status"))


def _english_client(client: Client) -> Client:
    client.cookies["planblanc_language"] = "en"
    return client


def _ack_path(campaign: Campaign, name: str) -> str:
    from planblanc.alerting.services import ack_link_make

    delivery = Delivery.objects.filter(recipient=_recipient(campaign, name), channel="email").get()
    return ack_link_make(delivery=delivery).split("localhost:8000", 1)[-1]


def test_it_still_texts_and_calls_when_the_email_went_out_and_nobody_acknowledged(world, smtp, sms):
    campaign = _cell(world)
    deliveries_process(worker_id="w1")
    # Email handed to the relay is not an acknowledgement: SMS and voice went too.
    for name in ("Alice Direction", "Bruno Rssi"):
        assert _statuses(campaign, name) == {"email": "sent", "sms": "sent", "voice": "sent"}
    assert sorted(smtp.recorder.count_by_rcpt()) == ["alice@hopital.example", "bruno@hopital.example"]
    assert sorted(r["to"] for r in sms.requests) == ["+33639980011", "+33639980012"]
    # The deputy waits on standby; the campaign is open, not done.
    assert set(_statuses(campaign, "Chloé Adjointe").values()) == {"held"}
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.OPEN and campaign.finished_at is None
    # A second worker pass sends nothing again.
    assert deliveries_process(worker_id="w2") == 0
    assert len(sms.requests) == 2 and len(smtp.recorder.received) == 2


def test_it_stays_open_until_everyone_alerted_answers_then_is_done(world, smtp, sms):
    campaign = _cell(world)
    deliveries_process(worker_id="w1")
    recipient_answer(recipient=_recipient(campaign, "Alice Direction"), answer=1, minutes=15, via="link")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.OPEN
    recipient_answer(recipient=_recipient(campaign, "Bruno Rssi"), answer=3, via="sms")
    campaign.refresh_from_db()
    # Both holders answered; the deputy's follow-up is still to come.
    assert campaign.status == CampaignStatus.OPEN
    assert followups_process(worker_id="w1", now=timezone.now() + timedelta(minutes=11)) == 0
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DONE
    assert set(_statuses(campaign, "Chloé Adjointe").values()) == {"held"}  # never alerted


def test_a_manager_closes_an_open_campaign_after_a_confirmation_and_it_is_audited(world, smtp, sms):
    campaign = _cell(world)
    deliveries_process(worker_id="w1")
    client = _english_client(verified_client(world.establishment_admin))
    url = reverse("alerting:campaign_close", args=[campaign.pk])
    page = client.get(url).content.decode()
    assert "cannot be undone" in page and "2 people alerted have not acknowledged" in page
    assert client.post(url).status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DONE and campaign.closed_at and campaign.closed_by
    assert set(_statuses(campaign, "Chloé Adjointe").values()) == {"cancelled"}
    assert FollowUp.objects.get(campaign=campaign).status == FollowUpStatus.CANCELLED
    entry = AuditEntry.objects.get(action="alerting.campaign_close")
    assert entry.changes["not_acknowledged"] == 2
    # An auditor of the same establishment may not close a campaign.
    other = _cell(world)
    assert verified_client(world.auditor).post(reverse("alerting:campaign_close", args=[other.pk])).status_code in (
        403, 404
    )


def test_the_acknowledgement_page_is_light_repeats_the_meeting_point_and_takes_an_answer(world, smtp, sms):
    campaign = _cell(world)
    deliveries_process(worker_id="w1")
    path = _ack_path(campaign, "Alice Direction")
    client = _english_client(Client(enforce_csrf_checks=True))
    page = client.get(path)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Salle de crise, bâtiment A" in html and 'href="tel:+33199000123,,4242%23"' in html
    assert "I am coming" in html and "I cannot come" in html and "Available remotely" in html
    assert 'name="minutes"' in html
    # Light: no framework, no script, one small stylesheet.
    assert "<script" not in html and "bootstrap" not in html and len(page.content) < 6000
    token = client.cookies["planblanc_csrftoken"].value

    bad = client.post(path, {"csrfmiddlewaretoken": token, "answer": "1", "minutes": "vingt"})
    assert bad.status_code == 400 and "arrival delay in minutes" in bad.content.decode()
    assert not RecipientAnswer.objects.exists()

    done = client.post(path, {"csrfmiddlewaretoken": token, "answer": "1", "minutes": "20"})
    assert done.status_code == 200 and "Arrival in 20 minutes" in done.content.decode()
    alice = _recipient(campaign, "Alice Direction")
    assert (alice.answer, alice.answer_kind, alice.answer_minutes) == (1, "coming", 20)
    assert alice.acknowledgement.via == "link"
    # Her SMS and voice were already sent: they stay sent, and the email is the one acknowledged.
    assert _statuses(campaign, "Alice Direction") == {"email": "acknowledged", "sms": "sent", "voice": "sent"}
    # She changes her mind: the latest answer counts, both are kept.
    client.post(path, {"csrfmiddlewaretoken": token, "answer": "2"})
    alice.refresh_from_db()
    assert (alice.answer_kind, alice.answer_minutes) == ("cannot", None)
    assert list(RecipientAnswer.objects.values_list("kind", flat=True)) == ["coming", "cannot"]
    assert AuditEntry.objects.filter(action="alerting.answer").count() == 2


def test_it_answers_by_sms_keyword_through_the_kannel_reply_path(world, smtp, sms):
    campaign = _cell(world)
    deliveries_process(worker_id="w1")
    client = Client()
    url = reverse("alerting:sms_reply", args=["kannel"])
    secret = "mo-secret-for-tests"
    assert client.get(url, {"secret": secret, "from": "+33639980012", "text": "1 20"}).status_code == 200
    bruno = _recipient(campaign, "Bruno Rssi")
    assert (bruno.answer_kind, bruno.answer_minutes, bruno.acknowledgement.via) == ("coming", 20, "sms")
    assert Delivery.objects.get(recipient=bruno, channel="sms").status == DeliveryStatus.ACKNOWLEDGED
    # "NON" from the other holder: cannot come, and the deputy of the seat is alerted now.
    client.get(url, {"secret": secret, "from": "33639980011", "text": "non"})
    alice = _recipient(campaign, "Alice Direction")
    assert alice.answer_kind == "cannot"
    assert followups_process(worker_id="w1") == 3
    deliveries_process(worker_id="w1")
    assert _statuses(campaign, "Chloé Adjointe") == {"email": "sent", "sms": "sent", "voice": "sent"}
    assert sms.texts_to("+33639980013") and smtp.recorder.count_by_rcpt()["chloe@hopital.example"] == 1
    # Text that is not an answer changes nothing.
    client.get(url, {"secret": secret, "from": "+33639980013", "text": "qui est-ce ?"})
    assert _recipient(campaign, "Chloé Adjointe").answer is None


def test_it_answers_with_the_phone_keypad(world, smtp, sms):
    campaign = _cell(world)
    deliveries_process(worker_id="w1")
    client = Client()
    for name, digits, kind in (("Alice Direction", "2", "cannot"), ("Bruno Rssi", "3", "remote")):
        delivery = Delivery.objects.get(recipient__campaign=campaign, recipient__name=name, channel="voice")
        url = reverse("alerting:voice_callback", args=["demo", callback_token(delivery.pk)])
        body = json.dumps({"call_id": delivery.provider_message_id, "status": "completed", "digits": digits})
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 200 and response.content == b"acknowledged"
        recipient = _recipient(campaign, name)
        assert recipient.answer_kind == kind and recipient.acknowledgement.via == "voice"
        assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.ACKNOWLEDGED


def test_it_answers_in_the_app(world, smtp, sms):
    person = PersonFactory(last_name="Durand", first_name="Camille", email="camille@hopital.example")
    person.user = world.crisis_member
    person.save()
    mine = RecipientInput(name="Camille Durand", email=person.email, mobile_phone="+33639980014", person=person)
    campaign = _cell(world, recipients=[mine, HOLDER_B, DEPUTY_C])
    deliveries_process(worker_id="w1")
    client = _english_client(verified_client(world.crisis_member))
    url = reverse("alerting:to_acknowledge")
    page = client.get(url).content.decode()
    assert "Available remotely" in page and 'name="minutes"' in page
    recipient = _recipient(campaign, "Camille Durand")
    bad = client.post(url, {"recipient": recipient.pk, "answer": "1", "minutes": "99999"})
    assert bad.status_code == 400 and "between 0 and 1440" in bad.content.decode()
    assert client.post(url, {"recipient": recipient.pk, "answer": "1", "minutes": "25"}).status_code == 302
    recipient.refresh_from_db()
    assert (recipient.answer_kind, recipient.answer_minutes, recipient.acknowledgement.via) == ("coming", 25, "app")
    # Someone else's alert is a 404.
    other = _recipient(campaign, "Bruno Rssi")
    assert client.post(url, {"recipient": other.pk, "answer": "1"}).status_code == 404


def test_the_deputy_is_alerted_once_when_the_holder_stays_silent(world, smtp, sms):
    campaign = _cell(world)
    start = timezone.now()
    deliveries_process(worker_id="w1")
    recipient_answer(recipient=_recipient(campaign, "Bruno Rssi"), answer=1, minutes=5, via="sms")
    # Before the delay: nothing.
    assert followups_process(worker_id="w1", now=start + timedelta(minutes=9)) == 0
    assert set(_statuses(campaign, "Chloé Adjointe").values()) == {"held"}
    # After it, with the holder silent: the deputy, on every channel, by one worker only.
    assert followups_process(worker_id="w1", now=start + timedelta(minutes=11)) == 3
    assert followups_process(worker_id="w2", now=start + timedelta(minutes=12)) == 0
    deliveries_process(worker_id="w1")
    deliveries_process(worker_id="w2")
    assert _statuses(campaign, "Chloé Adjointe") == {"email": "sent", "sms": "sent", "voice": "sent"}
    assert smtp.recorder.count_by_rcpt()["chloe@hopital.example"] == 1 and len(sms.texts_to("+33639980013")) == 1
    assert AuditEntry.objects.filter(action="alerting.standby_release").count() == 1


def test_a_holder_who_was_coming_then_cannot_brings_the_deputy_in(world, smtp, sms):
    campaign = _cell(world)
    start = timezone.now()
    deliveries_process(worker_id="w1")
    alice = _recipient(campaign, "Alice Direction")
    recipient_answer(recipient=alice, answer=1, minutes=10, via="link")
    assert followups_process(worker_id="w1", now=start + timedelta(minutes=11)) == 0
    assert set(_statuses(campaign, "Chloé Adjointe").values()) == {"held"}
    recipient_answer(recipient=alice, answer=2, via="link")
    assert followups_process(worker_id="w1", now=start + timedelta(minutes=12)) == 3
    assert followups_process(worker_id="w1", now=start + timedelta(minutes=13)) == 0


def test_plain_text_is_never_html_escaped_in_the_sms_or_the_email(world, smtp, sms):
    text = "Rendez-vous à l'accueil \"B\" <porte 2> & café"
    _cell(world, message=text, recipients=[HOLDER_A], seats=[])
    deliveries_process(worker_id="w1")
    (request,) = sms.requests
    sent = request["text"].encode("utf-8")
    assert b"Crise cyber: Rendez-vous \xc3\xa0 l'accueil \"B\" <porte 2> & caf\xc3\xa9 " in sent
    assert sent.endswith("Repondez: 1 je viens (ex. 1 20 = dans 20 min), 2 je ne peux pas, 3 à distance".encode())
    assert b"l%27accueil+%22B%22+%3Cporte+2%3E+%26+caf%C3%A9" in sms.raw_queries[0]
    (mail,) = smtp.recorder.received
    body = mail.body.encode("utf-8")
    assert "Rendez-vous à l'accueil \"B\" <porte 2> & café\n".encode() in body
    # The voice platform gets the same words to read, and the keypad menu.
    from planblanc.alerting.channels.base import providers_for
    from planblanc.alerting.services import outgoing_message

    call = Delivery.objects.select_related("recipient", "campaign").get(channel="voice")
    spoken = providers_for("voice")[0].call_payload(outgoing_message(call))["text"].encode()
    # (said as words: "&" is read "et")
    assert "l'accueil \"B\" <porte 2> et café".encode() in spoken
    assert spoken.endswith("Tapez 1 pour : je viens. Tapez 2 pour : je ne peux pas. Tapez 3 pour : à distance.".encode())
    for escaped in (b"&#x27;", b"&#39;", b"&quot;", b"&lt;", b"&gt;", b"&amp;"):
        assert escaped not in sent and escaped not in body and escaped not in spoken


def test_the_campaign_page_counts_answers_and_lists_who_has_not_acknowledged_with_tap_to_call(world, smtp, sms):
    campaign = _cell(world)
    deliveries_process(worker_id="w1")
    recipient_answer(recipient=_recipient(campaign, "Bruno Rssi"), answer=1, minutes=20, via="sms")
    client = _english_client(verified_client(world.establishment_admin))
    html = client.get(reverse("alerting:campaign_progress", args=[campaign.pk])).content.decode()
    assert 'data-answer="1">1<' in html and 'data-answer="2">0<' in html and 'data-answer="none">1<' in html
    assert "Not acknowledged yet" in html and 'href="tel:+33639980011"' in html
    assert "in 20 min" in html and 'data-state="standby"' in html and 'data-state="coming"' in html


def test_it_reads_answers_from_sms_and_keypad_texts():
    assert answer_parse("1 20", DEFAULT_ANSWERS) == (1, 20)
    assert answer_parse("oui 20min", DEFAULT_ANSWERS) == (1, 20)
    assert answer_parse("J'arrive", DEFAULT_ANSWERS) == (1, None)
    assert answer_parse("120", DEFAULT_ANSWERS) == (1, 20)  # keypad: 1 then 20
    assert answer_parse("Non", DEFAULT_ANSWERS) == (2, None)
    assert answer_parse("2 20", DEFAULT_ANSWERS) == (2, None)
    assert answer_parse("3", DEFAULT_ANSWERS) == (3, None)
    assert answer_parse("4", DEFAULT_ANSWERS) is None
    assert answer_parse("20", DEFAULT_ANSWERS) is None
    assert answer_parse("OK", DEFAULT_ANSWERS) is None
    assert answer_parse("1 99999", DEFAULT_ANSWERS) == (1, None)


def test_a_custom_poll_has_two_to_six_distinct_answers():
    assert answers_clean(["Salle A", "Salle B"]) == [
        {"kind": "custom", "label": "Salle A"}, {"kind": "custom", "label": "Salle B"},
    ]
    for bad in (["Seule"], [f"R{i}" for i in range(7)], ["Oui", "oui"], ["x" * 81, "y"], [{"kind": "maybe"}, "b"]):
        with pytest.raises(ValidationError):
            answers_clean(bad)


def test_an_answer_the_campaign_does_not_have_is_refused(world, smtp, sms):
    campaign = _cell(world)
    with pytest.raises(ValidationError):
        recipient_answer(recipient=_recipient(campaign, "Alice Direction"), answer=4, via="link")
    plain = campaign_create(
        actor=world.establishment_admin, establishment=world.chu, title="Info", message_fr="Info.",
        recipients=[HOLDER_A], channels=["email"], wake_workers=False,
    )
    with pytest.raises(ValidationError):
        recipient_answer(recipient=Recipient.objects.get(campaign=plain), answer=1, via="link")
    assert not RecipientAnswer.objects.exists()


# Through a real Kannel (bearerbox, smsbox, fakesmsc) -------------------------------------


@needs_kannel
@pytest.mark.kannel
@pytest.mark.django_db(transaction=True)
def test_through_kannel_the_sms_bytes_are_plain_and_a_keyword_reply_answers(world, kannel, settings):
    import time

    from planblanc.alerting.channels.sms_kannel import KannelProvider
    from planblanc.alerting.services import outgoing_message

    settings.ALERTING_CHANNELS = {"sms": [kannel.provider()]}
    text = "Rendez-vous à l'accueil \"B\" <porte 2> & café"
    campaign = campaign_create(
        actor=world.establishment_admin, establishment=world.chu, title="Crise cyber", message_fr=text,
        recipients=[HOLDER_A, HOLDER_B], channels=["sms"], mode="parallel", keep_open=True, answers=DEFAULT_ANSWERS,
    )
    deliveries_process(worker_id="w1")
    received = kannel.wait_for(2)
    delivery = Delivery.objects.select_related("recipient", "campaign").get(
        campaign=campaign, recipient__mobile_phone="+33639980011"
    )
    expected = KannelProvider(name="kannel", options=kannel.provider()).text(outgoing_message(delivery))
    (got,) = received["+33639980011"]
    # The phone gets exactly the text we wrote: no HTML entity anywhere. (The signed
    # link carries the second it was signed: the same link, signed a second later, may
    # differ there.)
    signed = re.compile(r"/\d+:[0-9A-Za-z]+:[0-9A-Za-z_-]+/")
    assert signed.search(got)
    assert signed.sub("/LINK/", got) == signed.sub("/LINK/", expected)
    assert "Crise cyber: Rendez-vous à l'accueil \"B\" <porte 2> & café " in got
    assert got.endswith("Repondez: 1 je viens (ex. 1 20 = dans 20 min), 2 je ne peux pas, 3 à distance")

    kannel.inject_mo("+33639980011", "36180", "1 20")
    kannel.inject_mo("33639980012", "36180", "Non")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and Recipient.objects.filter(campaign=campaign, answer__isnull=True).exists():
        time.sleep(0.1)
    answers = dict(Recipient.objects.filter(campaign=campaign).values_list("mobile_phone", "answer_kind"))
    assert answers == {"+33639980011": "coming", "+33639980012": "cannot"}
    alice = Recipient.objects.get(campaign=campaign, mobile_phone="+33639980011")
    assert alice.answer_minutes == 20 and alice.acknowledgement.via == "sms"
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DONE
