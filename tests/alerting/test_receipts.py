"""Delivery reports are applied whatever the order in which they and the send's commit
arrive. The deterministic tests put the report exactly where the race lost it before:
after the SMSC accepted the message, before the worker committed "sent" (a local
stand-in for Kannel's sendsms answers the request; the report comes through the real
dlr-url view). The last test sends 1,000 SMS through a real Kannel and expects every
report recorded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from planblanc.alerting.channels.base import SendResult, register
from planblanc.alerting.channels.sms_kannel import KannelProvider
from planblanc.alerting.models import Campaign, Delivery, DeliveryStatus, PendingReceipt
from planblanc.alerting.services import RecipientInput, campaign_create, deliveries_process
from tests.support.kannel import kannel_fixture, needs_kannel  # noqa: F401 - the `kannel` fixture


class SendSms(BaseHTTPRequestHandler):
    """Kannel's sendsms, as far as the sender sees it: 202 and the dlr-url kept."""

    dlr_urls: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        query = parse_qs(urlsplit(self.path).query)
        type(self).dlr_urls.append(query["dlr-url"][0])
        body = b"0: Accepted for delivery"
        self.send_response(202)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sendsms() -> Iterator[str]:
    SendSms.dlr_urls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), SendSms)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cgi-bin/sendsms"
    server.shutdown()
    server.server_close()


def _report(dlr_url: str, status: int) -> str:
    """Kannel calling our dlr-url with its status code in place of %d."""
    parts = urlsplit(dlr_url.replace("%d", str(status)))
    answer = Client().get(f"{parts.path}?{parts.query}")
    assert answer.status_code == 200
    return answer.content.decode()


@register
class ReportsBeforeCommit(KannelProvider):
    """The SMSC's report overtakes the worker: it is handled after Kannel accepted the
    message and before the worker records "sent"."""

    kind = "kannel-reports-first"
    status = 1
    applied: list[str] = []

    def send(self, messages: Iterable[Any]) -> Iterator[SendResult]:
        for result in super().send(messages):
            type(self).applied.append(_report(SendSms.dlr_urls[-1], self.status))
            assert Delivery.objects.get(pk=result.delivery_id).status == DeliveryStatus.SENDING
            yield result


def _campaign(world: Any, n: int, channels: list[str]) -> Campaign:
    recipients = [
        RecipientInput(name=f"Agent {i}", mobile_phone=f"+3363998{i:04d}", email=f"agent{i}@hopital.example")
        for i in range(n)
    ]
    return campaign_create(
        actor=world.establishment_admin, title="Cyberattaque", message_fr="Rejoignez la cellule de crise.",
        recipients=recipients, establishment=world.chu, channels=channels,
    )


@pytest.mark.django_db
def test_it_applies_a_report_that_arrives_before_the_send_is_committed(world, sendsms, settings):
    settings.ALERTING_CHANNELS = {"sms": [{"name": "kannel", "kind": "kannel-reports-first", "url": sendsms}]}
    ReportsBeforeCommit.applied = []
    campaign = _campaign(world, 3, ["sms"])
    deliveries_process(worker_id="w1")
    # Each report found its row still "sending": nothing applied then, kept instead…
    assert ReportsBeforeCommit.applied == ["0", "0", "0"]
    # …and applied by the commit of "sent".
    assert set(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True)) == {"delivered"}
    assert not PendingReceipt.objects.exists()


@pytest.mark.django_db
def test_it_applies_an_early_bounce_and_moves_the_recipient_to_the_next_channel(world, sendsms, settings, smtp):
    settings.ALERTING_CHANNELS = {
        "sms": [{"name": "kannel", "kind": "kannel-reports-first", "url": sendsms}],
        "email": [smtp.provider("relay")],
    }
    ReportsBeforeCommit.status = 2  # not delivered to the phone
    try:
        campaign = _campaign(world, 2, ["sms", "email"])
        deliveries_process(worker_id="w1")
    finally:
        ReportsBeforeCommit.status = 1
    sms = Delivery.objects.filter(campaign=campaign, channel="sms")
    assert set(sms.values_list("status", flat=True)) == {"failed"}
    assert all(d.reason.startswith("bounced: Kannel DLR status 2") for d in sms)
    assert set(Delivery.objects.filter(campaign=campaign, channel="email").values_list("status", flat=True)) == {
        "sent"
    }
    assert len(smtp.recorder.count_by_rcpt()) == 2


@pytest.mark.django_db
def test_it_applies_a_report_that_arrives_after_the_commit_and_ignores_a_repeat(world, sendsms, settings):
    settings.ALERTING_CHANNELS = {"sms": [{"name": "kannel", "kind": "kannel", "url": sendsms}]}
    campaign = _campaign(world, 2, ["sms"])
    deliveries_process(worker_id="w1")
    assert set(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True)) == {"sent"}
    assert [_report(url, 1) for url in SendSms.dlr_urls] == ["1", "1"]
    assert set(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True)) == {"delivered"}
    # Kannel repeating a report changes nothing.
    assert _report(SendSms.dlr_urls[0], 1) == "0"
    assert set(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True)) == {"delivered"}


THOUSAND = 1000


@needs_kannel
@pytest.mark.kannel
@pytest.mark.django_db(transaction=True)
def test_it_records_every_report_of_a_thousand_sms_through_kannel(world, kannel, settings):
    settings.ALERTING_CHANNELS = {"sms": [kannel.provider()]}
    campaign = _campaign(world, THOUSAND, ["sms"])
    started = time.monotonic()
    deliveries_process(worker_id="w1", limit=250)
    deliveries = Delivery.objects.filter(campaign=campaign)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and deliveries.filter(status=DeliveryStatus.DELIVERED).count() < THOUSAND:
        time.sleep(0.5)
    statuses = dict.fromkeys(deliveries.values_list("status", flat=True))
    assert deliveries.filter(status=DeliveryStatus.DELIVERED).count() == THOUSAND, statuses
    assert len(kannel.received()) >= THOUSAND
    assert time.monotonic() - started < 120
