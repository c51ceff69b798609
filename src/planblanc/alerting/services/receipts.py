"""Delivery reports of the providers (SMS, voice), applied to the deliveries in either
order with the send's commit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from planblanc.alerting.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    PendingReceipt,
)
from planblanc.alerting.services.campaigns import STANDBY

# Channels whose providers report delivery after accepting a message.
RECEIPT_CHANNELS = frozenset({Channel.SMS, Channel.VOICE})


def delivery_record_receipt(*, channel: str, provider_message_id: str, delivered: bool, error: str = "") -> int:
    """A provider's delivery report. A bounce after acceptance fails the step and moves
    the recipient to their next channel.

    The report may come before the worker has committed "sent" (the SMSC answers within
    milliseconds). So it is first written down (PendingReceipt), then applied if its
    send is committed; otherwise the send's commit applies it (`receipts_apply`, called
    right after "sent"). Each side commits before it looks for the other: whichever
    comes second sees the first, in any order. Returns how many deliveries changed now."""
    if not provider_message_id:
        return 0
    now = timezone.now()
    PendingReceipt.objects.filter(received_at__lt=now - timedelta(days=1)).delete()
    PendingReceipt.objects.create(
        channel=channel, provider_message_id=provider_message_id[:200], delivered=delivered,
        error=error[:2000], received_at=now,
    )
    return receipts_apply(channel=channel, provider_message_id=provider_message_id[:200])


def receipts_apply(*, channel: str, provider_message_id: str) -> int:
    """Apply the reports kept for this message to its delivery, if it is "sent" now;
    the reports are then dropped. Safe to call twice or from two processes at once:
    each change is a conditional UPDATE from "sent"."""
    with transaction.atomic():
        pending = list(
            PendingReceipt.objects.filter(channel=channel, provider_message_id=provider_message_id).order_by("id")
        )
        if not pending:
            return 0
        rows = list(Delivery.objects.filter(
            channel=channel, provider_message_id=provider_message_id, status=DeliveryStatus.SENT
        ))
        if not rows:
            return 0
        # The latest report is the delivery's state (an SMSC may send "buffered", then
        # "delivered").
        receipt = pending[-1]
        now = timezone.now()
        changed = 0
        for delivery in rows:
            if receipt.delivered:
                changed += Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENT).update(
                    status=DeliveryStatus.DELIVERED, delivered_at=now, updated_at=now
                )
                continue
            bounced = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENT).update(
                status=DeliveryStatus.FAILED, failed_at=now, reason=f"bounced: {receipt.error}"[:300],
                last_error=receipt.error, updated_at=now,
            )
            if bounced:
                Delivery.objects.filter(
                    recipient_id=delivery.recipient_id, step=delivery.step + 1,
                    status__in=(DeliveryStatus.HELD, DeliveryStatus.CANCELLED),
                    recipient__acknowledged_at__isnull=True,
                ).exclude(reason__in=(STANDBY, "closed")).update(
                    status=DeliveryStatus.QUEUED, next_attempt_at=now, reason="", updated_at=now
                )
            changed += bounced
        PendingReceipt.objects.filter(pk__in=[p.pk for p in pending]).delete()
    return changed


def sms_receipts_record(*, receipts: Iterable[Any]) -> int:
    """Apply SMS delivery reports, whether or not their send is committed yet (see
    delivery_record_receipt)."""
    return sum(
        delivery_record_receipt(
            channel=str(Channel.SMS), provider_message_id=receipt.provider_message_id,
            delivered=receipt.delivered, error=receipt.error,
        )
        for receipt in receipts
    )
