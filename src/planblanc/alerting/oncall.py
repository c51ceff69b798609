"""On-call rotations (astreintes): who is on call at a given time, overrides and swaps,
and each person's shifts as an iCalendar feed.

Shifts change hands at the rotation's handoff time on the local wall clock of the
rotation's time zone: a weekly rotation handing off on Monday at 08:00 does so at 08:00
Paris time in winter and in summer, so the shift that spans the change of hour lasts
167 or 169 hours. Everything is computed from the rotation's data: nothing to
regenerate when members change."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc.accounts.audit import audit_record
from planblanc.actors import Actor
from planblanc.alerting.models import (
    OnCallMember,
    OnCallOverride,
    OnCallRotation,
    OverrideKind,
    RotationPeriod,
)
from planblanc.directory.models import Establishment, Person
from planblanc.tenancy import Perm, can, get_for_user

PERIOD_DAYS = {RotationPeriod.DAILY: 1, RotationPeriod.WEEKLY: 7}


@dataclass(frozen=True)
class Shift:
    person: Person | None
    starts_at: datetime
    ends_at: datetime
    # The override or swap that put this person there, if any.
    override: OnCallOverride | None = None


# Reads ------------------------------------------------------------------------------------


def _zone(rotation: OnCallRotation) -> ZoneInfo:
    return ZoneInfo(rotation.timezone or "Europe/Paris")


def _local_start(rotation: OnCallRotation, day: date) -> datetime:
    """The handoff on `day`, on the rotation's wall clock, as a UTC instant (so that
    differences between shifts count real hours). A handoff time that does not exist
    that day (02:30 on the last Sunday of March) is read in winter time: 03:30 summer
    time, the instant it would have been without the change."""
    local = datetime.combine(day, rotation.handoff_time, tzinfo=_zone(rotation))
    return local.astimezone(UTC)


def _members(rotation: OnCallRotation) -> list[OnCallMember]:
    cached = getattr(rotation, "_oncall_members", None)
    if cached is None:
        cached = list(rotation.members.select_related("person").order_by("position", "id"))
        rotation._oncall_members = cached  # type: ignore[attr-defined]
    return cached


def scheduled_shift(rotation: OnCallRotation, when: datetime) -> Shift:
    """The rotation's own turn at `when`, ignoring overrides."""
    zone = _zone(rotation)
    local = timezone.localtime(when, zone)
    period = PERIOD_DAYS.get(rotation.period, 7)
    day = local.date()
    # Shifts start at the handoff time: before it, it is still the previous day's shift.
    if local < _local_start(rotation, day):
        day -= timedelta(days=1)
    offset = (day - rotation.starts_on).days
    index, into = divmod(offset, period)
    start_day = day - timedelta(days=into)
    starts_at = _local_start(rotation, start_day)
    ends_at = _local_start(rotation, start_day + timedelta(days=period))
    members = _members(rotation)
    person = members[index % len(members)].person if members else None
    return Shift(person=person, starts_at=starts_at, ends_at=ends_at)


def oncall_at(rotation: OnCallRotation, when: datetime) -> Person | None:
    """Who is on call in `rotation` at `when` (an aware datetime): the rotation's turn,
    changed by its overrides and swaps in the order they were made."""
    return shift_at(rotation, when).person


def shift_at(rotation: OnCallRotation, when: datetime) -> Shift:
    for shift in shifts_between(rotation, when, when + timedelta(microseconds=1)):
        if shift.starts_at <= when < shift.ends_at:
            return shift
    return scheduled_shift(rotation, when)


def _applies(override: OnCallOverride, shift: Shift) -> bool:
    """An override takes the duty whoever held it; a swap half hands over only the
    duty of the person it replaces (an override recorded before the swap, of someone
    else, stays)."""
    if override.kind != OverrideKind.SWAP or override.replaces_id is None:
        return True
    return shift.person is not None and shift.person.pk == override.replaces_id


