"""Reads of the alerting engine: campaigns in the user's scope, live progress, who has
not been reached."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, Min, OuterRef, QuerySet
from django.utils import timezone

from planblanc.alerting.answers import choices_of
from planblanc.alerting.models import (
    Campaign,
    CampaignSeat,
    CampaignSeatMember,
    CampaignStatus,
    Channel,
    Delivery,
    DeliveryStatus,
    Recipient,
)
from planblanc.alerting.oncall import oncall_at
from planblanc.alerting.services import STANDBY, waiting_recipients
from planblanc.alerting.templating import template_fill
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


# Answers, who has not acknowledged, seats -------------------------------------------------


def recipient_phone(recipient: Recipient) -> str:
    """The number to tap to call someone back (mobile first)."""
    return recipient.mobile_phone or recipient.landline_phone


@dataclass
class AnswerCount:
    number: int | None
    label: str
    kind: str
    recipients: list[Recipient]

    @property
    def count(self) -> int:
        return len(self.recipients)


def campaign_answers(*, campaign: Campaign) -> list[AnswerCount]:
    """Live counts per answer of the campaign's question, each with its people (arrival
    delay for "coming", earliest first), then those who have not answered yet."""
    choices = choices_of(campaign.answers)
    if not choices:
        return []
    rows = {choice.number: AnswerCount(choice.number, choice.label, choice.kind, []) for choice in choices}
    silent = AnswerCount(None, "", "", [])

    waiting = set(waiting_recipients(campaign_id=campaign.pk).values_list("pk", flat=True))
    for recipient in Recipient.objects.filter(campaign=campaign).order_by("name", "id"):
        if recipient.answer in rows:
            rows[recipient.answer].recipients.append(recipient)
        elif recipient.pk in waiting or recipient.acknowledged_at:
            silent.recipients.append(recipient)
    for row in rows.values():
        row.recipients.sort(key=lambda r: (r.answer_minutes is None, r.answer_minutes or 0, r.name))
    return [*rows.values(), silent]


def campaign_waiting(*, campaign: Campaign) -> QuerySet[Recipient]:
    """The people alerted who have not acknowledged yet (deputies on standby left out)."""
    return waiting_recipients(campaign_id=campaign.pk).order_by("name", "id")


# One person's place on the board, from their deliveries and answer.
STATE_COMING = "coming"
STATE_CANNOT = "cannot"
STATE_REMOTE = "remote"
STATE_ANSWERED = "answered"
STATE_ACKNOWLEDGED = "acknowledged"
STATE_REACHED = "reached"
STATE_TRYING = "trying"
STATE_STANDBY = "standby"
STATE_NOT_REACHED = "not_reached"


@dataclass
class SeatMemberState:
    recipient: Recipient
    rank: int
    state: str
    arrives_at: Any = None

    @property
    def is_holder(self) -> bool:
        return self.rank == 0

    @property
    def phone(self) -> str:
        return recipient_phone(self.recipient)


@dataclass
class SeatState:
    title: str
    group: str
    members: list[SeatMemberState]

    @property
    def filled(self) -> bool:
        """Someone of the seat is coming or available remotely."""
        return any(m.state in (STATE_COMING, STATE_REMOTE) for m in self.members)


def _member_state(recipient: Recipient, statuses: set[str], standby: bool) -> str:
    if recipient.answer_kind in (STATE_COMING, STATE_CANNOT, STATE_REMOTE):
        return recipient.answer_kind
    if recipient.answer:
        return STATE_ANSWERED
    if recipient.acknowledged_at:
        return STATE_ACKNOWLEDGED
    if statuses & {DeliveryStatus.SENT, DeliveryStatus.DELIVERED}:
        return STATE_REACHED
    if statuses & {DeliveryStatus.QUEUED, DeliveryStatus.SENDING} or (statuses & {DeliveryStatus.HELD} and not standby):
        return STATE_TRYING
    if standby:
        return STATE_STANDBY
    return STATE_NOT_REACHED


def campaign_seats(*, campaign: Campaign) -> list[SeatState]:
    """Each seat with its holder then deputies, and where each of them stands:
    coming (with the arrival time), cannot, remote, acknowledged, reached (a message was
    handed over), being tried, on standby (a deputy not alerted yet), not reached."""
    seats = list(CampaignSeat.objects.filter(campaign=campaign).order_by("position", "id"))
    members = list(
        CampaignSeatMember.objects.filter(seat__campaign=campaign).select_related("recipient").order_by("rank", "id")
    )
    statuses: dict[int, set[str]] = {}
    standby: set[int] = set()
    for recipient_id, status, reason in Delivery.objects.filter(campaign=campaign).values_list(
        "recipient_id", "status", "reason"
    ):
        statuses.setdefault(recipient_id, set()).add(status)
        if status == DeliveryStatus.HELD and reason == STANDBY:
            standby.add(recipient_id)
    by_seat: dict[int, list[SeatMemberState]] = {}
    for member in members:
        recipient = member.recipient
        state = _member_state(recipient, statuses.get(recipient.pk, set()), recipient.pk in standby)
        arrives_at = None
        if state == STATE_COMING and recipient.answer_minutes is not None and recipient.answered_at:
            arrives_at = recipient.answered_at + timedelta(minutes=recipient.answer_minutes)
        by_seat.setdefault(member.seat_id, []).append(
            SeatMemberState(recipient=recipient, rank=member.rank, state=state, arrives_at=arrives_at)
        )
    return [SeatState(title=seat.title, group=seat.group, members=by_seat.get(seat.pk, [])) for seat in seats]


def person_on_call(*, rotation: Any, when: Any) -> Person | None:
    """Who holds this on-call rotation at `when` (overrides and swaps included), for the
    capabilities that alert an on-call duty (mutual aid)."""
    return oncall_at(rotation, when)
