"""Voice calls: the message read out by text-to-speech, in French (or English for
those who chose it), ending with "press 1 to acknowledge".

Two providers:
- `voice_http`: a generic voice platform reached by a JSON POST to its `url`:
  {"call_id", "to", "language" (fr-FR/en-GB), "text", "ack_digit": "1",
  "callback_url"}. The platform answers 2xx (optionally {"call_id": …}), places the
  call, then POSTs to `callback_url` the outcome: {"call_id", "status"
  (completed/answered/busy/no-answer/failed), "digits"}. The callback URL carries a
  signed token naming the delivery: it is the credential (views in voice_views.py).
  Options: url (required), timeout (seconds, 10), headers (extra HTTP headers, for the
  platform's API key).
- `voice_log`: writes the call to the log and reports it sent (demonstrations).
"""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest
from django.urls import reverse

from planblanc.alerting.channels.base import (
    PERMANENT,
    TRANSIENT,
    OutgoingMessage,
    Provider,
    Receipt,
    Reply,
    SendResult,
    TransientError,
    register,
)
from planblanc.alerting.templating import EXERCISE_MARK

logger = logging.getLogger(__name__)

CALLBACK_SALT = "planblanc.alerting.voice"
ACK_DIGIT = "1"
PROMPT = {"fr": "Appuyez sur 1 pour confirmer la réception.", "en": "Press 1 to confirm receipt."}
LANGUAGE_TAGS = {"fr": "fr-FR", "en": "en-GB"}
DELIVERED_STATUSES = frozenset({"answered", "completed"})
FAILED_STATUSES = frozenset({"busy", "no-answer", "failed", "canceled", "cancelled", "rejected"})

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_ACK_LEAD = re.compile(r"\s*(Accuser r[ée]ception|Acknowledge)\s*:?\s*$", re.IGNORECASE)
_TIME = re.compile(r"\b([01]?\d|2[0-3])\s?[hH:]\s?([0-5]\d)\b")
_PHONE = re.compile(r"(?<!\d)(?:\+33\s?|0)[1-9](?:[\s.-]?\d{2}){4}(?!\d)")
_LONG_NUMBER = re.compile(r"\b\d{5,}\b")
_WORDS = {
    "fr": [(re.compile(r"\bn°\s?", re.I), "numéro "), (re.compile(r"\s?%"), " pour cent"),
           (re.compile(r"\s?&\s?"), " et "), (re.compile(r"\bh24\b", re.I), "24 heures sur 24")],
    "en": [(re.compile(r"\bno\.\s?", re.I), "number "), (re.compile(r"\s?%"), " percent"),
           (re.compile(r"\s?&\s?"), " and ")],
}


def _digits_spoken(number: str, *, pairs: bool) -> str:
    digits = re.sub(r"\D", "", number.replace("+33", "0"))
    if pairs:  # French phone numbers are read two digits at a time
        return ", ".join(digits[i:i + 2] for i in range(0, len(digits), 2))
    return " ".join(digits)


def speech_text(*, text: str, language: str, is_exercise: bool, prompt: str = "") -> str:
    """The campaign text as it should be read out: no web addresses, times and phone
    numbers in the words a speaker would use, said twice, exercises announced first,
    then the keypad prompt."""
    language = "en" if language == "en" else "fr"
    text = _URL.sub("", text.replace(EXERCISE_MARK, ""))
    text = _ACK_LEAD.sub("", text)
    hour_word = "heures" if language == "fr" else "hours"
    text = _TIME.sub(lambda m: f"{int(m[1])} {hour_word} {m[2]}" if m[2] != "00" else f"{int(m[1])} {hour_word}", text)
    text = _PHONE.sub(lambda m: _digits_spoken(m[0], pairs=True), text)
    text = _LONG_NUMBER.sub(lambda m: _digits_spoken(m[0], pairs=False), text)
    for pattern, words in _WORDS[language]:
        text = pattern.sub(words, text)
    text = re.sub(r"\s+", " ", text).strip(" :")
    if text and text[-1] not in ".!?":
        text += "."
    mark = f"{EXERCISE_MARK}. " if is_exercise else ""
    again = "Je répète. " if language == "fr" else "I repeat. "
    return f"{mark}{text} {again}{mark}{text} {prompt or PROMPT[language]}"


def callback_token(delivery_id: int) -> str:
    return signing.TimestampSigner(salt=CALLBACK_SALT).sign(str(delivery_id))


