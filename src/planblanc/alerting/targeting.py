"""Who a campaign reaches: a target (ciblage) made of any combination of whole
establishments, a whole region, groups (GHT), functions, departments, on-call rotations
and hand-picked people, resolved to people within the sender's scope, each person once.

Scope: a campaign hangs from one establishment or from a region. For a region, only the
establishments of that region that the sender may manage count; for an establishment,
the establishments where the sender manages people (a group CISO reaches the group).
Ids from outside that scope are ignored, whatever a form posts.

Criteria add up (a union); a person reached by several of them is one recipient,
attached to the first establishment (by name) where a criterion found them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from planblanc.alerting import preferences, services
from planblanc.alerting.capacity import message_parts, reach_estimate
from planblanc.alerting.channels.base import providers_for
from planblanc.alerting.models import Channel, Delivery, OnCallRotation, Recipient
from planblanc.alerting.oncall import oncall_at
from planblanc.alerting.push import subscribed_person_ids
from planblanc.alerting.selectors import REACHED
from planblanc.alerting.services.campaigns import channel_usable
from planblanc.directory.models import Establishment, Membership, Person, Region
from planblanc.tenancy import Perm

# "Reach 300 establishments in minutes": by default a regional alert goes to the people
# who hold these functions in each establishment, not to every member of staff.
KEY_FUNCTIONS: tuple[str, ...] = ("director", "deputy_director", "ciso", "it_director", "on_call_manager")


@dataclass(frozen=True)
class Target:
    establishment_ids: tuple[int, ...] = ()
    # The whole region the campaign hangs from (regional campaigns only) …
    whole_region: bool = False
    # … optionally only its priority establishments, or only some categories …
    region_priority_only: bool = False
    region_categories: tuple[str, ...] = ()
    # … reaching the key functions (KEY_FUNCTIONS) or everyone.
    region_everyone: bool = False
    group_ids: tuple[int, ...] = ()
    functions: tuple[str, ...] = ()
    department_ids: tuple[int, ...] = ()
    rotation_ids: tuple[int, ...] = ()
    person_ids: tuple[int, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (
            self.establishment_ids or self.whole_region or self.group_ids or self.functions
            or self.department_ids or self.rotation_ids or self.person_ids
        )


@dataclass
class Reached:
    person: Person
    establishment: Establishment


@dataclass
class Preview:
    people: int = 0
    establishments: int = 0
    # Names of those no planned channel can reach (recorded as failed "no channel").
    without_channel: list[str] = field(default_factory=list)
    # Per channel of a first attempt, the time the providers' capacity needs.
    reach: list[Any] = field(default_factory=list)


def target_scope(*, user: Any, establishment: Establishment | None = None, region: Region | None = None) -> QuerySet[Establishment]:
    """The establishments whose people this campaign may reach."""
    if region is not None:
        return Establishment.objects.visible_to(user, Perm.MANAGE_ESTABLISHMENTS).filter(region=region)
    if establishment is not None:
        return Establishment.objects.visible_to(user, Perm.MANAGE_PEOPLE)
    return Establishment.objects.none()


def target_resolve(
    *, user: Any, target: Target, establishment: Establishment | None = None, region: Region | None = None,
    now: datetime | None = None,
) -> list[Reached]:
    """The people the target designates, each once, in the sender's scope."""
    scope = target_scope(user=user, establishment=establishment, region=region)
    criteria = Q(pk__in=[])
    if target.establishment_ids:
        criteria |= Q(establishment_id__in=target.establishment_ids)
    if target.whole_region and region is not None:
        in_region = Q(establishment__region_id=region.pk)
        if target.region_priority_only:
            in_region &= Q(establishment__is_priority=True)
        if target.region_categories:
            in_region &= Q(establishment__category__in=target.region_categories)
        if not target.region_everyone:
            in_region &= Q(function__in=KEY_FUNCTIONS)
        criteria |= in_region
    if target.group_ids:
        criteria |= Q(establishment__group_id__in=target.group_ids)
    if target.functions:
        criteria |= Q(function__in=target.functions)
    if target.department_ids:
        criteria |= Q(department_id__in=target.department_ids)
    if target.person_ids:
        criteria |= Q(person_id__in=target.person_ids)
    found: dict[int, Reached] = {}
    memberships = (
        Membership.objects.filter(criteria, establishment__in=scope)
        .select_related("person", "establishment")
        .order_by("establishment__name", "establishment_id", "person__last_name", "person__first_name", "person_id")
    )
    for membership in memberships.iterator(chunk_size=5000):
        found.setdefault(membership.person_id, Reached(person=membership.person, establishment=membership.establishment))
    if target.rotation_ids:
        when = now or timezone.now()
        rotations = OnCallRotation.objects.filter(pk__in=target.rotation_ids, establishment__in=scope).select_related(
            "establishment"
        )
        for rotation in rotations.order_by("establishment__name", "name", "pk"):
            person = oncall_at(rotation, when)
            if person is not None:
                found.setdefault(person.pk, Reached(person=person, establishment=rotation.establishment))
    return list(found.values())


