"""Writes of the alerting engine: campaigns and their outbox, claiming and sending
deliveries, retries and fallbacks, receipts and acknowledgements.

Nothing lost: `campaign_create` writes the campaign, its recipients and every delivery
row in one transaction, and only wakes workers once that is committed. Nothing twice:
a worker claims due rows with a lease (SKIP LOCKED on PostgreSQL, a conditional UPDATE
under SQLite's write lock), hands them to a provider one by one and commits each
result as soon as the provider has answered for it. The one window that no protocol
without a query-by-id can close — the relay said 250 and the worker died before its
commit — is kept to a single row UPDATE, and the re-sent message carries the same
Message-ID as the first."""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import connection, models, transaction
from django.db.models import F, Q
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from planblanc import rights
from planblanc.accounts.audit import audit_record
from planblanc.actors import Actor
from planblanc.alerting import answers as answer_set
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
    AckChannel,
    Acknowledgement,
    Campaign,
    CampaignMode,
    CampaignSeat,
    CampaignSeatMember,
    CampaignStatus,
    Channel,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    PendingReceipt,
    Recipient,
    RecipientAnswer,
)
from planblanc.alerting.templating import render, template_check, template_fill
from planblanc.core.heartbeat import dead_worker_ids, heartbeat_fresh
from planblanc.directory.models import Establishment, Person, Region
from planblanc.tenancy import user_label

logger = logging.getLogger(__name__)

ACTIVE_STATUSES = (DeliveryStatus.HELD, DeliveryStatus.QUEUED, DeliveryStatus.SENDING)
NO_CHANNEL = "no channel"
# The reason of a deputy's deliveries while they wait for their holder's answer.
STANDBY = "standby"


# Campaigns -----------------------------------------------------------------------------


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
    channels: tuple[str, ...] = field(default_factory=tuple)
    # A deputy: their deliveries wait (held) until the holder of their seat declines or
    # stays silent (see SeatInput).
    standby: bool = False
    # Values for this recipient's message: {"link": "https://…"} fills {link}.
    values: dict[str, str] = field(default_factory=dict)


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


def _usable(channel: str, address: str, *, push_people: set[int] | frozenset[int] = frozenset()) -> bool:
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
            keep_open=keep_open, answers=cleaned_answers,
            rendezvous={k: str(v)[:300] for k, v in (rendezvous or {}).items() if v},
        )
        configured = {channel for channel in Channel.values if providers_for(channel)}
        push_people: set[int] = set()
        if Channel.PUSH in configured:
            from planblanc.alerting.push import subscribed_person_ids

            push_people = subscribed_person_ids([item.person.pk for item in recipients if item.person is not None])
        planned: list[tuple[Recipient, list[str]]] = []
        rows = []
        for item in recipients:
            recipient = Recipient(
                campaign=campaign, person=item.person, name=item.name[:200], language=item.language or "fr",
                establishment_name=(item.establishment_name or scope_name)[:200], email=item.email.strip(),
                mobile_phone=item.mobile_phone, landline_phone=item.landline_phone, webhook_url=item.webhook_url,
                standby=item.standby,
                matrix_id=item.matrix_id[:255],
                values={key: str(value)[:500] for key, value in item.values.items() if key == "link"},
            )
            steps = [
                channel for channel in dict.fromkeys(item.channels or campaign.channels)
                if channel in configured and _usable(channel, recipient.address_for(channel), push_people=push_people)
            ]
            recipient.channels = steps
            rows.append(recipient)
            planned.append((recipient, steps))
        Recipient.objects.bulk_create(rows, batch_size=500)
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
        _insert_deliveries(campaign_id=campaign.pk, rows=deliveries, now=now)
        _seats_write(campaign=campaign, seats=seats, recipients=rows, now=now, after_minutes=standby_after_minutes)
        audit_record(
            actor=actor, action="alerting.campaign_create", obj=campaign, establishment=establishment,
            changes={
                "title": title, "recipients": len(rows), "channels": campaign.channels,
                "is_exercise": is_exercise, "region": region.pk if region else None,
                "mode": mode, "keep_open": keep_open, "answers": len(cleaned_answers), "seats": len(seats),
            },
        )
        _finish_if_done(campaign.pk)
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


