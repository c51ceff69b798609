"""Follow-up steps: "send SMS first, then voice to those who have not acknowledged".

The engine's own channel steps are a fallback: the next channel goes out only when the
previous one *failed*, and a step that was sent cancels the later ones. A follow-up is
different: after a delay, every recipient who has not acknowledged — reached or not —
is tried on another channel. It is a row (FollowUp) with its due time, in the same
transaction as the campaign; the worker loop takes each due row once (conditional
UPDATE) and writes the new deliveries into the outbox, which the engine then sends as
any other (providers, retries, fallback, acknowledgement)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc import rights
from planblanc.accounts.audit import audit_record
from planblanc.actors import Actor, alert_worker
from planblanc.alerting import answers, services
from planblanc.alerting.channels.base import providers_for
from planblanc.alerting.models import (
    Campaign,
    CampaignSeatMember,
    CampaignStatus,
    Channel,
    Delivery,
    DeliveryStatus,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Recipient,
)
from planblanc.alerting.services.campaigns import campaign_finish_if_done, channel_usable

MAX_DELAY_MINUTES = 24 * 60
# A recipient already tried on the follow-up's channel (it was one of their fallback
# steps) is not called a second time, unless that step failed or was cancelled.
_ALREADY_TRIED = (
    DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.SENT, DeliveryStatus.DELIVERED,
    DeliveryStatus.ACKNOWLEDGED,
)


def followup_schedule(*, actor: Actor, campaign: Campaign, channel: str = "voice", after_minutes: int) -> FollowUp:
    """Plan a follow-up on `channel`, `after_minutes` after now, for those who will not
    have acknowledged by then."""
    if not rights.may_send_alerts(actor, establishment=campaign.establishment, region=campaign.region):
        raise PermissionDenied(_("You are not allowed to send alerts here."))
    errors: dict[str, list[str]] = {}
    if channel not in Channel.values:
        errors["channel"] = [_("Unknown channel: %(names)s.") % {"names": channel}]
    elif not providers_for(channel):
        errors["channel"] = [_("No provider is configured for the channel %(name)s.") % {"name": channel}]
    if not 0 <= after_minutes <= MAX_DELAY_MINUTES:
        errors["after_minutes"] = [
            _("The follow-up delay must be between 0 and %(max)s minutes.") % {"max": MAX_DELAY_MINUTES}
        ]
    if Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.CANCELLED).exists():
        errors["campaign"] = [_("This campaign was cancelled.")]
    elif FollowUp.objects.filter(campaign=campaign, kind=FollowUpKind.CHANNEL, channel=channel).exists():
        errors["channel"] = [_("This campaign already has a follow-up on this channel.")]
    if errors:
        raise ValidationError(errors)
    due_at = timezone.now() + timedelta(minutes=after_minutes)
    with transaction.atomic():
        followup = FollowUp.objects.create(campaign=campaign, channel=channel, due_at=due_at)
        audit_record(
            actor=actor, action="alerting.followup_schedule", obj=campaign, establishment=campaign.establishment,
            changes={"channel": channel, "after_minutes": after_minutes},
        )
        transaction.on_commit(lambda: services.workers_wake(run_after=due_at))
    return followup


def campaign_create_with_followup(
    *, actor: Actor, followup_channel: str = "voice", followup_after_minutes: int, **campaign: Any
) -> tuple[Campaign, FollowUp]:
    """A campaign and its follow-up, both or neither."""
    with transaction.atomic():
        created = services.campaign_create(actor=actor, **campaign)
        followup = followup_schedule(
            actor=actor, campaign=created, channel=followup_channel, after_minutes=followup_after_minutes
        )
    return created, followup


def _recipients_to_follow(followup: FollowUp) -> list[Recipient]:
    tried = Delivery.objects.filter(
        campaign_id=followup.campaign_id, channel=followup.channel, status__in=_ALREADY_TRIED
    ).values("recipient_id")
    # Deputies on standby are alerted by their seat's own follow-up, not by this one.
    standby = Delivery.objects.filter(
        campaign_id=followup.campaign_id, status=DeliveryStatus.HELD, reason=services.STANDBY
    ).values("recipient_id")
    candidates = Recipient.objects.filter(
        campaign_id=followup.campaign_id, acknowledged_at__isnull=True
    ).exclude(pk__in=tried).exclude(pk__in=standby).order_by("id")
    return [r for r in candidates if channel_usable(followup.channel, r.address_for(followup.channel))]


def followup_take(*, followup: FollowUp, worker_id: str, now: datetime | None = None) -> int | None:
    """Take one due follow-up (once, whichever worker gets there first) and write its
    deliveries; returns how many, or None if another worker took it."""
    now = now or timezone.now()
    with transaction.atomic():
        taken = FollowUp.objects.filter(pk=followup.pk, status=FollowUpStatus.PENDING, due_at__lte=now).update(
            status=FollowUpStatus.DONE, taken_at=now, worker=worker_id[:100]
        )
        if not taken:
            return None
        campaign = Campaign.objects.select_for_update().get(pk=followup.campaign_id)
        if campaign.status == CampaignStatus.CANCELLED or campaign.closed_at is not None:
            FollowUp.objects.filter(pk=followup.pk).update(status=FollowUpStatus.CANCELLED)
            return 0
        if followup.kind == FollowUpKind.STANDBY:
            return _standby_take(followup=followup, campaign=campaign, worker_id=worker_id, now=now)
        recipients = _recipients_to_follow(followup)
        rows = []
        for recipient in recipients:
            key = f"{campaign.pk}:{recipient.pk}:{followup.channel}:f{followup.pk}"
            rows.append(Delivery(
                campaign=campaign, recipient=recipient, channel=followup.channel,
                # After every planned step: a failure here queues nothing else.
                step=len(recipient.channels) + 1, status=DeliveryStatus.QUEUED, priority=campaign.priority,
                address=recipient.address_for(followup.channel), idempotency_key=key,
                message_id=services.message_id_for(key), next_attempt_at=timezone.now(),
            ))
        Delivery.objects.bulk_create(rows, batch_size=500)
        FollowUp.objects.filter(pk=followup.pk).update(recipients_count=len(rows))
        if rows:
            Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SENDING, finished_at=None)
        audit_record(
            actor=alert_worker(worker_id), action="alerting.followup_send", obj=campaign,
            establishment=campaign.establishment, changes={"channel": followup.channel, "recipients": len(rows)},
        )
    return len(rows)


# The holder answered "coming", "remote" (or any other answer but "cannot"), or simply
# acknowledged: the deputies stay on standby.
_HOLDER_COVERS = ~Q(answer_kind=answers.CANNOT)


def _standby_take(*, followup: FollowUp, campaign: Campaign, worker_id: str, now: datetime) -> int:
    """A seat's standby follow-up, taken (its row already marked done, in this
    transaction): if the holder declined or has not acknowledged, the deputies' held
    deliveries go into the outbox (every channel at once: the seat is empty); returns
    how many. If the holder is coming, nothing is sent and the deputies stay on standby
    (a later "cannot" brings this follow-up back, see services.recipient_answer)."""
    members = list(CampaignSeatMember.objects.filter(seat_id=followup.seat_id).select_related("recipient"))
    holder = next((m.recipient for m in members if m.rank == 0), None)
    deputies = [m.recipient_id for m in members if m.rank > 0]
    covered = holder is not None and Recipient.objects.filter(
        Q(pk=holder.pk, acknowledged_at__isnull=False) & _HOLDER_COVERS
    ).exists()
    count = 0
    if not covered and deputies:
        # One deputy may stand in for several seats: released once, by the first.
        count = Delivery.objects.filter(
            recipient_id__in=deputies, status=DeliveryStatus.HELD, reason=services.STANDBY,
            recipient__acknowledged_at__isnull=True,
        ).update(status=DeliveryStatus.QUEUED, reason="", next_attempt_at=timezone.now(), updated_at=now)
    FollowUp.objects.filter(pk=followup.pk).update(recipients_count=count)
    if count:
        Campaign.objects.filter(pk=campaign.pk, status__in=(CampaignStatus.SENDING, CampaignStatus.OPEN)).update(
            status=CampaignStatus.SENDING, finished_at=None
        )
    audit_record(
        actor=alert_worker(worker_id), action="alerting.standby_release" if count else "alerting.standby_keep",
        obj=campaign, establishment=campaign.establishment,
        changes={
            "seat": followup.seat.title if followup.seat_id else "", "deliveries": count,
            "holder_answer": holder.answer_kind if holder else "",
            "holder_acknowledged": bool(holder and holder.acknowledged_at),
        },
    )
    if not count:
        campaign_finish_if_done(campaign.pk)
    return count


def followups_process(*, worker_id: str, now: datetime | None = None, limit: int = 50) -> int:
    """Take every due follow-up; returns how many deliveries they wrote into the outbox
    (the worker then sends them in the same loop)."""
    now = now or timezone.now()
    due: Sequence[FollowUp] = list(
        FollowUp.objects.filter(status=FollowUpStatus.PENDING, due_at__lte=now).order_by("due_at", "id")[:limit]
    )
    written = 0
    for followup in due:
        written += followup_take(followup=followup, worker_id=worker_id, now=now) or 0
    return written


def followup_next_due_at() -> datetime | None:
    return (
        FollowUp.objects.filter(status=FollowUpStatus.PENDING).order_by("due_at")
        .values_list("due_at", flat=True).first()
    )
