"""Provider capacity: how fast each provider may send, pacing every worker to it, and
the time it takes to reach everyone.

Each provider declares its capacity in PLANBLANC_CHANNELS: `rate` (messages per
second; an SMS link does 10–30/s, counted in SMS parts: a text longer than 160 GSM
characters, or 70 outside that alphabet, is several parts on the wire and takes as many
slots, see `Provider.parts`), or for voice `lines` (concurrent calls) and
`call_seconds` (expected length of a call, 60 by default): its rate is lines /
call_seconds. A provider without a declared capacity is not paced. `connections`
(default 1, at most 16) lets a worker send to one provider over that many connections
side by side, when one request at a time cannot reach the rate (an HTTP round trip of
50 ms caps one connection at 20/s); the rate stays the provider's.

Pacing is shared by all workers of all machines through the database, as a virtual
schedule (the generic cell rate algorithm): one row per provider holds the next free
sending slot, as seconds since the epoch. A worker reserves a few slots at a time with
one UPDATE (`next = max(next, now) + k / rate`) and sends each message at its own slot.
Two workers never get the same slot, so the provider never receives more than its
rate, however many workers run, and no capacity is left idle by a worker that has
nothing to send (as a fixed per-worker share would). The cost is one short UPDATE per
k messages (k ≈ a twentieth of a second's worth). Workers' clocks must agree (NTP), as
they do for leases.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max, Min
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from planblanc.alerting.channels.base import Provider, providers_for
from planblanc.alerting.models import Channel, Delivery, ProviderPace


def provider_rate(provider: Provider) -> float | None:
    """Messages per second this provider may take (None: not declared)."""
    options = provider.options
    try:
        if options.get("rate"):
            return max(0.001, float(options["rate"]))
        if options.get("lines"):
            return max(0.001, float(options["lines"]) / max(1.0, float(options.get("call_seconds", 60))))
    except (TypeError, ValueError):
        return None
    return None


def _reserve(name: str, rate: float, count: int) -> float:
    """Reserve `count` consecutive slots; returns the time of the first."""
    now = time.time()
    table = connection.ops.quote_name(ProviderPace._meta.db_table)
    step = count / rate
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET next_at = CASE WHEN next_at > %s THEN next_at ELSE %s END + %s "  # noqa: S608 - our own table
                "WHERE name = %s RETURNING next_at",
                [now, now, step, name],
            )
            row = cursor.fetchone()
        if row is None:
            try:
                with transaction.atomic():
                    ProviderPace.objects.create(name=name, next_at=now + step)
                return now
            except IntegrityError:
                return _reserve(name, rate, count)
    return float(row[0]) - step


class Pacer:
    """One worker process's use of one provider's schedule: `wait()` returns when the
    next message may go (False if that would be after `deadline`). Shared by the
    process's sending threads: slots reserved and not yet used go to the next message,
    whichever thread sends it, instead of being lost when a batch's thread ends."""

    def __init__(self, provider: Provider) -> None:
        self.name = provider.name[:100]
        self.rate = provider_rate(provider)
        self.slots: list[float] = []
        self.lock = threading.Lock()
        # Slots reserved per trip to the database: a twentieth of a second's worth.
        self.chunk = max(1, math.ceil((self.rate or 1) / 20))

    def wait(self, *, deadline: float | None = None, parts: int = 1) -> bool:
        """Wait for `parts` slots (a long SMS takes one per part); the message goes at
        the first of them."""
        if self.rate is None:
            return True
        parts = max(1, parts)
        with self.lock:
            # Slots left from an earlier batch and now past are dropped: sending them
            # late would crowd the provider above its rate.
            stale = time.time() - 0.5
            while self.slots and self.slots[0] < stale:
                self.slots.pop(0)
            if len(self.slots) < parts:
                # The slots still held count towards this message, the rest is reserved.
                count = max(self.chunk, parts - len(self.slots))
                first = _reserve(self.name, self.rate, count)
                self.slots += [first + i / self.rate for i in range(count)]
            slot = self.slots[0]
            if deadline is not None and slot > deadline:
                return False
            del self.slots[:parts]
        delay = slot - time.time()
        if delay > 0:
            time.sleep(delay)
        return True


_pacers: dict[str, Pacer] = {}
_pacers_lock = threading.Lock()


def pacer_for(provider: Provider) -> Pacer:
    """This process's pacer for a provider (the schedule itself is in the database,
    shared with every other process)."""
    with _pacers_lock:
        pacer = _pacers.get(provider.name)
        if pacer is None or pacer.rate != provider_rate(provider):
            pacer = _pacers[provider.name] = Pacer(provider)
        return pacer


# Time to reach everyone ------------------------------------------------------------------


@dataclass(frozen=True)
class ReachEstimate:
    channel: str
    messages: int
    providers: int
    rate: float | None  # messages per second, all providers together (None: unbounded)
    lines: int
    seconds: float | None
    parts: int = 1  # parts on the wire per message (a long SMS is several)

    @property
    def text(self) -> str:
        return reach_text(self)


def channel_rate(channel: str) -> tuple[float | None, int, int]:
    """(messages per second over all providers, providers, voice lines)."""
    providers = providers_for(channel)
    rates = [provider_rate(p) for p in providers]
    lines = sum(int(p.options.get("lines") or 0) for p in providers)
    if not providers or any(r is None for r in rates):
        return None, len(providers), lines
    return sum(r for r in rates if r is not None), len(providers), lines


