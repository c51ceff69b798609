"""Replies from chat rooms (Matrix, Tchap): acknowledgements with an arrival time,
logbook entries and the status board, for people of the crisis cell only.

    OK | ok | 1                → acknowledged
    j'arrive 20 | j'arrive     → acknowledged, arriving in 20 minutes
    !mc <texte>                → a logbook (main courante) entry authored by the sender
    !etat                      → the status board summary

The sender's Matrix ID is matched to a Person (Person.matrix_id). A sender the
platform does not know, or who is not in the crisis cell, gets a polite refusal and
nothing is written."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, F, When
from django.utils import translation
from django.utils.translation import gettext as _

from planblanc import actors
from planblanc.accounts.audit import audit_record
from planblanc.alerting import answers as answer_set
from planblanc.alerting.answers import CANNOT, COMING, choices_of
from planblanc.alerting.models import ChatRoom, Delivery, DeliveryStatus, Recipient
from planblanc.alerting.services import acknowledgement_record, recipient_answer
from planblanc.directory.models import Person

MAX_CHAT_TEXT = 4000
_OK = re.compile(r"^\s*(ok|okay|1|ack|reçu|recu)\s*[.!]*\s*$", re.IGNORECASE)
_COMING = re.compile(
    r"^\s*j\s*['’ ]?\s*arrive\s*(?:dans\s*)?(?:(\d{1,3})\s*(?:min|mn|minutes?|')?)?\s*[.!]*\s*$", re.IGNORECASE
)


@dataclass(frozen=True)
class ChatAnswer:
    text: str
    handled: bool


def parse_coming(text: str) -> tuple[bool, int | None]:
    """("OK" → acknowledged), ("j'arrive 20" → acknowledged, 20 minutes)."""
    if _OK.match(text):
        return True, None
    match = _COMING.match(text)
    if match:
        return True, int(match.group(1)) if match.group(1) else None
    return False, None


def _answered(*, delivery: Delivery, kind: str, via: str, minutes: int | None = None) -> bool:
    """When the campaign asks a question that has this kind of answer ("coming",
    "cannot"): recorded through services.recipient_answer (counts, cell board, deputies);
    False otherwise, or when the campaign no longer takes answers."""
    number = next((c.number for c in choices_of(delivery.campaign.answers) if c.kind == kind), None)
    if number is None:
        return False
    try:
        recipient_answer(recipient=delivery.recipient, answer=number, minutes=minutes, via=via, delivery=delivery)
    except ValidationError:
        return False
    return True


def _answer_number(delivery: Delivery, kind: str) -> int | None:
    for choice in answer_set.choices_of(delivery.campaign.answers):
        if choice.kind == kind:
            return choice.number
    return None


def answer_record(*, delivery: Delivery, via: str, minutes: int | None = None) -> None:
    """The recipient says they are coming (in `minutes`): their campaign's "coming"
    answer when it asks the question (services.recipient_answer, which acknowledges
    too), a plain acknowledgement otherwise."""
    number = _answer_number(delivery, COMING)
    if number is not None:
        recipient_answer(recipient=delivery.recipient, answer=number, via=via, minutes=minutes, delivery=delivery)
        return
    acknowledgement_record(delivery=delivery, via=via)
    if minutes is not None:
        audit_record(
            actor=actors.recipient(delivery.recipient.name), action="alerting.answer", obj=delivery.recipient,
            establishment=delivery.campaign.establishment,
            changes={"campaign": delivery.campaign_id, "answer": "coming", "minutes": minutes, "via": via},
        )


def decline_record(*, delivery: Delivery, via: str) -> None:
    """The recipient says they cannot come: their campaign's "cannot" answer when it
    asks the question; otherwise only recorded in the audit log (the alert stays open
    for their later channels)."""
    number = _answer_number(delivery, CANNOT)
    if number is not None:
        recipient_answer(recipient=delivery.recipient, answer=number, via=via, delivery=delivery)
        return
    audit_record(
        actor=actors.recipient(delivery.recipient.name), action="alerting.answer", obj=delivery.recipient,
        establishment=delivery.campaign.establishment,
        changes={"campaign": delivery.campaign_id, "answer": "cannot", "via": via},
    )


def _crisis_for(person_ids: list[int], room_id: str):  # noqa: ANN202 - a Crisis or None
    # Crisis is a layer above alerting (known exception in the layers contract): imported when used.
    from planblanc.crisis.models import Crisis, CrisisStatus

    room = ChatRoom.objects.filter(room_id=room_id).select_related("crisis").first()
    if room is not None:
        return room.crisis
    campaigns = Recipient.objects.filter(person_id__in=person_ids).values("campaign_id")
    return (
        Crisis.objects.filter(status=CrisisStatus.ACTIVE, campaign_id__in=campaigns)
        .select_related("establishment").order_by("-declared_at").first()
    )


def _refusal() -> str:
    return _(
        "Hello. This Matrix account is not known to the crisis cell, so nothing was recorded. "
        "Ask the cell to add your Matrix ID to your contact details."
    )


def chat_message_handle(*, sender: str, room_id: str, text: str, via: str = "matrix") -> ChatAnswer:
    """Act on one chat message and say what to answer (in French, the cell's language)."""
    with translation.override("fr"):
        return _handle(sender=sender, room_id=room_id, text=(text or "")[:MAX_CHAT_TEXT].strip(), via=via)


def _handle(*, sender: str, room_id: str, text: str, via: str) -> ChatAnswer:
    # Crisis is a layer above alerting: imported when used.
    from planblanc.crisis.selectors import status_board_summary
    from planblanc.crisis.services import crisis_cell_person_ids, logbook_append_from_chat

    people = list(Person.objects.filter(matrix_id=sender)) if sender else []
    if not people:
        return ChatAnswer(_refusal(), handled=False)
    person_ids = [p.pk for p in people]
    command, _space, rest = text.partition(" ")
    command = command.lower()

    if command in ("!mc", "!etat", "!état"):
        crisis = _crisis_for(person_ids, room_id)
        cell = crisis_cell_person_ids(crisis=crisis) if crisis is not None else set()
        member = next((p for p in people if p.pk in cell), None)
        if crisis is None or member is None:
            return ChatAnswer(_refusal() if crisis is None else _(
                "You are not a member of this crisis cell: nothing was recorded."
            ), handled=False)
        if command == "!mc":
            try:
                entry = logbook_append_from_chat(crisis=crisis, person=member, text=rest, via="Matrix")
            except (ValidationError, PermissionDenied) as exc:
                messages = getattr(exc, "messages", None) or [str(exc)]
                return ChatAnswer(_("Not recorded: %(reason)s") % {"reason": " ".join(messages)}, handled=False)
            return ChatAnswer(_("Logbook entry #%(seq)d recorded.") % {"seq": entry.seq}, handled=True)
        return ChatAnswer(status_board_summary(crisis=crisis), handled=True)

    coming, minutes = parse_coming(text)
    if not coming:
        return ChatAnswer(_(
            "Reply \"OK\" or \"j'arrive 20\" (minutes) to acknowledge, \"!mc …\" followed by your text to write to the logbook, "
            "\"!etat\" for the status board."
        ), handled=False)
    open_recipients = Recipient.objects.filter(person_id__in=person_ids, acknowledged_at__isnull=True)
    room = ChatRoom.objects.filter(room_id=room_id).select_related("crisis").first()
    if room is not None:
        open_recipients = open_recipients.filter(campaign_id=room.crisis.campaign_id)
    recipient = open_recipients.select_related("campaign").order_by("-campaign__created_at", "-id").first()
    delivery = None
    if recipient is not None:
        # The message they most likely read (sent or delivered, Matrix first); one seen in
        # the crisis room counts too, even if their own channels failed.
        delivery = (
            Delivery.objects.filter(recipient=recipient)
            .select_related("recipient", "campaign")
            .order_by(
                Case(When(channel="matrix", then=0), When(status__in=(DeliveryStatus.SENT, DeliveryStatus.DELIVERED),
                                                          then=1), default=2),
                F("sent_at").desc(nulls_last=True), "-id",
            ).first()
        )
    if delivery is None:
        return ChatAnswer(_("No alert is waiting for your answer."), handled=False)
    answer_record(delivery=delivery, via=via, minutes=minutes)
    if minutes is not None:
        return ChatAnswer(_("Thank you, %(name)s: expected in %(minutes)d min.") % {
            "name": recipient.name, "minutes": minutes,
        }, handled=True)
    return ChatAnswer(_("Thank you, %(name)s: acknowledged.") % {"name": recipient.name}, handled=True)
