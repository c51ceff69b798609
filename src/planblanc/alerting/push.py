"""Web Push subscriptions: a person's devices (services and reads). The channel itself
is channels/webpush.py; it never touches these rows: the engine passes it the devices
and removes those it reports gone."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from planblanc.accounts.audit import audit_record
from planblanc.alerting.channels.base import SENT, SendResult
from planblanc.alerting.models import PushSubscription
from planblanc.directory.models import Person

MAX_SUBSCRIPTION_BYTES = 4096
MAX_DEVICES = 20


def subscribed_person_ids(person_ids: Iterable[int]) -> set[int]:
    ids = list(person_ids)
    if not ids:
        return set()
    return set(PushSubscription.objects.filter(person_id__in=ids).values_list("person_id", flat=True))


def subscriptions_for(*, person_id: int) -> tuple[dict[str, Any], ...]:
    return tuple(s.as_info() for s in PushSubscription.objects.filter(person_id=person_id).order_by("id"))


def push_results_record(*, result: SendResult, now: datetime) -> None:
    """Devices reported gone (404/410) are removed; a success is dated."""
    if result.gone_endpoints:
        PushSubscription.objects.filter(endpoint__in=result.gone_endpoints).delete()
    if result.outcome == SENT and result.reached_endpoints:
        PushSubscription.objects.filter(endpoint__in=result.reached_endpoints).update(last_success_at=now)


def _person_of(user: Any) -> Person:
    person = Person.objects.filter(user=user).first() if getattr(user, "is_authenticated", False) else None
    if person is None:
        raise Http404
    return person


def devices_of(*, user: Any) -> QuerySet[PushSubscription]:
    person = Person.objects.filter(user=user).first() if getattr(user, "is_authenticated", False) else None
    if person is None:
        return PushSubscription.objects.none()
    return PushSubscription.objects.filter(person=person)


def push_subscription_add(*, user: Any, raw: bytes | str, user_agent: str = "") -> PushSubscription:
    """Record the device the logged-in person subscribes from (the browser's
    PushSubscription.toJSON()). The same device again updates its keys."""
    person = _person_of(user)
    if len(raw) > MAX_SUBSCRIPTION_BYTES:
        raise ValidationError(_("This push subscription is too large."))
    try:
        data = json.loads(raw)
        endpoint = str(data["endpoint"])
        p256dh = str(data["keys"]["p256dh"])
        auth = str(data["keys"]["auth"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationError(_("This push subscription is not valid.")) from exc
    if not endpoint.startswith("https://") and not endpoint.startswith("http://127.0.0.1"):
        raise ValidationError(_("This push subscription is not valid."))
    if not (0 < len(p256dh) <= 200 and 0 < len(auth) <= 100 and len(endpoint) <= 1000):
        raise ValidationError(_("This push subscription is not valid."))
    with transaction.atomic():
        if PushSubscription.objects.filter(person=person).exclude(endpoint=endpoint).count() >= MAX_DEVICES:
            raise ValidationError(_("At most %(max)d devices per person: remove one first.") % {"max": MAX_DEVICES})
        subscription, created = PushSubscription.objects.update_or_create(
            endpoint=endpoint,
            defaults={"person": person, "p256dh": p256dh, "auth": auth, "user_agent": user_agent[:300]},
        )
        audit_record(
            actor=user, action="alerting.push_subscribe", obj=subscription,
            changes={"person": person.pk, "device": user_agent[:100], "new": created},
        )
    return subscription


def push_subscription_remove(*, user: Any, subscription_id: int) -> None:
    """Remove one of one's own devices; anyone else's is a 404."""
    person = _person_of(user)
    with transaction.atomic():
        subscription = PushSubscription.objects.filter(pk=subscription_id, person=person).first()
        if subscription is None:
            raise Http404
        audit_record(actor=user, action="alerting.push_unsubscribe", obj=subscription,
                     changes={"person": person.pk, "device": subscription.user_agent[:100]})
        subscription.delete()
