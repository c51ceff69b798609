"""Reads of the alerting engine: campaigns in the user's scope, live progress, who has
not been reached."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, OuterRef, QuerySet

from planblanc.alerting.models import (
    Campaign,
    CampaignStatus,
    Channel,
    Delivery,
    DeliveryStatus,
    Recipient,
)
from planblanc.directory.models import Establishment, Person
from planblanc.tenancy import Perm, get_for_user

# What each count means for the person watching the campaign.
REACHED = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.ACKNOWLEDGED)


def campaign_list(*, user: Any) -> QuerySet[Campaign]:
    return Campaign.objects.visible_to(user, Perm.VIEW_DIRECTORY).select_related("establishment", "region")


def get_campaign_for_user(*, user: Any, campaign_id: int) -> Campaign:
    return get_for_user(user, Campaign.objects.select_related("establishment", "region"), pk=campaign_id)


@dataclass
class Progress:
    recipients: int = 0
    acknowledged: int = 0
    reached: int = 0
    not_reached: int = 0
    pending: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)

    def percent(self, count: int) -> int:
        return round(100 * count / self.recipients) if self.recipients else 0

    @property
    def status_rows(self) -> list[tuple[str, Any, int, int]]:
        return [
            (value, label, self.by_status.get(value, 0), self.percent(self.by_status.get(value, 0)))
            for value, label in DeliveryStatus.choices
        ]

    @property
    def reached_percent(self) -> int:
        return self.percent(self.reached)

    @property
    def acknowledged_percent(self) -> int:
        return self.percent(self.acknowledged)

    @property
    def channel_table(self) -> list[tuple[Any, list[int]]]:
        """One row per channel, one count per delivery state (in DeliveryStatus order)."""
        labels = dict(Channel.choices)
        return [
            (labels.get(channel, channel or "-"), [counts.get(value, 0) for value in DeliveryStatus.values])
            for channel, counts in sorted(self.by_channel.items())
        ]


def campaign_progress(*, campaign: Campaign) -> Progress:
    """Counts per delivery state and per channel, and per recipient: acknowledged,
    reached (some channel sent), still being tried, or not reached (every step failed)."""
    progress = Progress()
    for row in Delivery.objects.filter(campaign=campaign).values("channel", "status").annotate(n=Count("id")):
        progress.by_status[row["status"]] = progress.by_status.get(row["status"], 0) + row["n"]
        progress.by_channel.setdefault(row["channel"], {})[row["status"]] = row["n"]
    recipients = Recipient.objects.filter(campaign=campaign)
    progress.recipients = recipients.count()
    progress.acknowledged = recipients.filter(acknowledged_at__isnull=False).count()
    progress.reached = recipients.filter(
        Exists(Delivery.objects.filter(recipient=OuterRef("pk"), status__in=REACHED))
    ).count()
    progress.pending = recipients.filter(
        Exists(Delivery.objects.filter(
            recipient=OuterRef("pk"), status__in=(DeliveryStatus.QUEUED, DeliveryStatus.SENDING)
        ))
    ).count()
    progress.not_reached = not_reached(campaign=campaign).count()
    return progress


def not_reached(*, campaign: Campaign) -> QuerySet[Recipient]:
    """Recipients for whom every channel step has ended without a send."""
    live = Delivery.objects.filter(recipient=OuterRef("pk")).exclude(
        status__in=(DeliveryStatus.FAILED, DeliveryStatus.CANCELLED)
    )
    return (
        Recipient.objects.filter(campaign=campaign, acknowledged_at__isnull=True)
        .exclude(Exists(live))
        .prefetch_related("deliveries")
    )


def deliveries_for_export(*, campaign: Campaign) -> QuerySet[Delivery]:
    return Delivery.objects.filter(campaign=campaign).select_related("recipient").order_by("recipient__name", "step")


def people_of_establishment(*, establishment: Establishment) -> QuerySet[Person]:
    return Person.objects.filter(memberships__establishment=establishment).distinct().order_by("last_name", "first_name")


@dataclass
class OutboxStatus:
    """Is anything sending? A queue that ages means no worker is running."""

    queued: int
    oldest_queued_age_seconds: int | None
    stale_after_seconds: int

    @property
    def stalled(self) -> bool:
        return self.oldest_queued_age_seconds is not None and self.oldest_queued_age_seconds > self.stale_after_seconds


def outbox_status() -> OutboxStatus:
    from django.conf import settings
    from django.db.models import Min
    from django.utils import timezone

    due = Delivery.objects.filter(status=DeliveryStatus.QUEUED, next_attempt_at__lte=timezone.now())
    summary = due.aggregate(n=Count("id"), oldest=Min("next_attempt_at"))
    oldest = summary["oldest"]
    return OutboxStatus(
        queued=summary["n"],
        oldest_queued_age_seconds=int((timezone.now() - oldest).total_seconds()) if oldest else None,
        stale_after_seconds=settings.WORKER_STALE_AFTER_SECONDS,
    )


def alert_text_for(recipient: Recipient) -> str:
    """The campaign's message as this recipient received it (their language, variables
    filled)."""
    from planblanc.alerting.templating import template_fill

    campaign = recipient.campaign
    text = campaign.message_en if recipient.language == "en" and campaign.message_en else campaign.message_fr
    return template_fill(text, name=recipient.name, establishment=recipient.establishment_name, title=campaign.title)


def alerts_to_acknowledge(*, user: Any) -> QuerySet[Recipient]:
    """The alerts addressed to the person this login belongs to that they have not
    acknowledged yet (cancelled campaigns left out): acknowledged from the app with one
    button, like the signed link in the message."""
    if not getattr(user, "is_authenticated", False):
        return Recipient.objects.none()
    return (
        Recipient.objects.filter(person__user=user, acknowledged_at__isnull=True)
        .exclude(campaign__status=CampaignStatus.CANCELLED)
        .select_related("campaign")
        .order_by("-campaign__created_at", "-id")
    )


def person_on_call(*, rotation: Any, when: Any) -> Person | None:
    """Who holds this on-call rotation at `when` (overrides and swaps included), for the
    capabilities that alert an on-call duty (mutual aid)."""
    from planblanc.alerting.oncall import oncall_at

    return oncall_at(rotation, when)
