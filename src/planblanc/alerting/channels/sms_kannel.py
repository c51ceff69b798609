"""SMS through Kannel's HTTP interface (smsbox `cgi-bin/sendsms`).

Each message is one GET to the smsbox, over one kept-alive connection. Delivery
reports come back through the `dlr-url` we pass with each message: a URL on this
platform carrying the delivery id, a signature of it (so that nobody else can mark a
message delivered) and Kannel's `%d` status. Replies (MO) come through an
`sms-service` whose `get-url` points at our reply endpoint with the shared `secret`:

    group = sms-service
    keyword = default
    get-url = "http://127.0.0.1:8000/sms/<provider name>/mo/?secret=<secret>&from=%p&to=%P&text=%a"
    max-messages = 0

The text is kept within the GSM 7-bit alphabet where it can be (curly quotes, non-
breaking spaces, ellipses and accents outside the alphabet are written plainly), sent
as UCS-2 only when something cannot be, and cut to `max_parts` concatenated parts —
keeping the EXERCICE mark at the start and the acknowledgement link at the end. The
sendsms-user's `max-messages` in Kannel must be at least `max_parts`.

Options: url (required, e.g. "http://127.0.0.1:13013/cgi-bin/sendsms"), username,
password, from (sender id, "PlanBlanc"), callback_url (where Kannel reaches this
platform, default PLANBLANC_PUBLIC_URL), secret (required for replies), smsc (route to
one SMSC id), dlr_mask (19: delivered, not delivered, refused by the SMSC),
max_parts (6), timeout (seconds, 10).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import math
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest

from planblanc.alerting.channels.base import (
    PERMANENT,
    TRANSIENT,
    OutgoingMessage,
    PermanentError,
    Provider,
    Receipt,
    Reply,
    SendResult,
    TransientError,
    register,
)

# GSM 03.38 basic alphabet and its extension table (each extension character takes two
# septets: an escape, then the character).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

# Characters that sneak in from word processors and have a plain GSM equivalent.
PLAIN = str.maketrans({
    "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " ", "\u2002": " ", "\u2003": " ",
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u2032": "'", "\u00b4": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2010": "-", "\u2011": "-",
    "\u2026": "...", "\u0153": "oe", "\u0152": "OE", "\t": " ", "\u00e7": "c",
})

SINGLE = {"gsm": 160, "ucs2": 70}
PART = {"gsm": 153, "ucs2": 67}


def sms_clean(text: str) -> str:
    """Write the text in the GSM 7-bit alphabet where a plain equivalent exists
    (ê → e, ’ → ', non-breaking space → space); leave what has none."""
    out = []
    for char in text.translate(PLAIN):
        if char in GSM7_BASIC or char in GSM7_EXTENSION:
            out.append(char)
            continue
        base = unicodedata.normalize("NFD", char)[0]
        out.append(base if base in GSM7_BASIC else char)
    return "".join(out)


def sms_encoding(text: str) -> str:
    return "gsm" if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text) else "ucs2"


def sms_units(text: str, encoding: str | None = None) -> int:
    """Septets (GSM) or UTF-16 code units (UCS-2) the text takes."""
    encoding = encoding or sms_encoding(text)
    if encoding == "gsm":
        return sum(2 if c in GSM7_EXTENSION else 1 for c in text)
    return len(text.encode("utf-16-le")) // 2


def sms_parts(text: str) -> int:
    """How many SMS the text is sent as (concatenated SMS carry a header: 153 septets
    or 67 UCS-2 characters each instead of 160 or 70)."""
    encoding = sms_encoding(text)
    units = sms_units(text, encoding)
    if units <= SINGLE[encoding]:
        return 1
    return math.ceil(units / PART[encoding])


def sms_fit(text: str, *, max_parts: int, keep_end: int = 0) -> str:
    """Cut the text to `max_parts` SMS, keeping its start (the EXERCICE mark) and its
    last `keep_end` characters (the acknowledgement link); "..." marks the cut."""
    if sms_parts(text) <= max_parts:
        return text
    encoding = sms_encoding(text)
    budget = SINGLE[encoding] if max_parts <= 1 else PART[encoding] * max_parts
    tail = text[len(text) - keep_end:] if keep_end else ""
    head = text[: len(text) - keep_end] if keep_end else text
    room = budget - sms_units(tail, encoding) - sms_units("... ", encoding)
    while head and sms_units(head, encoding) > room:
        head = head[: max(0, min(len(head) - 1, room))]
    return (head.rstrip() + "... " + tail.lstrip()) if tail else head.rstrip() + "..."


def dlr_signature(delivery_id: int | str) -> str:
    """Signs the delivery id in the dlr-url: only Kannel, who got the URL from us, can
    report on that message."""
    key = f"{settings.SECRET_KEY}:kannel-dlr".encode()
    return hmac.new(key, str(delivery_id).encode(), hashlib.sha256).hexdigest()[:32]


def provider_message_id(delivery_id: int | str) -> str:
    return f"kannel:{delivery_id}"


# Kannel's dlr-url %d: 1 delivered to the phone, 2 not delivered to the phone, 4 queued
# on the SMSC, 8 accepted by the SMSC, 16 refused by the SMSC.
DLR_DELIVERED = 1
DLR_FAILED = (2, 16)


