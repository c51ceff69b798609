"""Per-person channel preferences: the order in which a person wants to be reached
(among email, SMS, voice and webhook), with quiet hours.

The table is alerting.models.ContactPreference.

Rules, applied when a campaign is written (`recipient_channels`):
- a person without a preference follows the campaign's channel plan;
- a person with one is tried in their own order first, then on the plan's other
  channels (the fallback: a preference never makes someone harder to reach);
- quiet hours (heures calmes) only apply to exercises: in a real crisis they are
  ignored. During quiet hours an exercise uses only the calm channels (email,
  webhook) of that order, if there are any."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, time

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from planblanc import rights
from planblanc.accounts.audit import audit_record
from planblanc.actors import Actor
from planblanc.alerting.models import Channel, ContactPreference
from planblanc.directory.models import Establishment, Person

# Channels that ring or buzz a phone: held back during an exercise's quiet hours.
INTRUSIVE_CHANNELS = frozenset({"sms", "voice"})


def recipient_channels(
    *, preference: ContactPreference | None, plan: Sequence[str], is_exercise: bool, now: datetime,
) -> tuple[str, ...]:
    """The channel order for one person in a campaign whose plan is `plan`; an empty
    tuple means "the campaign's plan" (the engine's own default)."""
    if preference is None or (not preference.channels and not (is_exercise and preference.in_quiet_hours(now))):
        return ()
    order = list(dict.fromkeys([*preference.channels, *plan]))
    if is_exercise and preference.in_quiet_hours(now):
        calm = [channel for channel in order if channel not in INTRUSIVE_CHANNELS]
        if calm:
            order = calm
    return tuple(order)


def preferences_for(*, person_ids: Iterable[int]) -> dict[int, ContactPreference]:
    ids = list(person_ids)
    found: dict[int, ContactPreference] = {}
    for start in range(0, len(ids), 5000):
        for preference in ContactPreference.objects.filter(person_id__in=ids[start:start + 5000]):
            found[preference.person_id] = preference
    return found


def contact_preference_set(
    *, actor: Actor, person: Person, channels: Sequence[str], quiet_from: time | None = None,
    quiet_until: time | None = None,
) -> ContactPreference:
    """Record a person's channel order and quiet hours (the person themself, or someone
    who manages the people of one of their establishments)."""
    if not rights.may_edit_contact_preference(actor, person):
        raise PermissionDenied(_("You are not allowed to change this person's contact preferences."))
    errors: dict[str, list[str]] = {}
    unknown = [channel for channel in channels if channel not in Channel.values]
    if unknown:
        errors["channels"] = [_("Unknown channel: %(names)s.") % {"names": ", ".join(map(str, unknown))}]
    if (quiet_from is None) != (quiet_until is None):
        errors["quiet_until"] = [_("Give both ends of the quiet hours, or neither.")]
    if errors:
        raise ValidationError(errors)
    order = list(dict.fromkeys(channels))
    with transaction.atomic():
        preference, _created = ContactPreference.objects.update_or_create(
            person=person, defaults={"channels": order, "quiet_from": quiet_from, "quiet_until": quiet_until},
        )
        establishment = Establishment.objects.filter(memberships__person=person).order_by("pk").first()
        audit_record(
            actor=actor, action="alerting.contact_preference_set", obj=preference, establishment=establishment,
            changes={
                "person": person.pk, "channels": order,
                "quiet_hours": [quiet_from.isoformat(), quiet_until.isoformat()] if quiet_from and quiet_until else None,
            },
        )
    return preference
