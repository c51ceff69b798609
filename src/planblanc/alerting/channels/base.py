"""The contract every notification provider follows. Adding one: copy the nearest
module (email.py for a connection-oriented protocol, webhook.py for HTTP), edit, and
decorate the class with @register.

A *channel* is a way to reach a person (email, sms, voice, webhook). A *provider* is
one way to use a channel (an SMTP relay, a Kannel box, an SMPP link, a voice
platform…). Each deployment lists its providers per channel, in fallback order, in
settings.ALERTING_CHANNELS (env PLANBLANC_CHANNELS, JSON):

    {"email": [{"name": "relay", "kind": "smtp", "host": "…"}, {"name": "backup", "kind": "smtp", …}],
     "webhook": [{"name": "cell", "kind": "mattermost"}]}

A provider MUST:
- declare `kind` (the registry key used in settings) and `channel`;
- check its options in `__init__` and raise ImproperlyConfigured with a clear message;
- in `send(messages)`, consume the iterable lazily (the engine stops feeding it when the
  worker's lease on the rows nears its end) and yield one SendResult per message it
  took, *as soon as* the provider has answered for that message — the engine commits
  each result right away, which keeps the window in which a crash can repeat a message
  as small as the protocol allows;
- pass `message.message_id` to the far end when the protocol has such a field (email
  Message-ID, an HTTP Idempotency-Key header…), so that a re-send after a crash is
  recognisable as the same message;
- never touch the database: it receives plain OutgoingMessage values and returns
  plain results (the engine in services.py owns the rows, the audit and the retries).

A provider MAY raise, from `send`, for everything it has not yet answered for:
- TransientError: the provider is unreachable or busy (connection refused, timeout,
  4xx). The engine tries the next provider of the channel, or the same one later with
  exponential back-off, up to settings.ALERTING_MAX_ATTEMPTS attempts;
- PermanentError: this provider will never take these messages (bad credentials,
  5xx). The engine moves to the next provider, then to the recipient's next channel;
  when none is left the delivery ends "failed" with the reason.
Per-message errors are yielded as SendResult(outcome=TRANSIENT or PERMANENT, error=…).

Answers: when the campaign asks a question, `OutgoingMessage.answers` lists its
answers as (number, label) in the recipient's language, `reply_hint` says how to answer
by SMS and `keypad_prompt` by phone keypad. A channel that brings answers back (an SMS
keyword, a keypad digit, a push notification's action, a chat room reply) resolves who
answers (signed token, sender, subscription…) and calls
`services.recipient_answer(recipient=…, answer=<number>, via=<AckChannel>, minutes=…,
delivery=…)` — the one writer of answers, which also acknowledges.

`parse_receipt(request)` and `parse_reply(request)` turn a provider's callback (delivery
report, incoming SMS, keypad digit) into Receipt and Reply values; the default is
"this provider sends none".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest


class TransientError(Exception):
    """Try again later, or with another provider of the same channel."""


class PermanentError(Exception):
    """This provider will not take it: next provider, then next channel, then failed."""


SENT = "sent"
TRANSIENT = "transient"
PERMANENT = "permanent"


@dataclass(frozen=True)
class OutgoingMessage:
    """Everything a provider needs for one delivery, already rendered."""

    delivery_id: int
    idempotency_key: str
    message_id: str
    address: str
    name: str
    language: str
    subject: str
    body: str
    short_text: str
    ack_url: str
    is_exercise: bool
    # The campaign's question, if it asks one (alerting/answers.py): (number, label in
    # the recipient's language) — for buttons and actions (push, chat) that call
    # services.recipient_answer with that number.
    answers: tuple[tuple[int, str], ...] = ()
    # How to answer by SMS ("Repondez: 1 je viens (ex. 1 20 = dans 20 min), 2 …"), to be
    # sent instead of the plain "reply OK" hint; and the keypad menu of a call.
    reply_hint: str = ""
    keypad_prompt: str = ""
    # Web Push: every device of the person ({"endpoint", "keys": {"p256dh", "auth"}}),
    # looked up by the engine so that the provider stays away from the database.
    push_subscriptions: tuple[dict[str, Any], ...] = ()
    # Extra email headers (name, value): a phishing drill's allow-list mark.
    headers: tuple[tuple[str, str], ...] = ()
    # An HTML alternative of the body (already escaped by whoever wrote it), sent with the
    # plain text as multipart/alternative; "" for plain text only (every alert).
    html_body: str = ""


@dataclass(frozen=True)
class SendResult:
    delivery_id: int
    outcome: str = SENT
    error: str = ""
    provider_message_id: str = ""
    # Web Push: devices whose push service answered 404/410 (the engine removes them),
    # and those that took the message.
    gone_endpoints: tuple[str, ...] = ()
    reached_endpoints: tuple[str, ...] = ()


@dataclass(frozen=True)
class Receipt:
    """A provider's delivery report for a message it accepted earlier."""

    provider_message_id: str
    delivered: bool
    error: str = ""