def reach_estimate(counts: dict[str, int], *, parts: dict[str, int] | None = None) -> list[ReachEstimate]:
    """Per channel, how long the providers' declared capacity needs to take `counts`
    messages of `parts` parts each (1 unless said): all providers of a channel send at
    once, each at its own rate, counted in parts."""
    estimates = []
    for channel, count in counts.items():
        if not count:
            continue
        rate, providers, lines = channel_rate(channel)
        each = max(1, (parts or {}).get(channel, 1))
        estimates.append(ReachEstimate(
            channel=channel, messages=count, providers=providers, rate=rate, lines=lines,
            seconds=count * each / rate if rate else None, parts=each,
        ))
    return estimates


def message_parts(
    channel: str, *, title: str, text: str, is_exercise: bool = False, language: str = "fr", scope: str = "",
    answers: list[Any] | None = None,
) -> int:
    """Parts on the wire of one message of a campaign on this channel, as its providers
    would send it (the most any of them needs), for a typical recipient and
    acknowledgement link: what the preview and the campaign page count with."""
    from planblanc.alerting import answers as answer_set
    from planblanc.alerting.channels.base import OutgoingMessage
    from planblanc.alerting.templating import render, template_fill

    providers = providers_for(channel)
    if not providers:
        return 1
    ack_url = f"{settings.ALERTING_PUBLIC_URL}/ack/{'x' * 56}/"  # a signed token is ~56 characters
    values = {"name": "Prénom Nom", "establishment": scope, "title": title, "link": ""}
    try:
        rendered = render(
            title=template_fill(title, **values), text=template_fill(text, **values), language=language,
            is_exercise=is_exercise, ack_url=ack_url, scope=scope, short=True,
        )
    except (KeyError, IndexError, ValueError):
        return 1
    message = OutgoingMessage(
        delivery_id=0, idempotency_key="ABCDEFGH:0", message_id="", address="+33600000000", name="Prénom Nom",
        language=language, subject=rendered.subject, body=rendered.body, short_text=rendered.short_text,
        ack_url=ack_url, is_exercise=is_exercise,
        reply_hint=answer_set.sms_hint(answers, language=language) if answers else "",
    )
    return max(provider.parts(message) for provider in providers)


def duration_text(seconds: float) -> str:
    if seconds < 90:
        return _("~%(n)d s") % {"n": max(1, round(seconds))}
    if seconds < 90 * 60:
        return _("~%(n)d min") % {"n": round(seconds / 60)}
    return _("~%(h)d h %(m)02d") % {"h": int(seconds // 3600), "m": round(seconds % 3600 / 60) % 60}


def _number(value: int) -> str:
    return number_format(value, force_grouping=True)


def reach_text(item: ReachEstimate) -> str:
    """"2 000 SMS à 30/s sur 2 passerelles : ~34 s", "appels vocaux sur 30 lignes : ~67 min"."""
    label = str(Channel(item.channel).label) if item.channel in Channel.values else item.channel
    if item.seconds is None:
        return _("%(count)s × %(channel)s: capacity not declared") % {"count": _number(item.messages), "channel": label}
    if item.channel == Channel.VOICE and item.lines:
        return ngettext(
            "%(count)s voice calls on %(lines)d line: %(time)s", "%(count)s voice calls on %(lines)d lines: %(time)s",
            item.lines,
        ) % {"count": _number(item.messages), "lines": item.lines, "time": duration_text(item.seconds)}
    per_provider = (item.rate or 0) / item.providers if item.providers else item.rate
    text = ngettext(
        "%(count)s × %(channel)s at %(rate)s/s on %(providers)d provider: %(time)s",
        "%(count)s × %(channel)s at %(rate)s/s on %(providers)d providers: %(time)s",
        item.providers,
    ) % {
        "count": _number(item.messages), "channel": label, "rate": f"{per_provider:g}",
        "providers": item.providers, "time": duration_text(item.seconds),
    }
    if item.parts > 1:
        # The rate counts parts on the wire: a long SMS takes several.
        text = _("%(estimate)s (%(parts)d parts per message)") % {"estimate": text, "parts": item.parts}
    return text


def campaign_pace(*, campaign: Any) -> list[dict[str, Any]]:
    """Actual pace of a campaign against its estimate, per channel of a first step."""
    rows = (
        Delivery.objects.filter(campaign=campaign, step=0).exclude(channel="")
        .values("channel").annotate(total=Count("id"), sent=Count("sent_at"), first=Min("sent_at"), last=Max("sent_at"))
    )
    result = []
    for row in rows:
        parts = message_parts(
            row["channel"], title=campaign.title, text=campaign.message_fr, is_exercise=campaign.is_exercise,
            scope=str(campaign.establishment or campaign.region or ""), answers=campaign.answers or None,
        )
        estimate = reach_estimate({row["channel"]: row["total"]}, parts={row["channel"]: parts})[0]
        elapsed = (row["last"] - campaign.created_at).total_seconds() if row["last"] else None
        pace = row["sent"] / elapsed if elapsed and elapsed > 0 else None
        result.append({
            "channel": row["channel"], "total": row["total"], "sent": row["sent"], "elapsed": elapsed,
            "pace": pace, "estimate": estimate,
            "elapsed_text": duration_text(elapsed) if elapsed else "",
        })
    return result
