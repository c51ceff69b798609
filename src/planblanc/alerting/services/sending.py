"""Claiming and sending deliveries: leases, providers, retries and fallbacks.

Nothing lost: `campaign_create` writes the campaign, its recipients and every delivery
row in one transaction, and only wakes workers once that is committed. Nothing twice:
a worker claims due rows with a lease (SKIP LOCKED on PostgreSQL, a conditional UPDATE
under SQLite's write lock), hands them to a provider one by one and commits each
result as soon as the provider has answered for it. The one window that no protocol
without a query-by-id can close — the relay said 250 and the worker died before its
commit — is kept to a single row UPDATE, and the re-sent message carries the same
Message-ID as the first."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from planblanc.alerting import answers as answer_set
from planblanc.alerting.capacity import pacer_for, provider_rate
from planblanc.alerting.channels.base import (
    PERMANENT,
    SENT,
    TRANSIENT,
    OutgoingMessage,
    PermanentError,
    Provider,
    SendResult,
    TransientError,
    providers_for,
)
from planblanc.alerting.models import (
    Campaign,
    Channel,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Priority,
)
from planblanc.alerting.push import push_results_record, subscriptions_for
from planblanc.alerting.services.acknowledgements import ack_link_make
from planblanc.alerting.services.campaigns import campaign_finish_if_done
from planblanc.alerting.services.receipts import RECEIPT_CHANNELS, receipts_apply
from planblanc.alerting.templating import render, template_fill
from planblanc.core.heartbeat import dead_worker_ids, heartbeat_fresh

logger = logging.getLogger(__name__)


def _due_q(now: datetime) -> Q:
    """Queued and due, or claimed by a worker that is gone: its lease ran out, or its
    heartbeat stopped (a killed worker's rows go on within seconds, not at lease end)."""
    return (
        Q(status=DeliveryStatus.QUEUED, next_attempt_at__lte=now)
        | Q(status=DeliveryStatus.SENDING, lease_until__lt=now)
        | Q(status=DeliveryStatus.SENDING, lease_owner__in=dead_worker_ids())
    )


@dataclass
class Claimed:
    deliveries: list[Delivery]
    lease_until: datetime
    # Rows found "sending" under an expired lease: their worker died mid-send.
    reclaimed_ids: set[int]
    # Every row of a claim has the same priority (Priority.URGENT unless all are bulk).
    priority: int = Priority.URGENT


def deliveries_claim(*, worker_id: str, limit: int = 200, lease_seconds: int | None = None) -> Claimed:
    """Lease up to `limit` due deliveries to this worker. Several workers may call this
    at once: a row goes to one of them only. Urgent rows come first, and a claim holds
    rows of one priority only: an alert's batch never waits behind bulk messages."""
    now = timezone.now()
    lease_until = now + timedelta(seconds=lease_seconds or settings.ALERTING_LEASE_SECONDS)
    with transaction.atomic():
        due = Delivery.objects.filter(_due_q(now)).order_by("priority", "next_attempt_at", "id")
        if connection.vendor == "postgresql":
            due = due.select_for_update(skip_locked=True, of=("self",))
        # On SQLite the transaction began with BEGIN IMMEDIATE: we hold the write lock,
        # and the UPDATE below re-checks the condition anyway.
        found = list(due.values_list("id", "status", "priority")[:limit])
        priority = found[0][2] if found else Priority.URGENT
        found = [(pk, status) for pk, status, row_priority in found if row_priority == priority]
        ids = [pk for pk, _status in found]
        if ids:
            Delivery.objects.filter(pk__in=ids).filter(_due_q(now)).update(
                status=DeliveryStatus.SENDING, lease_owner=worker_id, lease_until=lease_until, updated_at=now
            )
    rows = list(
        Delivery.objects.filter(pk__in=ids, lease_owner=worker_id, lease_until=lease_until)
        .select_related("recipient").order_by("id")
    ) if ids else []
    # One campaign object per campaign, not one per row.
    campaigns = Campaign.objects.select_related("establishment", "region").in_bulk(
        {row.campaign_id for row in rows}
    )
    for row in rows:
        row.campaign = campaigns[row.campaign_id]
    return Claimed(
        deliveries=rows, lease_until=lease_until,
        reclaimed_ids={pk for pk, status in found if status == DeliveryStatus.SENDING}, priority=priority,
    )


# How often a bulk batch looks for a due urgent row (an indexed EXISTS, well under 1 ms).
URGENT_LOOK_SECONDS = 0.5


def urgent_due() -> bool:
    """An urgent delivery waits to be sent (read by a bulk batch between two messages)."""
    return Delivery.objects.filter(
        status=DeliveryStatus.QUEUED, priority=Priority.URGENT, next_attempt_at__lte=timezone.now()
    ).exists()


# Sending ---------------------------------------------------------------------------------


def backoff_seconds(attempts: int) -> float:
    base = settings.ALERTING_RETRY_BASE_SECONDS
    return float(min(settings.ALERTING_RETRY_MAX_SECONDS, base * 2 ** max(0, attempts - 1)))


def outgoing_message(delivery: Delivery) -> OutgoingMessage:
    campaign = delivery.campaign
    recipient = delivery.recipient
    language = "en" if recipient.language == "en" and campaign.message_en else "fr"
    template = campaign.message_en if language == "en" else campaign.message_fr
    scope = str(campaign.establishment or campaign.region)
    values = {"name": recipient.name, "establishment": recipient.establishment_name or scope, "title": campaign.title,
              "link": (recipient.values or {}).get("link", "")}
    ack_url = ack_link_make(delivery=delivery)
    answers = campaign.answers or []
    with translation.override(language):
        choices = tuple((choice.number, choice.label) for choice in answer_set.choices_of(answers))
    rendered = render(
        title=template_fill(campaign.title, **values), text=template_fill(template, **values),
        language=recipient.language, is_exercise=campaign.is_exercise, ack_url=ack_url, scope=scope,
        short=delivery.channel in (Channel.SMS, Channel.VOICE, Channel.PUSH),
    )
    subscriptions: tuple[dict[str, Any], ...] = ()
    if delivery.channel == Channel.PUSH and recipient.person_id:
        subscriptions = subscriptions_for(person_id=recipient.person_id)
    return OutgoingMessage(
        delivery_id=delivery.pk, idempotency_key=delivery.idempotency_key, message_id=delivery.message_id,
        address=delivery.address, name=recipient.name, language=recipient.language, subject=rendered.subject,
        body=rendered.body, short_text=rendered.short_text, ack_url=ack_url, is_exercise=campaign.is_exercise,
        answers=choices,
        reply_hint=answer_set.sms_hint(answers, language=language) if answers else "",
        keypad_prompt=answer_set.voice_prompt(answers, language=language) if answers else "",
        push_subscriptions=subscriptions,
    )


def _spread(deliveries: list[Delivery], providers: list[Provider]) -> None:
    """First attempts of a channel whose providers all declare a capacity go to all of
    them at once, in proportion to their rates (a weighted round robin); retries keep
    the fallback order."""
    rates = [provider_rate(p) for p in providers]
    if len(providers) < 2 or any(r is None for r in rates):
        return
    credit = [0.0] * len(providers)
    total = sum(r for r in rates if r is not None)
    for delivery in deliveries:
        if delivery.attempts or delivery.refused_by or delivery.provider_index:
            continue
        for i, rate in enumerate(rates):
            credit[i] += (rate or 0) / total
        chosen = max(range(len(providers)), key=lambda i: credit[i])
        credit[chosen] -= 1
        delivery.provider_index = chosen


def delivery_send_batch(*, claimed: Claimed, worker_id: str, stop: threading.Event | None = None) -> int:
    """Send claimed deliveries, grouped by channel and provider; returns how many went.
    The providers of a channel send in parallel (one thread each), each at its rate."""
    by_channel: dict[str, list[Delivery]] = {}
    for delivery in claimed.deliveries:
        by_channel.setdefault(delivery.channel, []).append(delivery)
    jobs: list[tuple[Provider, list[Provider], list[Delivery]]] = []
    for channel, rows in by_channel.items():
        providers = providers_for(channel)
        if not providers:
            for delivery in rows:
                _fail_step(delivery, worker_id=worker_id, reason=f"no provider configured for {channel}")
            continue
        _spread(rows, providers)
        groups: dict[int, list[Delivery]] = {}
        for delivery in rows:
            groups.setdefault(delivery.provider_index % len(providers), []).append(delivery)
        for index, deliveries in groups.items():
            # A provider may take several messages at once (`connections`): its share is
            # cut into that many parts sent side by side, still at its one rate.
            provider = providers[index]
            parts = max(1, min(int(provider.options.get("connections", 1) or 1), 16, len(deliveries)))
            jobs += [(provider, providers, deliveries[i::parts]) for i in range(parts)]

    def run(job: tuple[Provider, list[Provider], list[Delivery]]) -> int:
        provider, providers, deliveries = job
        return _send_group(provider, providers, deliveries, claimed=claimed, worker_id=worker_id, stop=stop)

    # Threads need their own database connections, which cannot see the rows of a
    # transaction still open on this one (callers that hold a transaction). SQLite
    # (one writer at a time, the laptop deployment) sends one provider after the other.
    if len(jobs) > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block:
        def in_thread(job: tuple[Provider, list[Provider], list[Delivery]]) -> int:
            try:
                return run(job)
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="send") as pool:
            sent = sum(pool.map(in_thread, jobs))
    else:
        sent = sum(run(job) for job in jobs)
    for campaign_id in {d.campaign_id for d in claimed.deliveries}:
        campaign_finish_if_done(campaign_id)
    return sent


