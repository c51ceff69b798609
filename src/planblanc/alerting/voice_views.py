"""The voice platform's callback: the call's outcome (a delivery receipt) and the keypad
digits (1 = acknowledged). The signed token in the address names the delivery and is
the credential; a forged or stale one gets 403 and changes nothing."""

from __future__ import annotations

import time

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from planblanc.alerting import services
from planblanc.alerting.answers import answer_parse
from planblanc.alerting.channels.base import Receipt, Reply, providers_for
from planblanc.alerting.channels.voice import ACK_DIGIT, VoiceProvider, callback_delivery_id
from planblanc.alerting.models import Channel, Delivery, DeliveryStatus


def voice_callback_record(
    *, delivery_id: int, receipts: list[Receipt], replies: list[Reply], wait_seconds: float = 5.0
) -> tuple[int, bool]:
    """Apply a call's outcome and keypad digits to its delivery; returns (receipts
    applied, acknowledged). The platform may call back before the worker has committed
    the send: a callback about a row still being sent waits briefly for that commit."""
    deadline = time.monotonic() + wait_seconds
    while Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.SENDING).exists():
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    delivery = Delivery.objects.select_related("recipient", "campaign").filter(
        pk=delivery_id, channel=Channel.VOICE
    ).first()
    if delivery is None:
        return 0, False
    # A campaign that asks a question: the digit is the answer (1 coming, 2 cannot,
    # 3 remote for the default set; "1" then more digits: coming, in that many minutes).
    answer = None
    if delivery.campaign.answers:
        answer = next(
            (parsed for reply in replies
             if (parsed := answer_parse(reply.text.strip(), delivery.campaign.answers)) is not None),
            None,
        )
    acknowledged = answer is not None or any(reply.text.strip().startswith(ACK_DIGIT) for reply in replies)
    applied = 0
    with transaction.atomic():
        for receipt in receipts:
            # The token names the delivery; the platform's call id is not trusted to.
            applied += services.delivery_record_receipt(
                channel=str(Channel.VOICE), provider_message_id=delivery.provider_message_id,
                delivered=receipt.delivered or acknowledged, error=receipt.error,
            ) if delivery.provider_message_id else 0
        if answer is not None:
            delivery.refresh_from_db()
            try:
                services.recipient_answer(
                    recipient=delivery.recipient, answer=answer[0], minutes=answer[1], via="voice",
                    delivery=delivery,
                )
            except ValidationError:  # the campaign was closed meanwhile: nothing to record
                acknowledged = False
        elif acknowledged:
            delivery.refresh_from_db()
            services.acknowledgement_record(delivery=delivery, via="voice")
    return applied, acknowledged


def _voice_provider(name: str) -> VoiceProvider:
    for provider in providers_for("voice"):
        if provider.name == name and isinstance(provider, VoiceProvider):
            return provider
    raise Http404


@csrf_exempt
@never_cache
@require_POST
def voice_callback(request: HttpRequest, provider: str, token: str) -> HttpResponse:
    voice = _voice_provider(provider)
    try:
        delivery_id = callback_delivery_id(token)
    except PermissionDenied:
        return HttpResponse("forbidden", status=403, content_type="text/plain")
    applied, acknowledged = voice_callback_record(
        delivery_id=delivery_id, receipts=voice.parse_receipt(request), replies=voice.parse_reply(request),
    )
    return HttpResponse("acknowledged" if acknowledged else f"{applied}", content_type="text/plain")
