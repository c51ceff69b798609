"""Web Push to the installed app (RFC 8030 delivery, RFC 8291 aes128gcm payload
encryption, RFC 8292 VAPID): no Google or Apple account, any push service the browser
uses (Firefox's, Chrome's, UnifiedPush distributors…).

The engine hands over, in `OutgoingMessage.push_subscriptions`, every device the person
subscribed. The message is sent to each; it counts as sent when at least one push service
took it (201/202). Devices whose push service says they are gone (404/410) are returned in
`SendResult.gone_endpoints`, for the engine to remove; if no device is left the message
fails permanently and the recipient's next channel is used.

The VAPID key pair is generated once into the data directory (vapid_private.pem), or
given by the `vapid_private_key` option (a PEM file path). Options: subject (the
"mailto:" or https contact the push services may use, default mailto:alertes@<public
host>), ttl (seconds the push service keeps an undelivered message, 86400), timeout
(seconds, 10), rate (messages per second this provider may send, 0 = unbounded).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from py_vapid import Vapid02
from pywebpush import WebPusher, WebPushException

from planblanc.alerting.channels.base import (
    PERMANENT,
    TRANSIENT,
    OutgoingMessage,
    Provider,
    SendResult,
    register,
)

_key_lock = threading.Lock()


def vapid_key_path() -> Path:
    return Path(settings.DATA_DIR) / "vapid_private.pem"


@cache
def _vapid_from(path: str) -> Vapid02:
    with _key_lock:
        key = Path(path)
        if not key.exists():
            vapid = Vapid02()
            vapid.generate_keys()
            draft = key.with_name(f".{key.name}.{threading.get_ident()}")
            vapid.save_key(str(draft))
            draft.chmod(0o600)
            draft.replace(key)  # atomic: two processes never read a half-written key
        return Vapid02.from_file(str(key))


def vapid_key(path: str | None = None) -> Vapid02:
    """The deployment's VAPID key pair (created on first use)."""
    return _vapid_from(str(path or vapid_key_path()))


def vapid_public_key(path: str | None = None) -> str:
    """The application server key a browser needs to subscribe (base64url, uncompressed
    P-256 point), as PushManager.subscribe({applicationServerKey}) takes it."""
    raw = vapid_key(path).public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def push_payload(message: OutgoingMessage) -> dict[str, Any]:
    """What the service worker receives (static/planblanc/push-sw.js shows it)."""
    ack = message.language != "en"
    return {
        "title": message.subject,
        "body": message.short_text or message.body[:300],
        "url": message.ack_url,
        "tag": message.idempotency_key,
        "exercise": message.is_exercise,
        # Actions answer through the signed link, without opening the app.
        "actions": [
            {"action": "ack", "title": "J'arrive" if ack else "Coming",
             "url": message.ack_url.rstrip("/") + "/push/ack/"},
            {"action": "decline", "title": "Je ne peux pas" if ack else "Can't come",
             "url": message.ack_url.rstrip("/") + "/push/decline/"},
        ],
    }


@register
class WebPushProvider(Provider):
    kind = "webpush"
    channel = "push"

    def __init__(self, *, name: str, options: dict[str, Any]) -> None:
        super().__init__(name=name, options=options)
        self.key_path = self.option("vapid_private_key", "") or None
        host = urlsplit(settings.ALERTING_PUBLIC_URL).hostname or "localhost"
        self.subject = self.option("subject", f"mailto:alertes@{host}")
        if not str(self.subject).startswith(("mailto:", "https://")):
            raise ImproperlyConfigured(f"alerting provider {name!r} (webpush): subject must be a mailto: or https:// URL")
        self.ttl = int(self.option("ttl", 86400))
        self.timeout = float(self.option("timeout", 10))
        self._session: requests.Session | None = None

    def _vapid_headers(self, endpoint: str) -> dict[str, str]:
        parts = urlsplit(endpoint)
        claims = {"sub": self.subject, "aud": f"{parts.scheme}://{parts.netloc}", "exp": int(time.time()) + 12 * 3600}
        return dict(vapid_key(self.key_path).sign(claims))

    def send(self, messages: Iterable[OutgoingMessage]) -> Iterator[SendResult]:
        session = self._session = self._session or requests.Session()
        for message in messages:
            subscriptions = [s for s in message.push_subscriptions if str(s.get("endpoint", "")).startswith(("https://", "http://"))]
            if not subscriptions:
                yield SendResult(message.delivery_id, PERMANENT, "no push device subscribed")
                continue
            data = json.dumps(push_payload(message), ensure_ascii=False)
            accepted: list[str] = []
            locations: list[str] = []
            gone: list[str] = []
            errors: list[str] = []
            transient = False
            for subscription in subscriptions:
                endpoint = subscription["endpoint"]
                headers = {**self._vapid_headers(endpoint), "Urgency": "high", "Topic": message.idempotency_key[-32:].replace(":", "-")}
                try:
                    response = WebPusher(subscription, requests_session=session).send(
                        data, headers, ttl=self.ttl, content_encoding="aes128gcm", timeout=self.timeout,
                    )
                except (WebPushException, requests.RequestException, ValueError) as exc:
                    transient = True
                    errors.append(f"unreachable: {exc}"[:200])
                    continue
                code = response.status_code
                if code in (200, 201, 202):
                    accepted.append(endpoint)
                    locations.append(response.headers.get("Location", "") or endpoint)
                elif code in (404, 410):
                    gone.append(endpoint)
                    errors.append(f"HTTP {code}: device gone")
                else:
                    transient = transient or code in (408, 429) or code >= 500
                    errors.append(f"HTTP {code} {response.reason}")
            if accepted:
                yield SendResult(
                    message.delivery_id, provider_message_id=locations[0][:200], gone_endpoints=tuple(gone),
                    reached_endpoints=tuple(accepted),
                )
            else:
                outcome = TRANSIENT if transient else PERMANENT
                yield SendResult(message.delivery_id, outcome, "; ".join(errors)[:1000], gone_endpoints=tuple(gone))