def _send_group(
    provider: Provider, providers: list[Provider], deliveries: list[Delivery], *, claimed: Claimed, worker_id: str,
    stop: threading.Event | None = None,
) -> int:
    by_id = {d.pk: d for d in deliveries}
    handed: dict[int, float] = {}
    answered: set[int] = set()
    lease_margin = max(1.0, settings.ALERTING_LEASE_SECONDS / 4)
    pacer = pacer_for(provider)
    pace_deadline = claimed.lease_until.timestamp() - lease_margin
    bulk_batch = claimed.priority != Priority.URGENT
    next_look = time.monotonic() + URGENT_LOOK_SECONDS

    def feed() -> Iterator[OutgoingMessage]:
        nonlocal next_look
        for delivery in deliveries:
            # Stop before the lease runs out (another worker may then take the rest), or
            # when asked to stop: between two messages, never inside one.
            if (claimed.lease_until - timezone.now()).total_seconds() < lease_margin:
                return
            if stop is not None and stop.is_set():
                return
            # A bulk batch gives way to an alert: the rest of it goes back to the queue,
            # and the next claim takes the urgent rows first.
            if bulk_batch and time.monotonic() >= next_look:
                next_look = time.monotonic() + URGENT_LOOK_SECONDS
                if urgent_due():
                    return
            # A heartbeat this late lets another worker take the rest over: stop first.
            if not heartbeat_fresh():
                return
            try:
                message = outgoing_message(delivery)
            except (KeyError, IndexError, ValueError) as exc:
                _fail_step(delivery, worker_id=worker_id, reason=f"message could not be written: {exc}")
                answered.add(delivery.pk)
                continue
            # The provider's declared rate, shared with every other worker, counted in
            # parts on the wire (a long SMS is several).
            if not pacer.wait(deadline=pace_deadline, parts=provider.parts(message)):
                return
            # The pace may have slept: the heartbeat again, right before the message goes.
            if not heartbeat_fresh():
                return
            handed[delivery.pk] = time.monotonic()
            yield message

    sent = 0
    error: Exception | None = None
    sent_log: list[DeliveryAttempt] = []
    try:
        for result in provider.send(feed()):
            delivery = by_id.get(result.delivery_id)
            if delivery is None or delivery.pk in answered:
                continue
            answered.add(delivery.pk)
            _record(delivery, result, provider, providers, worker_id=worker_id, sent_log=sent_log,
                    started=handed.get(delivery.pk), reclaimed=delivery.pk in claimed.reclaimed_ids)
            sent += result.outcome == SENT
    except (TransientError, PermanentError) as exc:
        error = exc
    except Exception as exc:  # a provider bug must not leave rows leased for nothing
        logger.exception("provider %s failed", provider.name)
        error = TransientError(f"{type(exc).__name__}: {exc}")
    finally:
        # The sends themselves are committed one by one; their log can go in bulk.
        with transaction.atomic():
            no_wait_for_disk()
            DeliveryAttempt.objects.bulk_create(sent_log, batch_size=500)
    for delivery in deliveries:
        if delivery.pk in answered:
            continue
        if error is not None:
            outcome = PERMANENT if isinstance(error, PermanentError) else TRANSIENT
            _record(delivery, SendResult(delivery.pk, outcome, str(error)[:1000]), provider, providers,
                    worker_id=worker_id, started=handed.get(delivery.pk),
                    reclaimed=delivery.pk in claimed.reclaimed_ids)
        elif delivery.pk in handed:
            _record(delivery, SendResult(delivery.pk, TRANSIENT, "the provider gave no answer"), provider,
                    providers, worker_id=worker_id, started=handed[delivery.pk],
                    reclaimed=delivery.pk in claimed.reclaimed_ids)
        else:
            # Never handed to the provider (lease nearly over): back to the queue as is.
            Delivery.objects.filter(pk=delivery.pk, lease_owner=worker_id, status=DeliveryStatus.SENDING).update(
                status=DeliveryStatus.QUEUED, lease_owner="", lease_until=None, next_attempt_at=timezone.now()
            )
    return sent