@register
class KannelProvider(Provider):
    kind = "kannel"
    channel = "sms"

    def __init__(self, *, name: str, options: dict[str, Any]) -> None:
        super().__init__(name=name, options=options)
        self.url = self.option("url", required=True)
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ImproperlyConfigured(f"alerting provider {name!r} (kannel): url must be http(s)://host:port/cgi-bin/sendsms")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.path = parts.path or "/cgi-bin/sendsms"
        self.username = self.option("username", "")
        self.password = self.option("password", "")
        self.sender = self.option("from", "PlanBlanc")
        self.callback_url = (self.option("callback_url", "") or settings.ALERTING_PUBLIC_URL).rstrip("/")
        self.secret = str(self.option("secret", "") or "")
        self.smsc = self.option("smsc", "")
        self.dlr_mask = int(self.option("dlr_mask", 19))
        self.max_parts = max(1, int(self.option("max_parts", 6)))
        self.timeout = float(self.option("timeout", 10))

    # Sending ---------------------------------------------------------------------------

    def text(self, message: OutgoingMessage) -> str:
        """The SMS as sent: plain GSM where possible, the reply hint, within max_parts."""
        code = message.idempotency_key.split(":", 1)[0]
        if message.reply_hint:  # the campaign asks a question: how to answer it
            hint = " " + sms_clean(message.reply_hint)
        else:
            hint = f" Reply OK {code}" if message.language == "en" else f" Repondez OK {code}"
        text = sms_clean(message.short_text) + hint
        keep = len(hint)
        if message.ack_url and message.ack_url in text:
            url_at = text.rfind(message.ack_url)
            # Keep the link and the word or two before it ("Accuser reception:").
            label_at = text.rfind(" ", 0, max(0, text.rfind(" ", 0, max(0, url_at - 1))))
            keep = len(text) - (label_at if label_at > 0 else url_at)
        return sms_fit(text, max_parts=self.max_parts, keep_end=keep)

    def parts(self, message: OutgoingMessage) -> int:
        return sms_parts(self.text(message))

    def params(self, message: OutgoingMessage) -> dict[str, str]:
        text = self.text(message)
        ucs2 = sms_encoding(text) == "ucs2"
        dlr_url = (
            f"{self.callback_url}/sms/{self.name}/dlr/?d={message.delivery_id}"
            f"&sig={dlr_signature(message.delivery_id)}&status=%d"
        )
        params = {
            "username": self.username, "password": self.password, "from": self.sender, "to": message.address,
            "text": text, "charset": "UTF-8", "coding": "2" if ucs2 else "0",
            "dlr-mask": str(self.dlr_mask), "dlr-url": dlr_url,
        }
        if self.smsc:
            params["smsc"] = self.smsc
        return params

    def _connect(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        return cls(self.host, self.port, timeout=self.timeout)

    def send(self, messages: Iterable[OutgoingMessage]) -> Iterator[SendResult]:
        conn = self._connect()
        try:
            for message in messages:
                if not message.address.lstrip("+").isdigit():
                    yield SendResult(message.delivery_id, PERMANENT, f"not a phone number: {message.address!r}")
                    continue
                query = f"{self.path}?{urlencode(self.params(message))}"
                status, body = self._get(conn, query)
                if status is None:
                    # Kannel is down or unreachable: nothing was taken for this message.
                    conn.close()
                    raise TransientError(f"Kannel {self.host}:{self.port} unreachable: {body}")
                if status in (200, 202):
                    yield SendResult(message.delivery_id, provider_message_id=provider_message_id(message.delivery_id))
                elif status in (401, 403):
                    raise PermanentError(f"Kannel refused the credentials: HTTP {status} {body}")
                elif status >= 500 or status in (408, 429):
                    yield SendResult(message.delivery_id, TRANSIENT, f"Kannel HTTP {status} {body}")
                else:
                    yield SendResult(message.delivery_id, PERMANENT, f"Kannel HTTP {status} {body}")
        finally:
            conn.close()

    def _get(self, conn: http.client.HTTPConnection, query: str) -> tuple[int | None, str]:
        # One retry on a kept-alive connection that the smsbox closed in between: the
        # request was not read, so it is not a repeat.
        for attempt in (1, 2):
            try:
                conn.request("GET", query, headers={"Connection": "keep-alive"})
                response = conn.getresponse()
                body = response.read(2000).decode("utf-8", "replace").strip()
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                return response.status, body
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                conn.close()
                if attempt == 2:
                    return None, str(exc)
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                return None, str(exc)
        return None, "no answer"

    # Callbacks -----------------------------------------------------------------------

    def parse_receipt(self, request: HttpRequest) -> list[Receipt]:
        """Kannel's call to our dlr-url. PermissionDenied if the signature is wrong."""
        delivery_id = request.GET.get("d", "")
        if not delivery_id.isdigit() or not hmac.compare_digest(request.GET.get("sig", ""), dlr_signature(delivery_id)):
            raise PermissionDenied("bad delivery report signature")
        try:
            status = int(request.GET.get("status", ""))
        except ValueError:
            return []
        if status & DLR_DELIVERED:
            return [Receipt(provider_message_id(delivery_id), delivered=True)]
        if status in DLR_FAILED or status & 2 or status & 16:
            return [Receipt(provider_message_id(delivery_id), delivered=False, error=f"Kannel DLR status {status}")]
        return []  # queued on, or accepted by, the SMSC: not news for the recipient yet

    def parse_reply(self, request: HttpRequest) -> list[Reply]:
        """Kannel's call to the sms-service get-url. PermissionDenied without the secret."""
        given = request.GET.get("secret", "") or request.POST.get("secret", "")
        if not self.secret or not hmac.compare_digest(given, self.secret):
            raise PermissionDenied("bad or missing secret")
        data = request.GET if "from" in request.GET else request.POST
        sender = data.get("from", "").strip()
        if not sender:
            return []
        return [Reply(sender=sender, text=data.get("text", ""))]
