"""Webhooks: a JSON POST to an address, as a generic event or in the shape that
Mattermost, Slack (incoming webhooks) and Microsoft Teams (MessageCard) expect.

The address is the recipient's (a chat channel's incoming-webhook URL) or, failing
that, the provider's `url` option. Sent with the standard library (urllib): one POST
is all it takes, no client library needed.

Options: url, timeout (seconds, 10), headers (extra HTTP headers), username (the name
shown in Mattermost/Slack).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from typing import Any

from planblanc.alerting.channels.base import (
    PERMANENT,
    TRANSIENT,
    OutgoingMessage,
    Provider,
    SendResult,
    register,
)


@register
class WebhookProvider(Provider):
    kind = "webhook"
    channel = "webhook"

    def __init__(self, *, name: str, options: dict[str, Any]) -> None:
        super().__init__(name=name, options=options)
        self.url = self.option("url", "")
        self.timeout = float(self.option("timeout", 10))
        self.headers = dict(self.option("headers", {}) or {})
        self.username = self.option("username", "Plan Blanc Numérique")

    def payload(self, message: OutgoingMessage) -> dict[str, Any]:
        return {
            "event": "alert",
            "idempotency_key": message.idempotency_key,
            "message_id": message.message_id,
            "exercise": message.is_exercise,
            "language": message.language,
            "recipient": message.name,
            "subject": message.subject,
            "text": message.body,
            "ack_url": message.ack_url,
        }

    def send(self, messages: Iterable[OutgoingMessage]) -> Iterator[SendResult]:
        for message in messages:
            url = message.address or self.url
            if not url.startswith(("http://", "https://")):
                yield SendResult(message.delivery_id, PERMANENT, "no webhook address (http or https)")
                continue
            yield self._post(url, message)

    def _post(self, url: str, message: OutgoingMessage) -> SendResult:
        body = json.dumps(self.payload(message)).encode()
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
            url, data=body, method="POST",
            headers={
                "Content-Type": "application/json", "User-Agent": "planblanc-alerting",
                "Idempotency-Key": message.message_id, **self.headers,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                response.read(1024)
                return SendResult(message.delivery_id, provider_message_id=response.headers.get("X-Request-Id", ""))
        except urllib.error.HTTPError as exc:
            code = exc.code
            outcome = TRANSIENT if code == 429 or code >= 500 or code == 408 else PERMANENT
            return SendResult(message.delivery_id, outcome, f"HTTP {code} {exc.reason}")
        except (urllib.error.URLError, OSError) as exc:
            return SendResult(message.delivery_id, TRANSIENT, f"unreachable: {getattr(exc, 'reason', exc)}")


def _chat_text(message: OutgoingMessage, bold: str) -> str:
    return f"{bold}{message.subject}{bold}\n\n{message.body}"


@register
class MattermostProvider(WebhookProvider):
    kind = "mattermost"

    def payload(self, message: OutgoingMessage) -> dict[str, Any]:
        return {"text": _chat_text(message, "**"), "username": self.username}


@register
class SlackProvider(WebhookProvider):
    kind = "slack"

    def payload(self, message: OutgoingMessage) -> dict[str, Any]:
        return {"text": _chat_text(message, "*"), "username": self.username}


@register
class TeamsProvider(WebhookProvider):
    kind = "teams"

    def payload(self, message: OutgoingMessage) -> dict[str, Any]:
        card: dict[str, Any] = {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": message.subject,
            "title": message.subject,
            "text": message.body.replace("\n", "  \n"),
        }
        if message.ack_url:
            card["potentialAction"] = [{
                "@type": "OpenUri",
                "name": "OK" if message.language == "en" else "Accuser réception",
                "targets": [{"os": "default", "uri": message.ack_url}],
            }]
        return card