def _insert_deliveries(*, campaign_id: int, rows: list[dict[str, Any]], now: datetime) -> None:
    """The outbox rows, by executemany: the ORM's bulk_create spends several seconds
    preparing 10,000 rows of 25 fields one value at a time."""
    columns = ["campaign_id", "recipient_id", "created_at", "updated_at", *_DELIVERY_DEFAULTS]
    fields = {f.attname: f for f in Delivery._meta.concrete_fields}
    prepared: dict[tuple[str, Any], Any] = {}

    def prep(column: str, value: Any) -> Any:
        # Each distinct value of a column is adapted once (dates, JSON, texts).
        key = (column, value if not isinstance(value, list) else tuple(value))
        if key not in prepared:
            prepared[key] = fields[column].get_db_prep_save(value, connection)
        return prepared[key]

    stamp = prep("created_at", now)
    values = [
        [campaign_id, row["recipient_id"], stamp, stamp, *(
            prep(column, row.get(column, default)) if column in ("refused_by", "next_attempt_at", "failed_at", "lease_until")
            else row.get(column, default)
            for column, default in _DELIVERY_DEFAULTS.items()
        )]
        for row in rows
    ]
    table = connection.ops.quote_name(Delivery._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({', '.join(connection.ops.quote_name(c) for c in columns)}) "  # noqa: S608 - our own table and columns
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(values), 1000):
            cursor.executemany(sql, values[start:start + 1000])


# The task that sends (alerting/tasks.py) and what follows an acknowledgement (the
# escalation stops) are registered here by AlertingConfig.ready: this module never
# imports them, they import it.
_delivery_task: Any = None
_acknowledgement_listeners: list[Callable[..., object]] = []


def delivery_task_register(task: Any) -> None:
    global _delivery_task
    _delivery_task = task


def acknowledgement_listener_register(listener: Callable[..., object]) -> None:
    """`listener(campaign_id=…, by=…)` is called after each first acknowledgement."""
    if listener not in _acknowledgement_listeners:
        _acknowledgement_listeners.append(listener)


def workers_wake(run_after: datetime | None = None) -> None:
    """Queue a wake-up of the delivery workers (now, or at `run_after`)."""
    if _delivery_task is None:
        logger.warning("no delivery task registered: the alert worker's polling will send")
        return
    try:
        if run_after is None:
            _delivery_task.enqueue()
        else:
            _delivery_task.using(run_after=run_after).enqueue()
    except Exception:  # the rows are safe in the outbox; `alert_worker` polls for them anyway
        logger.exception("could not enqueue the delivery task")


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


def _finish_if_done(campaign_id: int) -> None:
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


# Claiming --------------------------------------------------------------------------------


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


def deliveries_claim(*, worker_id: str, limit: int = 200, lease_seconds: int | None = None) -> Claimed:
    """Lease up to `limit` due deliveries to this worker. Several workers may call this
    at once: a row goes to one of them only."""
    now = timezone.now()
    lease_until = now + timedelta(seconds=lease_seconds or settings.ALERTING_LEASE_SECONDS)
    with transaction.atomic():
        due = Delivery.objects.filter(_due_q(now)).order_by("next_attempt_at", "id")
        if connection.vendor == "postgresql":
            due = due.select_for_update(skip_locked=True, of=("self",))
        # On SQLite the transaction began with BEGIN IMMEDIATE: we hold the write lock,
        # and the UPDATE below re-checks the condition anyway.
        found = list(due.values_list("id", "status")[:limit])
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
        reclaimed_ids={pk for pk, status in found if status == DeliveryStatus.SENDING},
    )


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
        from planblanc.alerting.push import subscriptions_for

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
    from planblanc.alerting.capacity import provider_rate

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
        from concurrent.futures import ThreadPoolExecutor

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
        _finish_if_done(campaign_id)
    return sent


def _send_group(
    provider: Provider, providers: list[Provider], deliveries: list[Delivery], *, claimed: Claimed, worker_id: str,
    stop: threading.Event | None = None,
) -> int:
    from planblanc.alerting.capacity import pacer_for

    by_id = {d.pk: d for d in deliveries}
    handed: dict[int, float] = {}
    answered: set[int] = set()
    lease_margin = max(1.0, settings.ALERTING_LEASE_SECONDS / 4)
    pacer = pacer_for(provider)
    pace_deadline = claimed.lease_until.timestamp() - lease_margin

    def feed() -> Iterator[OutgoingMessage]:
        for delivery in deliveries:
            # Stop before the lease runs out (another worker may then take the rest), or
            # when asked to stop: between two messages, never inside one.
            if (claimed.lease_until - timezone.now()).total_seconds() < lease_margin:
                return
            if stop is not None and stop.is_set():
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
        from planblanc.alerting.push import push_results_record

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


# Receipts --------------------------------------------------------------------------------


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


