"""Campaigns: writing a campaign with its recipients, seats and outbox rows in one
transaction; cancelling and closing it; deciding when it is done."""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc import rights
from planblanc.accounts.audit import audit_record
from planblanc.actors import Actor
from planblanc.alerting import answers as answer_set
from planblanc.alerting.channels.base import (
    providers_for,
)
from planblanc.alerting.models import (
    Campaign,
    CampaignMode,
    CampaignSeat,
    CampaignSeatMember,
    CampaignStatus,
    Channel,
    Delivery,
    DeliveryStatus,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Priority,
    Recipient,
)
from planblanc.alerting.push import subscribed_person_ids
from planblanc.alerting.services.hooks import workers_wake
from planblanc.alerting.templating import template_check
from planblanc.core import bulk
from planblanc.directory.models import Establishment, Person, Region
from planblanc.tenancy import user_label

ACTIVE_STATUSES = (DeliveryStatus.HELD, DeliveryStatus.QUEUED, DeliveryStatus.SENDING)
NO_CHANNEL = "no channel"
# The reason of a deputy's deliveries while they wait for their holder's answer.
STANDBY = "standby"


@dataclass(frozen=True)
class RecipientInput:
    """One person (or chat channel) to reach. `channels` is their own order of
    preference; empty means the campaign's order."""

    name: str
    language: str = "fr"
    email: str = ""
    mobile_phone: str = ""
    landline_phone: str = ""
    webhook_url: str = ""
    matrix_id: str = ""
    establishment_name: str = ""
    person: Person | None = None
    # The person's key alone, when the caller has no Person object at hand (a national
    # campaign reads a million people as plain rows).
    person_id: int | None = None
    channels: tuple[str, ...] = field(default_factory=tuple)
    # A deputy: their deliveries wait (held) until the holder of their seat declines or
    # stays silent (see SeatInput).
    standby: bool = False
    # Values for this recipient's message: {"link": "https://…"} fills {link}.
    values: dict[str, str] = field(default_factory=dict)

    @property
    def person_key(self) -> int | None:
        return self.person.pk if self.person is not None else self.person_id


@dataclass(frozen=True)
class SeatInput:
    """A seat to fill (a crisis cell seat). `members` are positions in the campaign's
    `recipients`: the holder first, then the deputies in order. Deputies marked
    `standby` are alerted only if the holder declines, or has not acknowledged
    `standby_after_minutes` after the send."""

    title: str
    members: tuple[int, ...]
    key: str = ""
    group: str = ""


def recipients_from_people(people: Iterable[Person], *, establishment_name: str = "") -> list[RecipientInput]:
    return [
        RecipientInput(
            name=person.full_name, language=person.preferred_language, email=person.email,
            mobile_phone=str(person.mobile_phone or ""), landline_phone=str(person.landline_phone or ""),
            matrix_id=person.matrix_id, establishment_name=establishment_name, person=person,
        )
        for person in people
    ]


def channel_usable(channel: str, address: str, *, push_people: set[int] | frozenset[int] = frozenset()) -> bool:
    if not address:
        return False
    if channel == Channel.PUSH:
        return address.startswith("person:") and int(address.partition(":")[2]) in push_people
    if channel == Channel.MATRIX:
        # Room IDs of recent room versions carry no server name.
        return address.startswith("!") or (address.startswith(("@", "#")) and ":" in address)
    if channel == Channel.EMAIL:
        try:
            validate_email(address)
        except ValidationError:
            return False
    if channel == Channel.WEBHOOK:
        return address.startswith(("http://", "https://"))
    return True


def message_id_for(idempotency_key: str) -> str:
    """The same key always gives the same Message-ID, in every process; the deployment's
    secret keeps two platforms' identifiers apart."""
    digest = hmac.new(settings.SECRET_KEY.encode(), idempotency_key.encode(), hashlib.sha256).hexdigest()[:20]
    return f"<{idempotency_key.replace(':', '.')}.{digest}@{_host(settings.ALERTING_PUBLIC_URL)}>"


