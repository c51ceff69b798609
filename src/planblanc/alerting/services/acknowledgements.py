"""Acknowledgements: the signed link in each message, and a recipient's "received"
by link, SMS or from the application."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import models, transaction
from django.http import Http404
from django.utils import timezone

from planblanc import actors
from planblanc.accounts.audit import audit_record
from planblanc.alerting.models import (
    Acknowledgement,
    Delivery,
    DeliveryStatus,
    Recipient,
)
from planblanc.alerting.services.campaigns import campaign_finish_if_done
from planblanc.alerting.services.hooks import acknowledgement_notify

ACK_SALT = "planblanc.alerting.ack"


class AckLinkError(Exception):
    pass


class AckLinkInvalid(AckLinkError):
    pass


class AckLinkExpired(AckLinkError):
    pass


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=ACK_SALT)


def ack_link_make(*, delivery: Delivery) -> str:
    token = _signer().sign(str(delivery.pk))
    return f"{settings.ALERTING_PUBLIC_URL}/ack/{token}/"


def ack_link_verify(token: str, *, max_age: timedelta | None = None) -> Delivery:
    """The delivery behind a signed link, or AckLinkInvalid / AckLinkExpired."""
    if max_age is None:
        max_age = timedelta(hours=settings.ALERTING_ACK_MAX_AGE_HOURS)
    try:
        value = _signer().unsign(token, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise AckLinkExpired(str(exc)) from exc
    except signing.BadSignature as exc:
        raise AckLinkInvalid(str(exc)) from exc
    try:
        return Delivery.objects.select_related("recipient", "campaign").get(pk=int(value))
    except (ValueError, Delivery.DoesNotExist) as exc:
        raise AckLinkInvalid(value) from exc


def acknowledgement_record(*, delivery: Delivery, via: str = "link") -> Acknowledgement:
    """The recipient says "received". Their later channel steps are not needed any
    more. Acknowledging twice keeps the first."""
    now = timezone.now()
    recipient = delivery.recipient
    with transaction.atomic():
        ack, created = Acknowledgement.objects.get_or_create(
            recipient=recipient, defaults={"delivery": delivery, "via": via, "acknowledged_at": now}
        )
        if not created:
            return ack
        Recipient.objects.filter(pk=recipient.pk).update(acknowledged_at=now)
        Delivery.objects.filter(
            pk=delivery.pk, status__in=(DeliveryStatus.SENT, DeliveryStatus.DELIVERED)
        ).update(status=DeliveryStatus.ACKNOWLEDGED, acknowledged_at=now, updated_at=now)
        Delivery.objects.filter(
            recipient=recipient, status__in=(DeliveryStatus.HELD, DeliveryStatus.QUEUED)
        ).update(status=DeliveryStatus.CANCELLED, reason="acknowledged", updated_at=now)
        audit_record(
            actor=actors.recipient(recipient.name), action="alerting.acknowledge", obj=recipient,
            establishment=delivery.campaign.establishment,
            changes={"campaign": delivery.campaign_id, "delivery": delivery.pk, "via": via},
        )
        campaign_finish_if_done(delivery.campaign_id)
        # An acknowledgement of an escalation's message stops the escalation.
        acknowledgement_notify(campaign_id=delivery.campaign_id, by=recipient.name)
    return ack


def delivery_latest(recipient: Recipient) -> Delivery | None:
    """The message a person most likely read: the latest one sent to them."""
    return (
        Delivery.objects.filter(recipient=recipient)
        .order_by(
            models.Case(
                models.When(
                    status__in=(DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.ACKNOWLEDGED), then=0,
                ),
                default=1,
            ),
            "-sent_at", "-id",
        )
        .select_related("campaign", "recipient")
        .first()
    )


def acknowledgement_in_app(*, user: Any, recipient_id: int) -> Acknowledgement:
    """The logged-in recipient acknowledges from the application. Only their own alerts:
    anyone else's is a 404, like everything outside one's scope."""
    recipient = recipient_own(user=user, recipient_id=recipient_id)
    # Tie the acknowledgement to the message they most likely read: the latest one sent.
    delivery = delivery_latest(recipient)
    if delivery is None:
        raise Http404
    return acknowledgement_record(delivery=delivery, via="app")


def recipient_own(*, user: Any, recipient_id: int) -> Recipient:
    if not getattr(user, "is_authenticated", False):
        raise Http404
    recipient = Recipient.objects.filter(pk=recipient_id, person__user=user).select_related("campaign").first()
    if recipient is None:
        raise Http404
    return recipient