@dataclass(frozen=True)
class Reply:
    """Something a recipient sent back (an SMS reply, a keypad digit)."""

    sender: str
    text: str
    provider_message_id: str = ""


class Provider:
    kind: ClassVar[str] = ""
    channel: ClassVar[str] = ""

    def __init__(self, *, name: str, options: dict[str, Any]) -> None:
        self.name = name
        self.options = options

    def send(self, messages: Iterable[OutgoingMessage]) -> Iterator[SendResult]:
        raise NotImplementedError

    def parts(self, message: OutgoingMessage) -> int:
        """How many units of the provider's declared capacity this message takes on the
        wire: 1, except for a long SMS, which goes as several concatenated parts (a
        provider's `rate` counts parts)."""
        return 1

    def parse_receipt(self, request: HttpRequest) -> list[Receipt]:
        return []

    def parse_reply(self, request: HttpRequest) -> list[Reply]:
        return []

    def option(self, key: str, default: Any = None, *, required: bool = False) -> Any:
        if required and not self.options.get(key):
            raise ImproperlyConfigured(f"alerting provider {self.name!r} ({self.kind}): option {key!r} is required")
        return self.options.get(key, default)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


REGISTRY: dict[str, type[Provider]] = {}


def register(cls: type[Provider]) -> type[Provider]:
    if not cls.kind or not cls.channel:
        raise TypeError(f"{cls.__name__} must declare kind and channel")
    REGISTRY[cls.kind] = cls
    return cls


def build_providers(config: dict[str, list[dict[str, Any]]]) -> dict[str, list[Provider]]:
    if not isinstance(config, dict):
        raise ImproperlyConfigured("PLANBLANC_CHANNELS must be a JSON object: {channel: [providers…]}")
    providers: dict[str, list[Provider]] = {}
    for channel, entries in config.items():
        built = []
        for position, entry in enumerate(entries or []):
            options = dict(entry)
            kind = options.pop("kind", "")
            name = options.pop("name", "") or f"{channel}-{position + 1}"
            cls = REGISTRY.get(kind)
            if cls is None:
                raise ImproperlyConfigured(
                    f"alerting provider {name!r}: unknown kind {kind!r} (known: {', '.join(sorted(REGISTRY))})"
                )
            if cls.channel != channel:
                raise ImproperlyConfigured(f"alerting provider {name!r}: kind {kind!r} sends {cls.channel}, not {channel}")
            built.append(cls(name=name, options=options))
        if built:
            providers[channel] = built
    return providers


@cache
def _cached(config_key: str) -> dict[str, list[Provider]]:
    return build_providers(json.loads(config_key))


def configured_providers() -> dict[str, list[Provider]]:
    """The deployment's providers, per channel, in fallback order."""
    return _cached(json.dumps(settings.ALERTING_CHANNELS, sort_keys=True))


def providers_for(channel: str) -> list[Provider]:
    return configured_providers().get(channel, [])