def target_recipients(
    *, reached: Sequence[Reached], plan: Sequence[str], is_exercise: bool, now: datetime | None = None,
) -> list[services.RecipientInput]:
    """Recipients for campaign_create, each with their own channel order when they
    have a contact preference (preferences.recipient_channels)."""
    when = now or timezone.now()
    prefs = preferences.preferences_for(person_ids=[item.person.pk for item in reached])
    result = []
    for item in reached:
        person = item.person
        result.append(services.RecipientInput(
            name=person.full_name, language=person.preferred_language, email=person.email,
            mobile_phone=str(person.mobile_phone or ""), landline_phone=str(person.landline_phone or ""),
            establishment_name=item.establishment.name, person=person,
            channels=preferences.recipient_channels(
                preference=prefs.get(person.pk), plan=plan, is_exercise=is_exercise, now=when,
            ),
        ))
    return result


def planned_steps(
    *, recipient: services.RecipientInput, plan: Sequence[str], push_people: set[int] | frozenset[int] = frozenset(),
) -> list[str]:
    """The channel steps the engine will plan for this recipient (campaign_create's
    rule): channels with a configured provider and a usable address."""
    probe = Recipient(
        email=recipient.email.strip(), mobile_phone=recipient.mobile_phone, landline_phone=recipient.landline_phone,
        webhook_url=recipient.webhook_url, matrix_id=recipient.matrix_id,
        person_id=recipient.person.pk if recipient.person is not None else None,
    )
    return [
        channel for channel in dict.fromkeys(recipient.channels or plan)
        if channel in Channel.values and providers_for(channel)
        and channel_usable(channel, probe.address_for(channel), push_people=push_people)
    ]


def target_preview(
    *, user: Any, target: Target, plan: Sequence[str], is_exercise: bool = False,
    establishment: Establishment | None = None, region: Region | None = None, now: datetime | None = None,
    title: str = "", message: str = "",
) -> Preview:
    """"N people in M establishments; K without any usable channel", before sending.
    The time to reach them counts a long SMS (`title`, `message`) as its parts."""
    reached = target_resolve(user=user, target=target, establishment=establishment, region=region, now=now)

    recipients = target_recipients(reached=reached, plan=plan, is_exercise=is_exercise, now=now)
    push_people = subscribed_person_ids(r.person.pk for r in recipients if r.person is not None)
    without: list[str] = []
    first_steps: dict[str, int] = {}
    for recipient in recipients:
        steps = planned_steps(recipient=recipient, plan=plan, push_people=push_people)
        if steps:
            first_steps[steps[0]] = first_steps.get(steps[0], 0) + 1
        else:
            without.append(recipient.name)
    return Preview(
        people=len(reached),
        establishments=len({item.establishment.pk for item in reached}),
        without_channel=without,
        reach=reach_estimate(first_steps, parts={
            channel: message_parts(
                channel, title=title, text=message, is_exercise=is_exercise,
                scope=str(establishment or region or ""),
            ) for channel in first_steps
        } if message else None),
    )


# Progress per establishment (regional campaigns) --------------------------------------------


@dataclass
class EstablishmentProgress:
    name: str
    recipients: int
    reached: int
    acknowledged: int

    def percent(self, count: int) -> int:
        return round(100 * count / self.recipients) if self.recipients else 0

    @property
    def reached_percent(self) -> int:
        return self.percent(self.reached)

    @property
    def acknowledged_percent(self) -> int:
        return self.percent(self.acknowledged)


def campaign_progress_by_establishment(*, campaign: Any) -> list[EstablishmentProgress]:
    """Reached and acknowledged counts per establishment, the worst first (lowest share
    acknowledged, then lowest share reached). Establishments are those recorded on the
    recipients when the campaign was sent."""
    rows = (
        Recipient.objects.filter(campaign=campaign)
        .annotate(was_reached=Exists(Delivery.objects.filter(recipient=OuterRef("pk"), status__in=REACHED)))
        .values("establishment_name")
        .annotate(
            total=Count("id"), acknowledged=Count("id", filter=Q(acknowledged_at__isnull=False)),
            reached=Count("id", filter=Q(was_reached=True) | Q(acknowledged_at__isnull=False)),
        )
        .order_by()
    )
    progress = [
        EstablishmentProgress(
            name=row["establishment_name"], recipients=row["total"], reached=row["reached"],
            acknowledged=row["acknowledged"],
        )
        for row in rows
    ]
    progress.sort(key=lambda p: (p.acknowledged / p.recipients, p.reached / p.recipients, p.name))
    return progress


def campaign_recipients_of_establishment(*, campaign: Any, establishment_name: str) -> QuerySet[Recipient]:
    return (
        Recipient.objects.filter(campaign=campaign, establishment_name=establishment_name)
        .prefetch_related("deliveries").order_by("name", "id")
    )