def no_wait_for_disk() -> None:
    """On PostgreSQL, let this transaction's commit return before its WAL reaches the
    disk. A worker that dies loses nothing by it (the commit is done on the server);
    only a crash of the database server itself may forget the last few hundred
    milliseconds of "sent" marks, and those messages are then sent again, with the same
    Message-ID — never dropped. Without it a campaign waits for one disk flush per
    message."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _mark_sent(delivery_id: int, *, worker_id: str, provider: str, provider_message_id: str, now: datetime) -> bool:
    """The commit that closes the window in which a crash would repeat a message: one
    UPDATE, committed on its own, as soon as the provider has accepted.
    Prepared SQL, because the ORM's query building would widen the window; the attempt
    row and the rest of the bookkeeping follow."""
    ops = connection.ops
    with transaction.atomic(), connection.cursor() as cursor:
        no_wait_for_disk()
        cursor.execute(
            f"UPDATE {Delivery._meta.db_table} SET status = %s, sent_at = %s, updated_at = %s, provider = %s, "  # noqa: S608 - our own table name
            "provider_message_id = %s, attempts = attempts + 1, lease_owner = '', lease_until = NULL, "
            "last_error = '' WHERE id = %s AND lease_owner = %s AND status = %s",
            [
                "sent", ops.adapt_datetimefield_value(now), ops.adapt_datetimefield_value(now),
                provider[:100], provider_message_id[:200], delivery_id, worker_id, "sending",
            ],
        )
        return cursor.rowcount == 1


def _record(
    delivery: Delivery, result: SendResult, provider: Provider, providers: list[Provider], *,
    worker_id: str, started: float | None, reclaimed: bool, sent_log: list[DeliveryAttempt] | None = None,
) -> None:
    """Apply one provider answer to its delivery. Attempts that sent are appended to
    `sent_log` (written in bulk by the caller) rather than written one by one."""
    now = timezone.now()
    if delivery.channel == Channel.PUSH:
        push_results_record(result=result, now=now)
    marked = result.outcome == SENT and _mark_sent(
        delivery.pk, worker_id=worker_id, provider=provider.name,
        provider_message_id=result.provider_message_id, now=now,
    )
    duration_ms = int((time.monotonic() - started) * 1000) if started else 0
    attempt = DeliveryAttempt(
        delivery_id=delivery.pk, provider=provider.name, worker=worker_id[:100],
        started_at=now - timedelta(milliseconds=duration_ms), ended_at=now, duration_ms=duration_ms,
        outcome=result.outcome, error=result.error[:2000], provider_message_id=result.provider_message_id[:200],
        after_lost_lease=reclaimed,
    )
    if result.outcome == SENT:
        if not marked:
            logger.warning("delivery %s: lease lost before its result was recorded", delivery.pk)
        elif delivery.channel in RECEIPT_CHANNELS and result.provider_message_id:
            # A report that overtook this commit is waiting for it.
            receipts_apply(channel=delivery.channel, provider_message_id=result.provider_message_id[:200])
        if sent_log is None:
            attempt.save()
        else:
            sent_log.append(attempt)
        if len(delivery.recipient.channels) > delivery.step + 1:
            Delivery.objects.filter(recipient_id=delivery.recipient_id, status=DeliveryStatus.HELD).update(
                status=DeliveryStatus.CANCELLED, reason=f"reached by {delivery.channel}", updated_at=now
            )
        return

    mine = Delivery.objects.filter(pk=delivery.pk, lease_owner=worker_id, status=DeliveryStatus.SENDING)
    attempts = delivery.attempts + 1
    refused = list(delivery.refused_by)
    if result.outcome == PERMANENT and provider.name not in refused:
        refused.append(provider.name)
    candidates = [i for i, p in enumerate(providers) if p.name not in refused]
    current = delivery.provider_index % len(providers)
    reason = f"{provider.name}: {result.error}"[:300]
    if not candidates:
        _fail_step(delivery, worker_id=worker_id, reason=reason, attempt=attempt, attempts=attempts)
        return
    if attempts >= settings.ALERTING_MAX_ATTEMPTS:
        _fail_step(
            delivery, worker_id=worker_id, attempt=attempt, attempts=attempts,
            # Reasons are stored as written by the machine (like the providers' errors).
            reason=f"gave up after {attempts} attempts — {reason}"[:300],
        )
        return
    after = [i for i in candidates if i > current]
    next_index = after[0] if after else candidates[0]
    # A provider not yet tried in this round is tried at once; a new round waits.
    delay = 0.0 if next_index > current else backoff_seconds(attempts)
    with transaction.atomic():
        mine.update(
            status=DeliveryStatus.QUEUED, attempts=attempts, provider_index=next_index, refused_by=refused,
            provider=provider.name, last_error=result.error[:2000], lease_owner="", lease_until=None,
            next_attempt_at=now + timedelta(seconds=delay), updated_at=now,
        )
        attempt.save()


def _fail_step(
    delivery: Delivery, *, worker_id: str, reason: str, attempt: DeliveryAttempt | None = None,
    attempts: int | None = None,
) -> None:
    """This channel is exhausted for this recipient: failed with the reason, and the
    recipient's next channel, if any, goes into the queue."""
    now = timezone.now()
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk, lease_owner=worker_id, status=DeliveryStatus.SENDING).update(
            status=DeliveryStatus.FAILED, failed_at=now, reason=reason[:300], lease_owner="", lease_until=None,
            attempts=attempts if attempts is not None else F("attempts"),
            last_error=attempt.error if attempt else reason, updated_at=now,
        )
        if attempt is not None:
            attempt.save()
        Delivery.objects.filter(
            recipient_id=delivery.recipient_id, step=delivery.step + 1, status=DeliveryStatus.HELD
        ).update(status=DeliveryStatus.QUEUED, next_attempt_at=now, updated_at=now)