# Acknowledgements ------------------------------------------------------------------------

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
            actor=f"recipient:{recipient.name}", action="alerting.acknowledge", obj=recipient,
            establishment=delivery.campaign.establishment,
            changes={"campaign": delivery.campaign_id, "delivery": delivery.pk, "via": via},
        )
        _finish_if_done(delivery.campaign_id)
        # An acknowledgement of an escalation's message stops the escalation.
        for listener in _acknowledgement_listeners:
            listener(campaign_id=delivery.campaign_id, by=recipient.name)
    return ack


# Answers ----------------------------------------------------------------------------------


def recipient_answer(
    *, recipient: Recipient, answer: int, via: str, minutes: int | None = None, delivery: Delivery | None = None,
) -> RecipientAnswer:
    """Record a person's answer to their campaign's question. THE entry point for every
    channel that carries answers (signed link, SMS keyword, voice keypad, the app, Web
    Push actions, chat room replies); the caller has already established who answers.

    - `recipient`: the Recipient row answering (the channel resolved it: signed token,
      sender number, logged-in user…);
    - `answer`: the answer's number, from 1, in `recipient.campaign.answers` order
      (default set: 1 coming, 2 cannot, 3 remote; see alerting/answers.py);
    - `via`: an AckChannel value ("link", "sms", "voice", "app", "push", "matrix");
    - `minutes`: the arrival delay, kept only for a "coming" answer (0 to 1440);
    - `delivery`: the message answered, if known (else the latest one sent to them).

    An answer is also an acknowledgement (the first one acknowledges: later channel
    steps are cancelled). A person may answer again: the latest answer counts, every one
    is kept in RecipientAnswer and the audit log. A "cannot" from a seat holder alerts
    the seat's deputies at once (their standby follow-up falls due now). Raises
    ValidationError for an answer the campaign does not have, or a campaign that was
    cancelled or closed."""
    campaign = recipient.campaign
    choices = answer_set.choices_of(campaign.answers)
    if not choices:
        raise ValidationError({"answer": [_("This alert asks for no answer.")]})
    if not isinstance(answer, int) or not 1 <= answer <= len(choices):
        raise ValidationError({"answer": [_("Choose one of the answers.")]})
    if via not in AckChannel.values:
        raise ValidationError({"via": [_("Unknown channel: %(names)s.") % {"names": via}]})
    choice = choices[answer - 1]
    if choice.asks_minutes and minutes is not None:
        if not 0 <= minutes <= answer_set.MAX_MINUTES:
            raise ValidationError({"minutes": [
                _("The arrival delay is between 0 and %(max)d minutes.") % {"max": answer_set.MAX_MINUTES}
            ]})
    else:
        minutes = None
    if campaign.status == CampaignStatus.CANCELLED or campaign.closed_at is not None:
        raise ValidationError({"answer": [_("This alert is closed: tell the crisis cell by another way.")]})
    now = timezone.now()
    if delivery is None:
        delivery = _latest_delivery(recipient)
    with transaction.atomic():
        row = RecipientAnswer.objects.create(
            recipient=recipient, delivery=delivery, answer=answer, kind=choice.kind, minutes=minutes, via=via,
            answered_at=now,
        )
        Recipient.objects.filter(pk=recipient.pk).update(
            answer=answer, answer_kind=choice.kind, answer_minutes=minutes, answered_at=now
        )
        audit_record(
            actor=f"recipient:{recipient.name}"[:100], action="alerting.answer", obj=recipient,
            establishment=campaign.establishment,
            changes={"campaign": campaign.pk, "answer": answer, "kind": choice.kind, "minutes": minutes, "via": via},
        )
        if delivery is not None:
            acknowledgement_record(delivery=delivery, via=via)
        if choice.kind == answer_set.CANNOT:
            _standby_call_now(recipient=recipient, now=now)
        _finish_if_done(campaign.pk)
    recipient.answer, recipient.answer_kind, recipient.answer_minutes, recipient.answered_at = (
        answer, choice.kind, minutes, now
    )
    return row


def _latest_delivery(recipient: Recipient) -> Delivery | None:
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


def _standby_call_now(*, recipient: Recipient, now: datetime) -> None:
    """The holder declined: the standby follow-up of each seat they hold falls due now
    (again, if it ran earlier while they had said they were coming)."""
    seats = CampaignSeatMember.objects.filter(recipient=recipient, rank=0).values("seat_id")
    due = FollowUp.objects.filter(kind=FollowUpKind.STANDBY, seat_id__in=seats)
    changed = due.filter(status=FollowUpStatus.PENDING, due_at__gt=now).update(due_at=now)
    # Taken earlier without alerting anyone (the holder was coming then): once more.
    changed += due.filter(status=FollowUpStatus.DONE, recipients_count=0).update(
        status=FollowUpStatus.PENDING, due_at=now, taken_at=None
    )
    if changed:
        transaction.on_commit(workers_wake)