@functools.cache
def _host(url: str) -> str:
    return urlsplit(url).hostname or "planblanc.invalid"


def campaign_create(
    *,
    actor: Actor,
    title: str,
    message_fr: str,
    message_en: str = "",
    recipients: Sequence[RecipientInput],
    channels: Sequence[str] = ("email",),
    establishment: Establishment | None = None,
    region: Region | None = None,
    is_exercise: bool = False,
    wake_workers: bool = True,
    mode: str = str(CampaignMode.FALLBACK),
    keep_open: bool = False,
    answers: Sequence[Any] = (),
    rendezvous: dict[str, str] | None = None,
    seats: Sequence[SeatInput] = (),
    standby_after_minutes: int | None = None,
    priority: int = Priority.URGENT,
) -> Campaign:
    """Write the campaign, its recipients and one delivery per recipient × channel step,
    all or nothing, then wake the workers (unless the caller is a worker that sends
    the outbox next anyway, as the escalation step does).

    `mode`: "fallback" (the next channel only if the previous failed) or "parallel"
    (every channel of the person at once). `keep_open`: the campaign stays open until
    every person alerted acknowledges or a user closes it. `answers`: the question's
    answers (alerting/answers.py; [] = acknowledgement only). `rendezvous`: meeting
    place and bridge, repeated on the acknowledgement page. `seats`: holders and
    deputies; standby deputies are alerted by a follow-up of kind "standby"."""
    if (establishment is None) == (region is None):
        raise ValidationError(_("A campaign is sent either for one establishment or for a whole region."))
    if not rights.may_send_alerts(actor, establishment=establishment, region=region):
        raise PermissionDenied(_("You are not allowed to send alerts here."))
    title = (title or "").strip()
    message_fr = (message_fr or "").strip()
    message_en = (message_en or "").strip()
    errors: dict[str, list[Any]] = {}
    if not title:
        errors.setdefault("title", []).append(_("Give the campaign a title."))
    if not message_fr:
        errors.setdefault("message_fr", []).append(_("Write the message in French."))
    for name, text in (("title", title), ("message_fr", message_fr), ("message_en", message_en)):
        try:
            template_check(text)
        except ValidationError as exc:
            errors.setdefault(name, []).extend(exc.messages)
    known = set(Channel.values)
    unknown = [channel for channel in channels if channel not in known]
    if unknown or not channels:
        errors.setdefault("channels", []).append(
            _("Unknown channel: %(names)s.") % {"names": ", ".join(unknown) or "-"}
        )
    if not recipients:
        errors.setdefault("recipients", []).append(_("Choose at least one recipient."))
    if mode not in CampaignMode.values:
        errors.setdefault("mode", []).append(_("Unknown sending mode."))
    if priority not in Priority.values:
        errors.setdefault("priority", []).append(_("Unknown priority."))
    try:
        cleaned_answers = answer_set.answers_clean(list(answers))
    except ValidationError as exc:
        errors.setdefault("answers", []).extend(exc.messages)
        cleaned_answers = []
    if any(not seat.members or any(not 0 <= i < len(recipients) for i in seat.members) for seat in seats):
        errors.setdefault("recipients", []).append(_("A seat names a recipient that is not in the list."))
    if errors:
        raise ValidationError(errors)
    scope_name = str(establishment or region)
    if standby_after_minutes is None:
        standby_after_minutes = settings.ALERTING_STANDBY_AFTER_MINUTES

    with transaction.atomic():
        campaign = Campaign.objects.create(
            establishment=establishment, region=region, title=title, message_fr=message_fr,
            message_en=message_en, is_exercise=is_exercise, channels=list(dict.fromkeys(channels)),
            created_by=actor if getattr(actor, "is_authenticated", False) else None, mode=mode,
            keep_open=keep_open, answers=cleaned_answers, priority=priority,
            rendezvous={k: str(v)[:300] for k, v in (rendezvous or {}).items() if v},
        )
        configured = {channel for channel in Channel.values if providers_for(channel)}
        push_people: set[int] = set()
        if Channel.PUSH in configured:
            push_people = subscribed_person_ids([pk for item in recipients if (pk := item.person_key) is not None])
        planned: list[tuple[Recipient, list[str]]] = []
        rows = []
        for item in recipients:
            recipient = Recipient(
                campaign=campaign, person_id=item.person_key, name=item.name[:200], language=item.language or "fr",
                establishment_name=(item.establishment_name or scope_name)[:200], email=item.email.strip(),
                mobile_phone=item.mobile_phone, landline_phone=item.landline_phone, webhook_url=item.webhook_url,
                standby=item.standby,
                matrix_id=item.matrix_id[:255],
                values={key: str(value)[:500] for key, value in item.values.items() if key == "link"},
            )
            steps = [
                channel for channel in dict.fromkeys(item.channels or campaign.channels)
                if channel in configured and channel_usable(channel, recipient.address_for(channel), push_people=push_people)
            ]
            recipient.channels = steps
            rows.append(recipient)
            planned.append((recipient, steps))
        _insert_recipients(rows)
        now = timezone.now()
        deliveries: list[dict[str, Any]] = []
        for recipient, steps in planned:
            if not steps:
                deliveries.append({
                    "recipient_id": recipient.pk, "channel": "", "step": 0, "status": "failed",
                    "idempotency_key": f"{campaign.pk}:{recipient.pk}:none:0", "reason": NO_CHANNEL,
                    "failed_at": now, "last_error": "no configured channel has an address for this recipient",
                })
                continue
            for step, channel in enumerate(steps):
                key = f"{campaign.pk}:{recipient.pk}:{channel}:{step}"
                go = (step == 0 or mode == CampaignMode.PARALLEL) and not recipient.standby
                deliveries.append({
                    "recipient_id": recipient.pk, "channel": channel, "step": step,
                    "status": "queued" if go else "held", "address": recipient.address_for(channel),
                    "idempotency_key": key, "message_id": message_id_for(key),
                    "next_attempt_at": now if go else None, "reason": STANDBY if recipient.standby else "",
                })
        _insert_deliveries(campaign_id=campaign.pk, rows=deliveries, now=now, priority=priority)
        _seats_write(campaign=campaign, seats=seats, recipients=rows, now=now, after_minutes=standby_after_minutes)
        audit_record(
            actor=actor, action="alerting.campaign_create", obj=campaign, establishment=establishment,
            changes={
                "title": title, "recipients": len(rows), "channels": campaign.channels,
                "is_exercise": is_exercise, "region": region.pk if region else None,
                "mode": mode, "keep_open": keep_open, "answers": len(cleaned_answers), "seats": len(seats),
            },
        )
        campaign_finish_if_done(campaign.pk)
        if wake_workers:
            transaction.on_commit(workers_wake)
    return campaign


