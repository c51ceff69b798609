"""Webhooks to a real local HTTP server: generic JSON and chat-compatible payloads."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from planblanc.alerting.models import Delivery, DeliveryStatus
from planblanc.alerting.services import RecipientInput, campaign_create, deliveries_process


class HookServer:
    """Records JSON POSTs; answers with the next status of `statuses` (then 200)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.statuses = list(statuses or [])
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                status = outer.statuses.pop(0) if outer.statuses else 200
                if status == 200:
                    outer.received.append(body)
                    outer.headers.append(dict(self.headers))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/crise"

    def __enter__(self) -> HookServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


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