# SMS callbacks (Kannel delivery reports and replies) -------------------------------------

ACK_KEYWORDS = frozenset({"OK", "1", "ACK"})


def sms_reply_record(*, sender: str, text: str) -> Acknowledgement | None:
    """A reply by SMS. To a campaign that asks a question (the latest one sent to this
    number that is still open): an answer, "1 20" (coming in 20 minutes), "OUI 20",
    "2", "NON", "3"… (alerting/answers.py). Otherwise "OK", "1" or "ACK", optionally
    followed by the campaign's short code (its number, given in the SMS), acknowledges
    the sender's latest delivery still open (of that campaign). Anything else is
    ignored."""
    from planblanc.directory.validators import phone_normalize

    words = (text or "").strip().upper().replace(".", " ").split()
    if not words:
        return None
    try:
        number = phone_normalize(sender)
    except ValidationError:
        number = sender.strip()
    if number and not number.startswith("+") and number.isdigit() and len(number) > 10:
        number = "+" + number
    recent = (
        Delivery.objects.filter(
            channel=Channel.SMS, address__in={number, sender.strip()},
            status__in=(DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.ACKNOWLEDGED),
            campaign__status__in=(CampaignStatus.SENDING, CampaignStatus.OPEN),
        )
        .select_related("recipient", "campaign").order_by("-sent_at", "-id")[:10]
    )
    asked = next((d for d in recent if d.campaign.answers), None)
    if asked is not None:
        parsed = answer_set.answer_parse(text, asked.campaign.answers)
        if parsed is not None:
            try:
                recipient_answer(
                    recipient=asked.recipient, answer=parsed[0], minutes=parsed[1], via="sms", delivery=asked
                )
            except ValidationError:
                return None
            return Acknowledgement.objects.filter(recipient=asked.recipient).first()
    if words[0] not in ACK_KEYWORDS:
        return None
    deliveries = Delivery.objects.filter(
        channel=Channel.SMS, address__in={number, sender.strip()},
        status__in=(DeliveryStatus.SENT, DeliveryStatus.DELIVERED), recipient__acknowledged_at__isnull=True,
    )
    if len(words) > 1 and words[1].isdigit():
        deliveries = deliveries.filter(campaign_id=int(words[1]))
    delivery = deliveries.select_related("recipient", "campaign").order_by("-sent_at", "-id").first()
    if delivery is None:
        return None
    return acknowledgement_record(delivery=delivery, via="sms")


def acknowledgement_in_app(*, user: Any, recipient_id: int) -> Acknowledgement:
    """The logged-in recipient acknowledges from the application. Only their own alerts:
    anyone else's is a 404, like everything outside one's scope."""
    recipient = _own_recipient(user=user, recipient_id=recipient_id)
    # Tie the acknowledgement to the message they most likely read: the latest one sent.
    delivery = _latest_delivery(recipient)
    if delivery is None:
        raise Http404
    return acknowledgement_record(delivery=delivery, via="app")


def _own_recipient(*, user: Any, recipient_id: int) -> Recipient:
    if not getattr(user, "is_authenticated", False):
        raise Http404
    recipient = Recipient.objects.filter(pk=recipient_id, person__user=user).select_related("campaign").first()
    if recipient is None:
        raise Http404
    return recipient


def answer_in_app(*, user: Any, recipient_id: int, answer: int, minutes: int | None = None) -> RecipientAnswer:
    """The logged-in recipient answers from the application (their own alerts only)."""
    recipient = _own_recipient(user=user, recipient_id=recipient_id)
    return recipient_answer(recipient=recipient, answer=answer, minutes=minutes, via="app")


def email_send_direct(*, messages: Sequence[OutgoingMessage]) -> dict[int, bool]:
    """Send ready-made emails through the first configured email provider, outside any
    campaign (no acknowledgement link, no alert wording): a phishing drill's messages.
    Returns {delivery_id of the message: sent}."""
    providers = providers_for(str(Channel.EMAIL))
    if not providers:
        raise ValidationError(_("No email channel is configured."))
    return {result.delivery_id: result.outcome == SENT for result in providers[0].send(messages)}