def _seats_write(
    *, campaign: Campaign, seats: Sequence[SeatInput], recipients: list[Recipient], now: datetime, after_minutes: int,
) -> None:
    """The seats, their members, and for each seat with a standby deputy the follow-up
    that alerts them when the holder declines or is silent `after_minutes`."""
    if not seats:
        return
    due_at = now + timedelta(minutes=max(0, after_minutes))
    for position, seat_input in enumerate(seats):
        seat = CampaignSeat.objects.create(
            campaign=campaign, position=position, key=seat_input.key[:100], title=seat_input.title[:200],
            group=seat_input.group[:100],
        )
        members = list(dict.fromkeys(seat_input.members))
        CampaignSeatMember.objects.bulk_create([
            CampaignSeatMember(seat=seat, recipient=recipients[index], rank=rank) for rank, index in enumerate(members)
        ])
        if any(recipients[index].standby for index in members[1:]):
            FollowUp.objects.create(
                campaign=campaign, kind=FollowUpKind.STANDBY, seat=seat, channel="", due_at=due_at,
            )
    if campaign.pk and FollowUp.objects.filter(campaign=campaign, kind=FollowUpKind.STANDBY).exists():
        transaction.on_commit(lambda: workers_wake(run_after=due_at))


_DELIVERY_DEFAULTS: dict[str, Any] = {
    "channel": "", "step": 0, "status": "queued", "address": "", "provider_index": 0, "refused_by": [],
    "provider": "", "attempts": 0, "next_attempt_at": None, "lease_owner": "", "lease_until": None,
    "idempotency_key": "", "message_id": "", "provider_message_id": "", "last_error": "", "reason": "",
    "sent_at": None, "delivered_at": None, "failed_at": None, "acknowledged_at": None,
}