def callback_delivery_id(token: str, *, max_age_hours: int | None = None) -> int:
    """The delivery a callback is about, or PermissionDenied for a forged or stale token."""
    hours = max_age_hours if max_age_hours is not None else settings.ALERTING_ACK_MAX_AGE_HOURS
    try:
        return int(signing.TimestampSigner(salt=CALLBACK_SALT).unsign(token, max_age=hours * 3600))
    except (signing.BadSignature, ValueError) as exc:
        raise PermissionDenied("invalid voice callback token") from exc


class VoiceProvider(Provider):
    """What voice providers share: the spoken text, the callback address, and the
    reading of the platform's callback."""

    channel = "voice"

    def callback_url(self, message: OutgoingMessage) -> str:
        path = reverse("alerting:voice_callback", args=[self.name, callback_token(message.delivery_id)])
        return settings.ALERTING_PUBLIC_URL + path

    def call_payload(self, message: OutgoingMessage) -> dict[str, Any]:
        language = "en" if message.language == "en" else "fr"
        return {
            "call_id": message.idempotency_key,
            "to": message.address,
            "language": LANGUAGE_TAGS[language],
            "text": speech_text(
                text=message.short_text, language=language, is_exercise=message.is_exercise,
                prompt=message.keypad_prompt,
            ),
            "ack_digit": ACK_DIGIT,
            "callback_url": self.callback_url(message),
        }

    @staticmethod
    def _payload(request: HttpRequest) -> dict[str, Any]:
        if request.content_type == "application/json":
            try:
                data = json.loads(request.body or b"{}")
            except ValueError:
                return {}
            return data if isinstance(data, dict) else {}
        return {key: request.POST.get(key, "") for key in request.POST}

    def parse_receipt(self, request: HttpRequest) -> list[Receipt]:
        data = self._payload(request)
        status = str(data.get("status", "")).lower()
        if status not in DELIVERED_STATUSES | FAILED_STATUSES:
            return []
        return [Receipt(
            provider_message_id=str(data.get("call_id", "")), delivered=status in DELIVERED_STATUSES,
            error="" if status in DELIVERED_STATUSES else f"call {status}",
        )]

    def parse_reply(self, request: HttpRequest) -> list[Reply]:
        data = self._payload(request)
        digits = str(data.get("digits", "") or "").strip()
        if not digits:
            return []
        return [Reply(sender=str(data.get("to", "")), text=digits, provider_message_id=str(data.get("call_id", "")))]


@register
class HttpVoiceProvider(VoiceProvider):
    kind = "voice_http"

    def __init__(self, *, name: str, options: dict[str, Any]) -> None:
        super().__init__(name=name, options=options)
        self.url = self.option("url", required=True)
        if not str(self.url).startswith(("http://", "https://")):
            raise ImproperlyConfigured(f"alerting provider {name!r} (voice_http): url must be http or https")
        self.timeout = float(self.option("timeout", 10))
        self.headers = dict(self.option("headers", {}) or {})

    def send(self, messages: Iterable[OutgoingMessage]) -> Iterator[SendResult]:
        for message in messages:
            if not message.address:
                yield SendResult(message.delivery_id, PERMANENT, "no phone number")
                continue
            yield self._call(message)

    def _call(self, message: OutgoingMessage) -> SendResult:
        payload = self.call_payload(message)
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self.url, data=json.dumps(payload).encode(), method="POST",
            headers={
                "Content-Type": "application/json", "User-Agent": "planblanc-alerting",
                "Idempotency-Key": message.message_id, **self.headers,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = response.read(4096)
        except urllib.error.HTTPError as exc:
            code = exc.code
            outcome = TRANSIENT if code in (408, 429) or code >= 500 else PERMANENT
            return SendResult(message.delivery_id, outcome, f"HTTP {code} {exc.reason}")
        except (urllib.error.URLError, OSError) as exc:
            # The platform is down: every message not yet answered for goes back to
            # the engine (next provider, or later with back-off).
            raise TransientError(f"voice platform unreachable: {getattr(exc, 'reason', exc)}") from exc
        try:
            answer = json.loads(body or b"{}")
        except ValueError:
            answer = {}
        call_id = str(answer.get("call_id", "") if isinstance(answer, dict) else "") or payload["call_id"]
        return SendResult(message.delivery_id, provider_message_id=call_id[:200])


@register
class LogVoiceProvider(VoiceProvider):
    kind = "voice_log"

    def send(self, messages: Iterable[OutgoingMessage]) -> Iterator[SendResult]:
        for message in messages:
            payload = self.call_payload(message)
            logger.info("voice call to %s (%s): %s", message.address, payload["language"], payload["text"])
            yield SendResult(message.delivery_id, provider_message_id=payload["call_id"])
