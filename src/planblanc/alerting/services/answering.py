"""Answers of recipients to their campaign's question (coming, cannot, remote…), by
every channel, and the SMS replies that carry answers or acknowledgements."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc import actors
from planblanc.accounts.audit import audit_record
from planblanc.alerting import answers as answer_set
from planblanc.alerting.models import (
    AckChannel,
    Acknowledgement,
    CampaignSeatMember,
    CampaignStatus,
    Channel,
    Delivery,
    DeliveryStatus,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Recipient,
    RecipientAnswer,
)
from planblanc.alerting.services.acknowledgements import (
    acknowledgement_record,
    delivery_latest,
    recipient_own,
)
from planblanc.alerting.services.campaigns import campaign_finish_if_done
from planblanc.alerting.services.hooks import workers_wake
from planblanc.directory.validators import phone_normalize


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
        delivery = delivery_latest(recipient)
    with transaction.atomic():
        row = RecipientAnswer.objects.create(
            recipient=recipient, delivery=delivery, answer=answer, kind=choice.kind, minutes=minutes, via=via,
            answered_at=now,
        )
        Recipient.objects.filter(pk=recipient.pk).update(
            answer=answer, answer_kind=choice.kind, answer_minutes=minutes, answered_at=now
        )
        audit_record(
            actor=actors.recipient(recipient.name[:90]), action="alerting.answer", obj=recipient,
            establishment=campaign.establishment,
            changes={"campaign": campaign.pk, "answer": answer, "kind": choice.kind, "minutes": minutes, "via": via},
        )
        if delivery is not None:
            acknowledgement_record(delivery=delivery, via=via)
        if choice.kind == answer_set.CANNOT:
            _standby_call_now(recipient=recipient, now=now)
        campaign_finish_if_done(campaign.pk)
    recipient.answer, recipient.answer_kind, recipient.answer_minutes, recipient.answered_at = (
        answer, choice.kind, minutes, now
    )
    return row


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


def answer_in_app(*, user: Any, recipient_id: int, answer: int, minutes: int | None = None) -> RecipientAnswer:
    """The logged-in recipient answers from the application (their own alerts only)."""
    recipient = recipient_own(user=user, recipient_id=recipient_id)
    return recipient_answer(recipient=recipient, answer=answer, minutes=minutes, via="app")