def shifts_between(rotation: OnCallRotation, start: datetime, end: datetime) -> list[Shift]:
    """Every shift overlapping [start, end): the scheduled turns, then each override or
    swap applied on top in the order it was made, cutting the shifts it covers."""
    shifts: list[Shift] = []
    cursor = start
    while cursor < end:
        shift = scheduled_shift(rotation, cursor)
        shifts.append(shift)
        cursor = shift.ends_at
    if not shifts:
        return shifts
    # Every override touching the scheduled shifts found, so that the bounds of each
    # shift returned are its real ones.
    overrides = list(
        OnCallOverride.objects.filter(
            rotation=rotation, starts_at__lt=shifts[-1].ends_at, ends_at__gt=shifts[0].starts_at
        ).select_related("person").order_by("created_at", "id")
    )
    for override in overrides:
        cut: list[Shift] = []
        for shift in shifts:
            if shift.ends_at <= override.starts_at or shift.starts_at >= override.ends_at or not _applies(
                override, shift
            ):
                cut.append(shift)
                continue
            if shift.starts_at < override.starts_at:
                cut.append(Shift(shift.person, shift.starts_at, override.starts_at, shift.override))
            if shift.ends_at > override.ends_at:
                cut.append(Shift(shift.person, override.ends_at, shift.ends_at, shift.override))
            cut.append(Shift(
                override.person, max(shift.starts_at, override.starts_at), min(shift.ends_at, override.ends_at),
                override,
            ))
        shifts = sorted(cut, key=lambda s: s.starts_at)
    # Keep whole the stretches of one override (or of the schedule) cut only for the
    # bookkeeping above.
    merged: list[Shift] = []
    for shift in shifts:
        last = merged[-1] if merged else None
        if (
            last is not None and last.ends_at == shift.starts_at and last.override is not None
            and last.override == shift.override and last.person == shift.person
        ):
            merged[-1] = Shift(last.person, last.starts_at, shift.ends_at, last.override)
        else:
            merged.append(shift)
    return [s for s in merged if s.ends_at > start and s.starts_at < end]


def rotation_list(*, user: Any) -> QuerySet[OnCallRotation]:
    return (
        OnCallRotation.objects.visible_to(user, Perm.VIEW_DIRECTORY)
        .select_related("establishment").prefetch_related("members__person")
    )


def get_rotation_for_user(*, user: Any, rotation_id: int, write: bool = False) -> OnCallRotation:
    perm = Perm.MANAGE_PEOPLE if write else Perm.VIEW_DIRECTORY
    return get_for_user(user, OnCallRotation.objects.select_related("establishment"), perm, pk=rotation_id)


@dataclass(frozen=True)
class OnCallNow:
    rotation: OnCallRotation
    current: Shift
    next: Shift


def oncall_now(*, rotations: Iterable[OnCallRotation], when: datetime | None = None) -> list[OnCallNow]:
    when = when or timezone.now()
    rows = []
    for rotation in rotations:
        current = shift_at(rotation, when)
        rows.append(OnCallNow(rotation=rotation, current=current, next=shift_at(rotation, current.ends_at)))
    return rows


# iCalendar feed ---------------------------------------------------------------------------


def ical_token(person_id: int) -> str:
    """The secret part of a person's feed address: calendar applications cannot log
    in, the address is the credential."""
    key = f"{settings.SECRET_KEY}:oncall-ical".encode()
    return hmac.new(key, str(person_id).encode(), hashlib.sha256).hexdigest()[:40]


def ical_token_valid(person_id: int, token: str) -> bool:
    return hmac.compare_digest(ical_token(person_id), token or "")


def ical_feed(*, person: Person, days_before: int = 14, days_after: int = 120, now: datetime | None = None) -> bytes:
    """The person's on-call shifts, in every rotation they belong to or cover."""
    # icalendar is loaded only for the calendar feed.
    from icalendar import Calendar, Event

    now = now or timezone.now()
    start, end = now - timedelta(days=days_before), now + timedelta(days=days_after)
    rotation_ids = set(OnCallMember.objects.filter(person=person).values_list("rotation_id", flat=True))
    rotation_ids |= set(OnCallOverride.objects.filter(person=person, ends_at__gt=start).values_list("rotation_id", flat=True))
    calendar = Calendar()
    calendar.add("prodid", "-//Plan Blanc Numerique//astreintes//FR")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", _("On call: %(name)s") % {"name": person.full_name})
    host = settings.ALERTING_PUBLIC_URL.split("//", 1)[-1].split("/", 1)[0] or "planblanc.invalid"
    for rotation in OnCallRotation.objects.filter(pk__in=rotation_ids).select_related("establishment"):
        for shift in shifts_between(rotation, start, end):
            if shift.person is None or shift.person.pk != person.pk:
                continue
            event = Event()
            stamp = int(shift.starts_at.timestamp())
            event.add("uid", f"oncall-{rotation.pk}-{person.pk}-{stamp}@{host}")
            event.add("summary", _("On call: %(rotation)s") % {"rotation": rotation.name})
            event.add("location", rotation.establishment.name)
            event.add("dtstart", shift.starts_at.astimezone(UTC))
            event.add("dtend", shift.ends_at.astimezone(UTC))
            event.add("dtstamp", now.astimezone(UTC))
            calendar.add_component(event)
    return bytes(calendar.to_ical())


# Writes ------------------------------------------------------------------------------------


def _check(actor: Actor, establishment: Establishment) -> None:
    if not can(actor, Perm.MANAGE_PEOPLE, establishment):
        raise PermissionDenied(_("You are not allowed to manage on-call rotations here."))


