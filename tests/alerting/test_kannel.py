"""SMS through Kannel: the text as sent (GSM 7-bit, length, EXERCICE mark), and a real
Kannel (bearerbox, smsbox, fakesmsc) on loopback for sending, delivery reports,
replies and fallback when Kannel is down."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from planblanc.alerting.channels.base import OutgoingMessage, build_providers
from planblanc.alerting.channels.sms_kannel import (
    KannelProvider,
    dlr_signature,
    sms_clean,
    sms_encoding,
    sms_fit,
    sms_parts,
    sms_units,
)
from planblanc.alerting.models import Acknowledgement, Delivery, DeliveryStatus
from planblanc.alerting.services import RecipientInput, campaign_create, deliveries_process
from tests.support.kannel import SECRET, kannel_fixture, needs_kannel  # noqa: F401 - the `kannel` fixture
from tests.support.smtp import free_port


def _message(**kwargs: Any) -> OutgoingMessage:
    defaults: dict[str, Any] = {
        "delivery_id": 42, "idempotency_key": "7:3:sms:0", "message_id": "<x@y>", "address": "+33639980001",
        "name": "Camille DURAND", "language": "fr", "subject": "s", "body": "b",
        "short_text": "Cyberattaque: rejoignez la cellule. Accuser reception: http://pb.example/ack/abc/",
        "ack_url": "http://pb.example/ack/abc/", "is_exercise": False,
    }
    return OutgoingMessage(**{**defaults, **kwargs})


def _provider(**options: Any) -> KannelProvider:
    config = {"url": "http://127.0.0.1:1/cgi-bin/sendsms", "secret": "s", **options}
    return KannelProvider(name="kannel", options=config)


# The text ---------------------------------------------------------------------------------


def test_it_writes_word_processor_characters_in_the_gsm_alphabet():
    text = sms_clean("L\u2019h\u00f4pital\u00a0: \u00ab\u00a0cellule\u00a0\u00bb \u2013 c\u0153ur\u2026 \u00eatre")
    assert text == "L'hopital : \" cellule \" - coeur... etre"
    assert sms_encoding(text) == "gsm"
    # Accents of the GSM alphabet stay as they are.
    assert sms_clean("été à Zürich") == "été à Zürich"


def test_it_counts_parts_as_phones_do():
    assert sms_parts("a" * 160) == 1
    assert sms_parts("a" * 161) == 2  # 153 septets per part once concatenated
    assert sms_parts("a" * 306) == 2 and sms_parts("a" * 307) == 3
    assert sms_units("€[]") == 6  # extension characters take two septets
    assert sms_parts("€" * 80) == 1 and sms_parts("€" * 81) == 2
    assert sms_encoding("Привет") == "ucs2" and sms_parts("П" * 70) == 1 and sms_parts("П" * 71) == 2


def test_it_cuts_long_text_keeping_its_start_and_its_link():
    link = " Accuser reception: http://pb.example/ack/123:abc/"
    text = "EXERCICE EXERCICE EXERCICE " + "x" * 2000 + link
    fitted = sms_fit(text, max_parts=3, keep_end=len(link))
    assert sms_parts(fitted) == 3
    assert fitted.startswith("EXERCICE EXERCICE EXERCICE xxx")
    assert fitted.endswith(link) and "... Accuser" in fitted


def test_it_sends_an_exercise_alert_in_gsm_within_the_part_limit():
    provider = _provider(max_parts=2)
    long_short = "EXERCICE EXERCICE EXERCICE Cyberattaque\u00a0: " + "tr\u00e8s long message " * 40
    message = _message(short_text=f"{long_short} Accuser reception: http://pb.example/ack/7:tok/",
                       ack_url="http://pb.example/ack/7:tok/", is_exercise=True)
    params = provider.params(message)
    assert params["coding"] == "0" and params["charset"] == "UTF-8"
    assert sms_encoding(params["text"]) == "gsm" and sms_parts(params["text"]) <= 2
    assert params["text"].startswith("EXERCICE EXERCICE EXERCICE Cyberattaque :")
    assert params["text"].endswith("Accuser reception: http://pb.example/ack/7:tok/ Repondez OK 7")
    assert "\u00a0" not in params["text"] and "\u2019" not in params["text"]


def test_it_sends_ucs2_only_when_the_text_needs_it():
    params = _provider().params(_message(short_text="Тревога: cellule de crise", ack_url=""))
    assert params["coding"] == "2"
    params = _provider().params(_message(short_text="Alerte : cellule de crise", ack_url=""))
    assert params["coding"] == "0"


def test_it_asks_kannel_for_a_signed_delivery_report():
    params = _provider(callback_url="http://127.0.0.1:8000", dlr_mask=19).params(_message())
    assert params["dlr-mask"] == "19"
    assert params["dlr-url"] == f"http://127.0.0.1:8000/sms/kannel/dlr/?d=42&sig={dlr_signature(42)}&status=%d"
    assert params["to"] == "+33639980001" and params["from"] == "PlanBlanc"


def test_it_reads_delivery_reports_and_refuses_forged_ones():
    from django.core.exceptions import PermissionDenied

    provider, factory = _provider(), RequestFactory()
    ok = provider.parse_receipt(factory.get("/", {"d": "42", "sig": dlr_signature(42), "status": "1"}))
    assert [(r.provider_message_id, r.delivered) for r in ok] == [("kannel:42", True)]
    failed = provider.parse_receipt(factory.get("/", {"d": "42", "sig": dlr_signature(42), "status": "16"}))
    assert failed[0].delivered is False and "16" in failed[0].error
    assert provider.parse_receipt(factory.get("/", {"d": "42", "sig": dlr_signature(42), "status": "8"})) == []
    with pytest.raises(PermissionDenied):
        provider.parse_receipt(factory.get("/", {"d": "43", "sig": dlr_signature(42), "status": "1"}))


def test_it_refuses_a_kannel_provider_without_an_address():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        build_providers({"sms": [{"name": "k", "kind": "kannel"}]})


@pytest.mark.django_db
def test_it_answers_403_to_a_forged_report_or_reply(world, settings):
    settings.ALERTING_CHANNELS = {"sms": [{"name": "kannel", "kind": "kannel", "url": "http://127.0.0.1:1/", "secret": SECRET}]}
    client = Client()
    forged = client.get(reverse("alerting:sms_receipt", args=["kannel"]), {"d": "1", "sig": "0" * 32, "status": "1"})
    assert forged.status_code == 403
    reply = client.get(reverse("alerting:sms_reply", args=["kannel"]), {"secret": "wrong", "from": "+33639980001", "text": "OK"})
    assert reply.status_code == 403
    assert client.get(reverse("alerting:sms_receipt", args=["unknown"])).status_code == 404


# A real Kannel ------------------------------------------------------------------------------


def _sms_campaign(world: Any, n: int = 3, **kwargs: Any) -> Any:
    recipients = [
        RecipientInput(name=f"Agent {i}", mobile_phone=f"+3363998{i:04d}", email=f"agent{i}@hopital.example")
        for i in range(n)
    ]
    return campaign_create(
        actor=world.establishment_admin, title="Cyberattaque", message_fr="Rejoignez la cellule de crise.",
        recipients=recipients, establishment=world.chu, **{"channels": ["sms"], **kwargs},
    )


def _wait(predicate: Any, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@needs_kannel
@pytest.mark.kannel
@pytest.mark.django_db(transaction=True)
def test_it_sends_a_campaign_by_sms_through_kannel_and_marks_it_delivered(world, kannel, settings):
    settings.ALERTING_CHANNELS = {"sms": [kannel.provider()]}
    campaign = _sms_campaign(world, n=3, is_exercise=True)
    deliveries_process(worker_id="w1")

    by_number = kannel.wait_for(3)
    assert {number: len(texts) for number, texts in by_number.items()} == {
        "+33639980000": 1, "+33639980001": 1, "+33639980002": 1,
    }
    assert all(line.startswith("PlanBlanc +3363998000") for line in kannel.received())
    text = by_number["+33639980001"][0]
    # Longer than one SMS: sent as concatenated parts, as many as the text needs.
    parts = [line for line in kannel.received() if line.split(" ")[1] == "+33639980001"]
    assert len(parts) == sms_parts(text) == 2
    assert text.startswith("EXERCICE EXERCICE EXERCICE Cyberattaque: Rejoignez la cellule de crise.")
    assert "/ack/" in text and text.endswith(f"Repondez OK {campaign.pk}")
    # fakesmsc reports each message delivered; Kannel calls our dlr-url.
    assert _wait(lambda: Delivery.objects.filter(campaign=campaign, status=DeliveryStatus.DELIVERED).count() == 3), (
        list(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True))
    )
    delivery = Delivery.objects.filter(campaign=campaign).first()
    assert delivery.provider == "kannel" and delivery.provider_message_id == f"kannel:{delivery.pk}"
    assert delivery.delivered_at is not None


@needs_kannel
@pytest.mark.kannel
@pytest.mark.django_db(transaction=True)
def test_it_acknowledges_on_an_ok_reply_by_sms(world, kannel, settings):
    settings.ALERTING_CHANNELS = {"sms": [kannel.provider()]}
    campaign = _sms_campaign(world, n=2)
    deliveries_process(worker_id="w1")
    assert sum(map(len, kannel.wait_for(2).values())) == 2

    kannel.inject_mo("+33639980001", "36180", "ok merci")
    assert _wait(lambda: Acknowledgement.objects.filter(recipient__campaign=campaign).exists())
    ack = Acknowledgement.objects.get(recipient__campaign=campaign)
    assert ack.via == "sms" and ack.recipient.mobile_phone == "+33639980001"
    assert Delivery.objects.get(pk=ack.delivery_id).status == DeliveryStatus.ACKNOWLEDGED
    # A reply that is not a keyword acknowledges nothing.
    kannel.inject_mo("+33639980000", "36180", "qui est-ce ?")
    time.sleep(1.5)
    assert Acknowledgement.objects.filter(recipient__campaign=campaign).count() == 1


@needs_kannel
@pytest.mark.kannel
@pytest.mark.django_db(transaction=True)
def test_it_acknowledges_the_campaign_named_by_its_short_code(world, kannel, settings):
    settings.ALERTING_CHANNELS = {"sms": [kannel.provider()]}
    first = _sms_campaign(world, n=1)
    second = _sms_campaign(world, n=1)
    deliveries_process(worker_id="w1")
    assert sum(map(len, kannel.wait_for(2).values())) == 2
    # "OK <code>" acknowledges that campaign, not the latest one.
    kannel.inject_mo("33639980000", "36180", f"OK {first.pk}")
    assert _wait(lambda: Acknowledgement.objects.exists())
    assert Acknowledgement.objects.get().recipient.campaign_id == first.pk
    assert not Acknowledgement.objects.filter(recipient__campaign=second).exists()


@needs_kannel
@pytest.mark.kannel
@pytest.mark.django_db(transaction=True)
def test_it_falls_back_to_the_next_provider_when_kannel_is_down(world, kannel, settings, fast_retries):
    down = kannel.provider("kannel-down", url=f"http://127.0.0.1:{free_port()}/cgi-bin/sendsms")
    settings.ALERTING_CHANNELS = {"sms": [down, kannel.provider()]}
    campaign = _sms_campaign(world, n=2)
    deliveries_process(worker_id="w1")
    assert sum(map(len, kannel.wait_for(2).values())) == 2
    for delivery in Delivery.objects.filter(campaign=campaign):
        assert delivery.status in (DeliveryStatus.SENT, DeliveryStatus.DELIVERED)
        assert delivery.provider == "kannel"
        outcomes = list(delivery.attempt_log.values_list("provider", "outcome"))
        assert outcomes == [("kannel-down", "transient"), ("kannel", "sent")]
        assert "unreachable" in delivery.attempt_log.first().error


@needs_kannel
@pytest.mark.kannel
@pytest.mark.django_db(transaction=True)
def test_it_falls_back_to_email_when_every_sms_provider_is_down(world, kannel, smtp, settings, fast_retries):
    kannel.stop()  # Kannel itself is down
    settings.ALERTING_CHANNELS = {"sms": [kannel.provider()], "email": [smtp.provider("relay")]}
    campaign = _sms_campaign(world, n=2, channels=["sms", "email"])
    for _round in range(fast_retries.ALERTING_MAX_ATTEMPTS + 1):
        deliveries_process(worker_id="w1")
    sms = Delivery.objects.filter(campaign=campaign, channel="sms")
    assert set(sms.values_list("status", flat=True)) == {DeliveryStatus.FAILED}
    assert all("unreachable" in d.reason for d in sms)
    assert set(Delivery.objects.filter(campaign=campaign, channel="email").values_list("status", flat=True)) == {
        DeliveryStatus.SENT
    }
    assert sorted(smtp.recorder.count_by_rcpt()) == ["agent0@hopital.example", "agent1@hopital.example"]