def deliveries_process(
    *, worker_id: str, limit: int = 200, max_rounds: int | None = None, stop: threading.Event | None = None
) -> int:
    """Claim and send due deliveries until none is due now; returns how many were handled
    (sent, retried or failed)."""
    total = 0
    rounds = 0
    while (max_rounds is None or rounds < max_rounds) and not (stop is not None and stop.is_set()):
        rounds += 1
        claimed = deliveries_claim(worker_id=worker_id, limit=limit)
        if not claimed.deliveries:
            break
        delivery_send_batch(claimed=claimed, worker_id=worker_id, stop=stop)
        total += len(claimed.deliveries)
    return total


def next_due_at() -> datetime | None:
    """When the next queued delivery or expiring lease falls due (for waking a worker)."""
    queued = (
        Delivery.objects.filter(status=DeliveryStatus.QUEUED).order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True).first()
    )
    lease = (
        Delivery.objects.filter(status=DeliveryStatus.SENDING).order_by("lease_until")
        .values_list("lease_until", flat=True).first()
    )
    times = [t for t in (queued, lease) if t is not None]
    if Delivery.objects.filter(status=DeliveryStatus.SENDING, lease_owner__in=dead_worker_ids()).exists():
        times.append(timezone.now())
    return min(times) if times else None


def email_send_direct(*, messages: Sequence[OutgoingMessage]) -> dict[int, bool]:
    """Send ready-made emails through the first configured email provider, outside any
    campaign (no acknowledgement link, no alert wording): a phishing drill's messages.
    Returns {delivery_id of the message: sent}."""
    providers = providers_for(str(Channel.EMAIL))
    if not providers:
        raise ValidationError(_("No email channel is configured."))
    return {result.delivery_id: result.outcome == SENT for result in providers[0].send(messages)}
