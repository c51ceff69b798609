"""Voice calls: the spoken text, a local HTTP server acting as the voice platform that
calls back our keypad endpoint (1 acknowledges), forged callbacks refused, a platform
that is down (TransientError: next provider, or retries until failed)."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.urls import reverse

from planblanc.alerting.channels.voice import callback_token, speech_text
from planblanc.alerting.models import AckChannel, Acknowledgement, Delivery, DeliveryStatus
from planblanc.alerting.services import RecipientInput, campaign_create, deliveries_process


class VoicePlatform:
    """Takes call requests; for each, answers 200 with a call id and, a moment later,
    calls back the given address as a platform would once the person pressed a key."""

    def __init__(self, *, digits: str = "1", status: str = "completed", answer: int = 200) -> None:
        self.calls: list[dict[str, Any]] = []
        self.callbacks: list[tuple[int, str]] = []
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                platform.calls.append(payload)
                call_id = f"call-{len(platform.calls)}"
                body = json.dumps({"call_id": call_id}).encode()
                self.send_response(answer)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                if answer == 200:
                    threading.Thread(target=platform.call_back, args=(payload["callback_url"], call_id)).start()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/calls"
        self.digits, self.status = digits, status

    def call_back(self, url: str, call_id: str) -> None:
        time.sleep(0.1)
        data = json.dumps({"call_id": call_id, "status": self.status, "digits": self.digits}).encode()
        request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback test server
            self.callbacks.append((response.status, response.read().decode()))

    def __enter__(self) -> VoicePlatform:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def _voice_campaign(world: Any, *, is_exercise: bool = True) -> Any:
    return campaign_create(
        actor=world.establishment_admin, establishment=world.chu, title="Cyberattaque",
        message_fr="Messagerie coupée depuis 14h30, appelez le 01 23 45 67 89. Détails : https://intranet.example/crise",
        channels=["voice"], is_exercise=is_exercise, wake_workers=False,
        recipients=[RecipientInput(name="Dr Martin", mobile_phone="+33612345678")],
    )


def _wait_for(condition: Any, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_it_renders_the_text_for_speech():
    text = speech_text(
        text="EXERCICE EXERCICE EXERCICE Alerte: réunion à 14h30, n° 3, appelez le 01 23 45 67 89. "
        "Accuser reception: https://pbn.example/ack/abc/",
        language="fr", is_exercise=True,
    )
    assert text.startswith("EXERCICE EXERCICE EXERCICE. Alerte")
    assert "http" not in text and "Accuser" not in text
    assert "14 heures 30" in text and "numéro 3" in text and "01, 23, 45, 67, 89" in text
    assert text.count("réunion à 14 heures 30") == 2 and text.count("EXERCICE EXERCICE EXERCICE") == 2
    assert text.endswith("Appuyez sur 1 pour confirmer la réception.")
    english = speech_text(text="Meeting at 9:00", language="en", is_exercise=False)
    assert english == "Meeting at 9 hours. I repeat. Meeting at 9 hours. Press 1 to confirm receipt."


@pytest.mark.django_db(transaction=True)
def test_it_calls_and_a_keypad_1_acknowledges(world, settings, live_server):
    settings.ALERTING_PUBLIC_URL = live_server.url
    with VoicePlatform() as platform:
        settings.ALERTING_CHANNELS = {"voice": [{"name": "tts", "kind": "voice_http", "url": platform.url}]}
        campaign = _voice_campaign(world)
        deliveries_process(worker_id="w1")
        assert _wait_for(lambda: Acknowledgement.objects.filter(recipient__campaign=campaign).exists())
    (call,) = platform.calls
    assert call["to"] == "+33612345678" and call["language"] == "fr-FR" and call["ack_digit"] == "1"
    assert call["text"].startswith("EXERCICE EXERCICE EXERCICE.")
    assert "http" not in call["text"] and "14 heures 30" in call["text"]
    assert call["text"].endswith("Appuyez sur 1 pour confirmer la réception.")
    assert platform.callbacks == [(200, "acknowledged")]
    ack = Acknowledgement.objects.get(recipient__campaign=campaign)
    assert ack.via == AckChannel.VOICE
    delivery = Delivery.objects.get(campaign=campaign)
    assert delivery.status == DeliveryStatus.ACKNOWLEDGED
    assert delivery.provider_message_id == "call-1" and delivery.delivered_at is not None


@pytest.mark.django_db(transaction=True)
def test_it_records_an_unanswered_call_as_failed_without_acknowledging(world, settings, live_server):
    settings.ALERTING_PUBLIC_URL = live_server.url
    with VoicePlatform(digits="", status="no-answer") as platform:
        settings.ALERTING_CHANNELS = {"voice": [{"name": "tts", "kind": "voice_http", "url": platform.url}]}
        campaign = _voice_campaign(world)
        deliveries_process(worker_id="w1")
        assert _wait_for(lambda: platform.callbacks)
    delivery = Delivery.objects.get(campaign=campaign)
    assert delivery.status == DeliveryStatus.FAILED and "no-answer" in delivery.reason
    assert not Acknowledgement.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_forged_callback(world, settings, client):
    settings.ALERTING_CHANNELS = {"voice": [{"name": "demo", "kind": "voice_log"}]}
    campaign = _voice_campaign(world)
    deliveries_process(worker_id="w1")
    delivery = Delivery.objects.get(campaign=campaign)
    assert delivery.status == DeliveryStatus.SENT
    body = json.dumps({"call_id": delivery.provider_message_id, "status": "completed", "digits": "1"})
    forged = callback_token(delivery.pk)[:-3] + "abc"
    for token in (forged, f"{delivery.pk}:1abcde:xyz"):
        url = reverse("alerting:voice_callback", args=["demo", token])
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 403
    assert not Acknowledgement.objects.exists()
    # The genuine token, on an unknown provider: 404.
    url = reverse("alerting:voice_callback", args=["nobody", callback_token(delivery.pk)])
    assert client.post(url, body, content_type="application/json").status_code == 404
    url = reverse("alerting:voice_callback", args=["demo", callback_token(delivery.pk)])
    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 200 and Acknowledgement.objects.get().via == AckChannel.VOICE


@pytest.mark.django_db
def test_it_falls_back_to_the_next_provider_when_the_platform_is_down(world, settings):
    settings.ALERTING_CHANNELS = {"voice": [
        {"name": "down", "kind": "voice_http", "url": "http://127.0.0.1:9/calls", "timeout": 2},
        {"name": "demo", "kind": "voice_log"},
    ]}
    campaign = _voice_campaign(world)
    deliveries_process(worker_id="w1")
    delivery = Delivery.objects.get(campaign=campaign)
    assert delivery.status == DeliveryStatus.SENT and delivery.provider == "demo"
    first, second = delivery.attempt_log.all()
    assert (first.provider, first.outcome) == ("down", "transient") and "unreachable" in first.error
    assert (second.provider, second.outcome) == ("demo", "sent")


@pytest.mark.django_db
def test_it_retries_a_platform_that_stays_down_then_fails_with_the_reason(world, fast_retries):
    fast_retries.ALERTING_CHANNELS = {"voice": [
        {"name": "down", "kind": "voice_http", "url": "http://127.0.0.1:9/calls", "timeout": 2},
    ]}
    campaign = _voice_campaign(world, is_exercise=False)
    deliveries_process(worker_id="w1")
    delivery = Delivery.objects.get(campaign=campaign)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 4 and "unreachable" in delivery.reason
    assert list(delivery.attempt_log.values_list("outcome", flat=True)) == ["transient"] * 4
