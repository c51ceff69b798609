"""The staff situation page (page de situation du personnel): during a crisis, the cell
publishes in plain French which services run in degraded mode, which applications are
stopped, what to do and when the next update comes. Staff read it without an account
through an unguessable link (revocable: revoking makes a new one), on a phone or
printed, and may ask to be told of each update by email, SMS or on their devices
(Web Push). The page is served by the platform, which runs outside the attacked network.

The first text is prepared from the status board (departments not normal, IT systems
not up) and the staff communication template; the cell edits it before publishing."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc import rights
from planblanc.accounts.audit import audit_record
from planblanc.actors import CRISIS_PROCESS, Actor
from planblanc.crisis.chain import nfc
from planblanc.crisis.models import (
    Crisis,
    CrisisStatus,
    DepartmentState,
    DepartmentStatus,
    SituationSubscriber,
    StaffSituation,
    SystemState,
    SystemStatus,
)
from planblanc.directory.models import Person

MAX_FIELD = 4000
MAX_SUBSCRIBERS = 5000


def situation_url(situation: StaffSituation) -> str:
    return settings.ALERTING_PUBLIC_URL + reverse("situation_public", args=[situation.token])


def situation_draft(*, crisis: Crisis) -> dict[str, str]:
    """What the status board and the staff template say today."""
    from planblanc.crisis.communication import communication_render

    departments = DepartmentStatus.objects.filter(crisis=crisis).exclude(status=DepartmentState.NORMAL)
    systems = SystemStatus.objects.filter(crisis=crisis).exclude(status__in=(SystemState.UP, SystemState.RESTORED))
    try:
        what = communication_render(crisis=crisis, template_key="staff")["message_fr"]
    except ValidationError:
        what = ""
    return {
        "degraded_services": "\n".join(
            f"{row.name} : {row.get_status_display()}" + (f" — {row.note}" if row.note else "") for row in departments
        ),
        "stopped_applications": "\n".join(
            f"{row.name} : {row.get_status_display()}" + (f" — {row.note}" if row.note else "") for row in systems
        ),
        "what_to_do": what,
    }


def situation_of(*, crisis: Crisis) -> StaffSituation | None:
    return StaffSituation.objects.filter(crisis=crisis).first()


def situation_publish(
    *, actor: Actor, crisis: Crisis, degraded_services: str, stopped_applications: str, what_to_do: str,
    next_update_at: datetime | None,
) -> StaffSituation:
    """Publish (or update) the page and tell its subscribers."""
    rights.require_run_crisis(actor, crisis)
    texts = {
        "degraded_services": nfc(degraded_services or "").strip(),
        "stopped_applications": nfc(stopped_applications or "").strip(),
        "what_to_do": nfc(what_to_do or "").strip(),
    }
    errors: dict[str, list[Any]] = {}
    for name, text in texts.items():
        if len(text) > MAX_FIELD:
            errors[name] = [_("At most %(max)d characters.") % {"max": MAX_FIELD}]
    if not texts["what_to_do"]:
        errors["what_to_do"] = [_("Say what staff must do.")]
    if next_update_at is not None and next_update_at <= timezone.now():
        errors["next_update_at"] = [_("The next update must be in the future.")]
    if crisis.status != CrisisStatus.ACTIVE:
        errors["__all__"] = [_("This crisis is over.")]
    if errors:
        raise ValidationError(errors)
    label = getattr(actor, "get_full_name", lambda: "")() or str(actor)
    with transaction.atomic():
        situation, _created = StaffSituation.objects.select_for_update().get_or_create(
            crisis=crisis, defaults={"token": secrets.token_urlsafe(24)},
        )
        for name, text in texts.items():
            setattr(situation, name, text)
        situation.next_update_at = next_update_at
        situation.version += 1
        situation.published_at = timezone.now()
        situation.published_by_label = label[:200]
        situation.save()
        audit_record(actor=actor, action="crisis.situation_publish", obj=situation,
                     establishment=crisis.establishment, changes={"version": situation.version})
        _notify(situation)
    return situation


def _notify(situation: StaffSituation) -> None:
    """One campaign to the subscribers, with the link (inside the publishing transaction:
    the outbox is written with it)."""
    from planblanc.alerting.services import RecipientInput, campaign_create

    recipients = []
    for sub in situation.subscribers.select_related("person"):
        if sub.channel == "email":
            recipients.append(RecipientInput(name=sub.address, email=sub.address, channels=("email",)))
        elif sub.channel == "sms":
            recipients.append(RecipientInput(name=sub.address, mobile_phone=sub.address, channels=("sms",)))
        elif sub.channel == "push" and sub.person is not None:
            recipients.append(RecipientInput(name=sub.person.full_name, person=sub.person, channels=("push",)))
    if not recipients:
        return
    crisis = situation.crisis
    message = _("Staff situation updated (version %(version)d). Read it here: %(url)s") % {
        "version": situation.version, "url": situation_url(situation),
    }
    campaign_create(
        actor=CRISIS_PROCESS, title=_("Situation update — %(establishment)s") % {
            "establishment": crisis.establishment.name,
        },
        message_fr=message.replace("{", "{{").replace("}", "}}"), recipients=recipients,
        channels=("push", "email", "sms"), establishment=crisis.establishment, is_exercise=crisis.is_exercise,
    )


def situation_revoke(*, actor: Actor, crisis: Crisis) -> StaffSituation:
    """The old link stops working at once; the page gets a new one."""
    rights.require_run_crisis(actor, crisis)
    with transaction.atomic():
        situation = StaffSituation.objects.select_for_update().get(crisis=crisis)
        situation.token = secrets.token_urlsafe(24)
        situation.save(update_fields=["token"])
        audit_record(actor=actor, action="crisis.situation_revoke", obj=situation, establishment=crisis.establishment)
    return situation


def situation_public(*, token: str) -> StaffSituation | None:
    if not token or len(token) > 64:
        return None
    return (
        StaffSituation.objects.filter(token=token, published_at__isnull=False)
        .select_related("crisis__establishment").first()
    )


def situation_subscribe(
    *, situation: StaffSituation, channel: str, address: str = "", person: Person | None = None,
) -> SituationSubscriber:
    """Ask to be told of updates: an email address, a mobile number, or (signed in) one's
    devices."""
    from planblanc.directory.validators import phone_normalize

    address = (address or "").strip()[:255]
    if channel == "email":
        try:
            validate_email(address)
        except ValidationError as exc:
            raise ValidationError({"address": [_("Enter a valid email address.")]}) from exc
        address = address.lower()
    elif channel == "sms":
        try:
            address = phone_normalize(address)
        except ValidationError as exc:
            raise ValidationError({"address": [_("Enter a valid mobile phone number.")]}) from exc
    elif channel == "push":
        if person is None:
            raise ValidationError({"address": [_("Sign in to be notified on your devices.")]})
        address = f"person:{person.pk}"
    else:
        raise ValidationError({"channel": [_("Choose email, SMS or notification.")]})
    if situation.subscribers.count() >= MAX_SUBSCRIBERS:
        raise ValidationError({"address": [_("This page has too many subscribers.")]})
    try:
        with transaction.atomic():
            subscriber, _created = SituationSubscriber.objects.get_or_create(
                situation=situation, channel=channel, address=address, defaults={"person": person},
            )
    except IntegrityError:
        subscriber = SituationSubscriber.objects.get(situation=situation, channel=channel, address=address)
    return subscriber