def _insert_deliveries(*, campaign_id: int, rows: list[dict[str, Any]], now: datetime, priority: int) -> None:
    """The outbox rows, streamed by core.bulk (COPY on PostgreSQL): the ORM's bulk_create
    spends several seconds preparing 10,000 rows of 25 fields one value at a time."""
    columns = ["campaign_id", "recipient_id", "created_at", "updated_at", "priority", *_DELIVERY_DEFAULTS]
    refused = {(): bulk.json_text([])}

    def values(row: dict[str, Any]) -> list[Any]:
        out: list[Any] = [campaign_id, row["recipient_id"], now, now, priority]
        for column, default in _DELIVERY_DEFAULTS.items():
            value = row.get(column, default)
            if column == "refused_by":
                key = tuple(value)
                value = refused[key] if key in refused else refused.setdefault(key, bulk.json_text(value))
            out.append(value)
        return out

    bulk.rows_write(Delivery, columns, (values(row) for row in rows))


_RECIPIENT_COLUMNS = (
    "id", "campaign_id", "person_id", "name", "language", "establishment_name", "email", "mobile_phone",
    "landline_phone", "webhook_url", "matrix_id", "channels", "values", "acknowledged_at", "answer",
    "answer_kind", "answer_minutes", "answered_at", "standby",
)


def _insert_recipients(rows: list[Recipient]) -> None:
    """The recipients with their primary keys set: ids reserved and rows streamed on
    PostgreSQL (a national campaign has a million), the ORM elsewhere."""
    ids = bulk.ids_reserve(Recipient, len(rows))
    if ids is None:
        Recipient.objects.bulk_create(rows, batch_size=500)
        return
    # Channel lists repeat from one recipient to the next: each is written to JSON once.
    texts: dict[tuple[str, ...], str] = {}

    def as_text(channels: list[str]) -> str:
        key = tuple(channels)
        if key not in texts:
            texts[key] = bulk.json_text(channels)
        return texts[key]

    def values(recipient: Recipient, pk: int) -> tuple[Any, ...]:
        recipient.pk = pk
        recipient._state.adding = False
        links = recipient.values
        return (
            pk, recipient.campaign_id, recipient.person_id, recipient.name, recipient.language,
            recipient.establishment_name, recipient.email, recipient.mobile_phone, recipient.landline_phone,
            recipient.webhook_url, recipient.matrix_id, as_text(recipient.channels),
            bulk.json_text(links) if links else "{}", None, None, "", None, None, recipient.standby,
        )

    bulk.rows_write(Recipient, _RECIPIENT_COLUMNS, (values(r, pk) for r, pk in zip(rows, ids, strict=True)))


def campaign_cancel(*, actor: Actor, campaign: Campaign) -> int:
    """Stop what has not gone yet; what is being sent right now finishes."""
    if not rights.may_send_alerts(actor, establishment=campaign.establishment, region=campaign.region):
        raise PermissionDenied(_("You are not allowed to send alerts here."))
    with transaction.atomic():
        count = Delivery.objects.filter(
            campaign=campaign, status__in=(DeliveryStatus.HELD, DeliveryStatus.QUEUED)
        ).update(status=DeliveryStatus.CANCELLED, reason="cancelled", updated_at=timezone.now())
        Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.CANCELLED, finished_at=timezone.now())
        audit_record(
            actor=actor, action="alerting.campaign_cancel", obj=campaign, establishment=campaign.establishment,
            changes={"cancelled_deliveries": count},
        )
    return count