def rotation_create(
    *,
    actor: Actor,
    establishment: Establishment,
    name: str,
    period: str,
    handoff_time: time,
    starts_on: date,
    members: Sequence[Person],
    timezone_name: str = "Europe/Paris",
) -> OnCallRotation:
    _check(actor, establishment)
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors.setdefault("name", []).append(_("Give the rotation a name."))
    if period not in RotationPeriod.values:
        errors.setdefault("period", []).append(_("Choose a daily or weekly rotation."))
    try:
        ZoneInfo(timezone_name)
    except (ZoneInfoNotFoundError, ValueError):
        errors.setdefault("timezone", []).append(_("Unknown time zone: %(name)s.") % {"name": timezone_name})
    if not members:
        errors.setdefault("members", []).append(_("Choose at least one member."))
    member_ids = [p.pk for p in members]
    if len(set(member_ids)) != len(member_ids):
        errors.setdefault("members", []).append(_("A person appears twice in the rotation."))
    outside = [p for p in members if not p.memberships.filter(establishment=establishment).exists()]
    if outside:
        errors.setdefault("members", []).append(
            _("Not a member of this establishment: %(names)s.") % {"names": ", ".join(p.full_name for p in outside)}
        )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        rotation = OnCallRotation.objects.create(
            establishment=establishment, name=name, period=period, handoff_time=handoff_time,
            starts_on=starts_on, timezone=timezone_name,
        )
        OnCallMember.objects.bulk_create(
            OnCallMember(rotation=rotation, person=person, position=position) for position, person in enumerate(members)
        )
        audit_record(
            actor=actor, action="alerting.rotation_create", obj=rotation, establishment=establishment,
            changes={"name": name, "period": period, "handoff_time": handoff_time.isoformat(),
                     "starts_on": starts_on.isoformat(), "members": member_ids},
        )
    return rotation


def _check_span(rotation: OnCallRotation, person: Person, starts_at: datetime, ends_at: datetime) -> None:
    errors: dict[str, list[str]] = {}
    if ends_at <= starts_at:
        errors.setdefault("ends_at", []).append(_("The end must come after the start."))
    if not person.memberships.filter(establishment_id=rotation.establishment_id).exists():
        errors.setdefault("person", []).append(_("This person is not a member of the rotation's establishment."))
    if errors:
        raise ValidationError(errors)


def override_create(
    *, actor: Actor, rotation: OnCallRotation, person: Person, starts_at: datetime, ends_at: datetime
) -> OnCallOverride:
    """`person` takes the rotation from `starts_at` to `ends_at`."""
    _check(actor, rotation.establishment)
    _check_span(rotation, person, starts_at, ends_at)
    with transaction.atomic():
        replaced = shift_at(rotation, starts_at).person
        override = OnCallOverride.objects.create(
            rotation=rotation, person=person, starts_at=starts_at, ends_at=ends_at, replaces=replaced,
        )
        audit_record(
            actor=actor, action="alerting.oncall_override", obj=rotation, establishment=rotation.establishment,
            changes={"person": person.pk, "replaces": replaced.pk if replaced else None,
                     "from": starts_at.isoformat(), "to": ends_at.isoformat()},
        )
    return override


def _effective(rotation: OnCallRotation, when: datetime) -> Shift:
    """The scheduled shift around `when`, held by whoever is on call at `when`."""
    scheduled = scheduled_shift(rotation, when)
    return Shift(shift_at(rotation, when).person, scheduled.starts_at, scheduled.ends_at)


def oncall_swap(
    *, actor: Actor, rotation: OnCallRotation, first: datetime, second: datetime
) -> tuple[OnCallOverride, OnCallOverride]:
    """The people on call at `first` and at `second` exchange those two whole shifts.
    Who is on call counts the overrides and swaps made before; overrides of someone
    else inside either shift stay as they are (see `_applies`)."""
    _check(actor, rotation.establishment)
    a, b = _effective(rotation, first), _effective(rotation, second)
    if a.person is None or b.person is None or a.starts_at == b.starts_at:
        raise ValidationError(_("Choose two different shifts of the rotation."))
    if a.person.pk == b.person.pk:
        raise ValidationError(_("The same person holds both shifts: nothing to swap."))
    with transaction.atomic():
        first_half = OnCallOverride.objects.create(
            rotation=rotation, person=b.person, starts_at=a.starts_at, ends_at=a.ends_at,
            kind=OverrideKind.SWAP, replaces=a.person,
        )
        second_half = OnCallOverride.objects.create(
            rotation=rotation, person=a.person, starts_at=b.starts_at, ends_at=b.ends_at,
            kind=OverrideKind.SWAP, replaces=b.person,
        )
        audit_record(
            actor=actor, action="alerting.oncall_swap", obj=rotation, establishment=rotation.establishment,
            changes={"shifts": [[a.starts_at.isoformat(), a.person.pk], [b.starts_at.isoformat(), b.person.pk]]},
        )
    return first_half, second_half