def campaign_finish_if_done(campaign_id: int) -> None:
    """A campaign is done when nothing is left to send; one that waits for
    acknowledgements (keep_open) is "open" until every person alerted has
    acknowledged (deputies left on standby do not count), then done."""
    campaign = Campaign.objects.filter(pk=campaign_id).values("status", "keep_open").first()
    if campaign is None or campaign["status"] not in (CampaignStatus.SENDING, CampaignStatus.OPEN):
        return
    deliveries = Delivery.objects.filter(campaign_id=campaign_id)
    if not campaign["keep_open"]:
        if not deliveries.filter(status__in=ACTIVE_STATUSES).exists():
            Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.SENDING).update(
                status=CampaignStatus.DONE, finished_at=timezone.now()
            )
        return
    sending = deliveries.filter(
        Q(status__in=(DeliveryStatus.QUEUED, DeliveryStatus.SENDING))
        | Q(status=DeliveryStatus.HELD) & ~Q(reason=STANDBY)
    ).exists()
    if sending:
        status = CampaignStatus.SENDING
    elif (
        waiting_recipients(campaign_id=campaign_id).exists()
        or FollowUp.objects.filter(campaign_id=campaign_id, status=FollowUpStatus.PENDING).exists()
    ):
        status = CampaignStatus.OPEN
    else:
        status = CampaignStatus.DONE
    Campaign.objects.filter(pk=campaign_id, status__in=(CampaignStatus.SENDING, CampaignStatus.OPEN)).exclude(
        status=status
    ).update(status=status, finished_at=timezone.now() if status == CampaignStatus.DONE else None)


def waiting_recipients(*, campaign_id: int) -> models.QuerySet[Recipient]:
    """The people alerted who have not acknowledged: some message was meant for them
    (a deputy still on standby, or no longer needed, was not)."""
    alerted = Delivery.objects.filter(recipient=models.OuterRef("pk")).exclude(
        Q(status=DeliveryStatus.CANCELLED) | Q(status=DeliveryStatus.HELD, reason=STANDBY)
    )
    return Recipient.objects.filter(campaign_id=campaign_id, acknowledged_at__isnull=True).filter(
        models.Exists(alerted)
    )


def campaign_close(*, actor: Actor, campaign: Campaign) -> int:
    """A user closes a campaign that waits for acknowledgements: nothing more is sent
    (what is not yet sent, later follow-ups and standby deputies are cancelled; a message
    being sent right now finishes), and it shows as done, closed by whom. Returns how
    many deliveries were cancelled."""
    if not rights.may_send_alerts(actor, establishment=campaign.establishment, region=campaign.region):
        raise PermissionDenied(_("You are not allowed to send alerts here."))
    now = timezone.now()
    with transaction.atomic():
        closed = Campaign.objects.filter(
            pk=campaign.pk, status__in=(CampaignStatus.SENDING, CampaignStatus.OPEN)
        ).update(status=CampaignStatus.DONE, finished_at=now, closed_at=now, closed_by=_label(actor)[:200])
        if not closed:
            raise ValidationError(_("This campaign is already finished."))
        count = Delivery.objects.filter(
            campaign=campaign, status__in=(DeliveryStatus.HELD, DeliveryStatus.QUEUED)
        ).update(status=DeliveryStatus.CANCELLED, reason="closed", updated_at=now)
        followups = FollowUp.objects.filter(campaign=campaign, status=FollowUpStatus.PENDING).update(
            status=FollowUpStatus.CANCELLED
        )
        audit_record(
            actor=actor, action="alerting.campaign_close", obj=campaign, establishment=campaign.establishment,
            changes={
                "cancelled_deliveries": count, "cancelled_followups": followups,
                "not_acknowledged": waiting_recipients(campaign_id=campaign.pk).count(),
            },
        )
    campaign.refresh_from_db()
    return count


def _label(actor: Actor) -> str:
    return user_label(actor)
