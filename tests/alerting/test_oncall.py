"""On-call rotations: turns on the local wall clock across the changes of hour, overrides
and swaps, the iCalendar feed, the pages and who may see them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import translation
from icalendar import Calendar

from planblanc.accounts.models import AuditEntry
from planblanc.alerting.oncall import (
    ical_token,
    oncall_at,
    oncall_swap,
    override_create,
    rotation_create,
    scheduled_shift,
    shifts_between,
)
from tests.factories import MembershipFactory, PersonFactory

PARIS = ZoneInfo("Europe/Paris")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _people(world: Any, names: list[str]) -> list[Any]:
    return [MembershipFactory(establishment=world.chu, person=PersonFactory(last_name=name)).person for name in names]


def _rotation(world: Any, people: list[Any], **kwargs: Any) -> Any:
    defaults: dict[str, Any] = {
        "name": "Astreinte DSI", "period": "daily", "handoff_time": time(8, 0), "starts_on": date(2026, 3, 27),
    }
    return rotation_create(actor=world.establishment_admin, establishment=world.chu, members=people,
                           **{**defaults, **kwargs})


@pytest.mark.django_db
def test_it_hands_off_at_the_local_time_across_the_march_change_of_hour(world):
    a, b, c = _people(world, ["Alpha", "Bravo", "Charlie"])
    rotation = _rotation(world, [a, b, c])  # 27 March: Alpha, 28: Bravo, 29: Charlie
    # Sunday 29 March 2026, 02:00 → 03:00. 08:00 that day is 06:00 UTC (07:00 UTC the day before).
    assert oncall_at(rotation, utc(2026, 3, 28, 6, 59)) == a  # 07:59 winter time
    assert oncall_at(rotation, utc(2026, 3, 28, 7, 0)) == b  # 08:00 winter time
    assert oncall_at(rotation, utc(2026, 3, 29, 5, 59)) == b  # 07:59 summer time
    assert oncall_at(rotation, utc(2026, 3, 29, 6, 0)) == c  # 08:00 summer time, not 09:00
    shift = scheduled_shift(rotation, utc(2026, 3, 28, 12, 0))
    assert shift.ends_at - shift.starts_at == timedelta(hours=23)
    assert shift.ends_at.astimezone(PARIS).time() == time(8, 0)
    # The turns carry on: 30 March is Alpha's again.
    assert oncall_at(rotation, utc(2026, 3, 30, 6, 0)) == a


@pytest.mark.django_db
def test_it_hands_off_at_the_local_time_across_the_october_change_of_hour(world):
    a, b = _people(world, ["Alpha", "Bravo"])
    # Weekly, from Monday 19 October 2026; the clock goes back on Sunday 25 October.
    rotation = _rotation(world, [a, b], period="weekly", starts_on=date(2026, 10, 19))
    assert oncall_at(rotation, utc(2026, 10, 19, 6, 0)) == a  # Monday 08:00 summer time
    assert oncall_at(rotation, utc(2026, 10, 26, 6, 30)) == a  # Monday 07:30 winter time
    assert oncall_at(rotation, utc(2026, 10, 26, 7, 0)) == b  # Monday 08:00 winter time
    shift = scheduled_shift(rotation, utc(2026, 10, 22, 12, 0))
    assert shift.ends_at - shift.starts_at == timedelta(hours=169)
    assert oncall_at(rotation, utc(2026, 11, 2, 7, 0)) == a


@pytest.mark.django_db
def test_it_starts_a_shift_whose_handoff_falls_in_the_spring_gap_at_the_same_instant(world):
    a, b = _people(world, ["Alpha", "Bravo"])
    rotation = _rotation(world, [a, b], handoff_time=time(2, 30), starts_on=date(2026, 3, 28))
    # 02:30 does not exist on 29 March: the handoff happens at 03:30 summer time (01:30 UTC).
    assert oncall_at(rotation, utc(2026, 3, 29, 1, 29)) == a
    assert oncall_at(rotation, utc(2026, 3, 29, 1, 30)) == b
    # And on the next day at 02:30 summer time again.
    assert oncall_at(rotation, utc(2026, 3, 30, 0, 29)) == b
    assert oncall_at(rotation, utc(2026, 3, 30, 0, 30)) == a


@pytest.mark.django_db
def test_it_lets_an_override_take_the_duty_for_its_span_only(world):
    a, b, c = _people(world, ["Alpha", "Bravo", "Charlie"])
    rotation = _rotation(world, [a, b])
    override_create(actor=world.establishment_admin, rotation=rotation, person=c,
                    starts_at=utc(2026, 3, 27, 12, 0), ends_at=utc(2026, 3, 27, 18, 0))
    assert oncall_at(rotation, utc(2026, 3, 27, 11, 59)) == a
    assert oncall_at(rotation, utc(2026, 3, 27, 12, 0)) == c
    assert oncall_at(rotation, utc(2026, 3, 27, 18, 0)) == a
    shifts = shifts_between(rotation, utc(2026, 3, 27, 7, 0), utc(2026, 3, 28, 7, 0))
    assert [(s.person, s.starts_at, s.ends_at) for s in shifts] == [
        (a, utc(2026, 3, 27, 7, 0), utc(2026, 3, 27, 12, 0)),
        (c, utc(2026, 3, 27, 12, 0), utc(2026, 3, 27, 18, 0)),
        (a, utc(2026, 3, 27, 18, 0), utc(2026, 3, 28, 7, 0)),
    ]
    assert AuditEntry.objects.filter(action="alerting.oncall_override").exists()


@pytest.mark.django_db
def test_it_swaps_two_whole_shifts(world):
    a, b = _people(world, ["Alpha", "Bravo"])
    rotation = _rotation(world, [a, b])
    oncall_swap(actor=world.establishment_admin, rotation=rotation,
                first=utc(2026, 3, 27, 12, 0), second=utc(2026, 3, 28, 12, 0))
    assert oncall_at(rotation, utc(2026, 3, 27, 12, 0)) == b
    assert oncall_at(rotation, utc(2026, 3, 28, 12, 0)) == a
    assert oncall_at(rotation, utc(2026, 3, 29, 12, 0)) == a  # the turn after is untouched
    with pytest.raises(ValidationError):  # Alpha holds both, after the swap
        oncall_swap(actor=world.establishment_admin, rotation=rotation,
                    first=utc(2026, 3, 28, 12, 0), second=utc(2026, 3, 29, 12, 0))


@pytest.mark.django_db
def test_it_keeps_an_override_made_before_a_swap_of_its_shift(world):
    a, b, c = _people(world, ["Alpha", "Bravo", "Charlie"])
    rotation = _rotation(world, [a, b])
    override_create(actor=world.establishment_admin, rotation=rotation, person=c,
                    starts_at=utc(2026, 3, 27, 12, 0), ends_at=utc(2026, 3, 27, 18, 0))
    oncall_swap(actor=world.establishment_admin, rotation=rotation,
                first=utc(2026, 3, 27, 8, 0), second=utc(2026, 3, 28, 8, 0))
    # Alpha's day went to Bravo, except the afternoon Charlie had already taken.
    assert oncall_at(rotation, utc(2026, 3, 27, 8, 0)) == b
    assert oncall_at(rotation, utc(2026, 3, 27, 12, 0)) == c
    assert oncall_at(rotation, utc(2026, 3, 27, 18, 0)) == b
    assert oncall_at(rotation, utc(2026, 3, 28, 8, 0)) == a
    shifts = shifts_between(rotation, utc(2026, 3, 27, 7, 0), utc(2026, 3, 28, 7, 0))
    assert [(s.person, s.starts_at, s.ends_at) for s in shifts] == [
        (b, utc(2026, 3, 27, 7, 0), utc(2026, 3, 27, 12, 0)),
        (c, utc(2026, 3, 27, 12, 0), utc(2026, 3, 27, 18, 0)),
        (b, utc(2026, 3, 27, 18, 0), utc(2026, 3, 28, 7, 0)),
    ]


@pytest.mark.django_db
def test_it_swaps_the_shift_as_an_earlier_override_left_it_and_lets_a_later_override_win(world):
    a, b, c, d = _people(world, ["Alpha", "Bravo", "Charlie", "Delta"])
    rotation = _rotation(world, [a, b])
    # Charlie covers Alpha's whole day, then trades it for Bravo's next day.
    override_create(actor=world.establishment_admin, rotation=rotation, person=c,
                    starts_at=utc(2026, 3, 27, 7, 0), ends_at=utc(2026, 3, 28, 7, 0))
    oncall_swap(actor=world.establishment_admin, rotation=rotation,
                first=utc(2026, 3, 27, 8, 0), second=utc(2026, 3, 28, 8, 0))
    assert oncall_at(rotation, utc(2026, 3, 27, 8, 0)) == b
    assert oncall_at(rotation, utc(2026, 3, 28, 8, 0)) == c
    # An override made after the swap takes its span, whoever held it.
    override_create(actor=world.establishment_admin, rotation=rotation, person=d,
                    starts_at=utc(2026, 3, 28, 10, 0), ends_at=utc(2026, 3, 28, 11, 0))
    assert oncall_at(rotation, utc(2026, 3, 28, 10, 30)) == d
    assert oncall_at(rotation, utc(2026, 3, 28, 11, 0)) == c


@pytest.mark.django_db
@translation.override("en")  # the assertions read the English messages
def test_it_refuses_bad_rotations_and_outsiders(world):
    a = _people(world, ["Alpha"])[0]
    with pytest.raises(PermissionDenied):
        rotation_create(
            actor=world.outsider_admin, establishment=world.chu, name="X", period="daily",
            handoff_time=time(8), starts_on=date(2026, 1, 1), members=[a],
        )
    with pytest.raises(ValidationError) as exc:
        _rotation(world, [], name=" ")
    assert set(exc.value.message_dict) == {"name", "members"}
    with pytest.raises(ValidationError) as exc:
        _rotation(world, [a, world.clinic_person])
    assert "Not a member of this establishment" in str(exc.value.message_dict["members"])
    rotation = _rotation(world, [a])
    with pytest.raises(ValidationError):
        override_create(actor=world.establishment_admin, rotation=rotation, person=a,
                        starts_at=utc(2026, 3, 27, 12), ends_at=utc(2026, 3, 27, 11))


@pytest.mark.django_db
def test_it_serves_each_person_their_shifts_as_icalendar_at_a_signed_address(world, client):
    a, b = _people(world, ["Alpha", "Bravo"])
    rotation = _rotation(world, [a, b], starts_on=date.today() - timedelta(days=2))
    url = reverse("alerting:oncall_ical", kwargs={"person_id": a.pk, "token": ical_token(a.pk)})
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    events = list(Calendar.from_ical(response.content).walk("VEVENT"))
    assert events and all(rotation.name in str(e["summary"]) for e in events)
    starts = sorted(e.decoded("dtstart") for e in events)
    # Alpha holds every other day.
    assert all((later - earlier) >= timedelta(hours=47) for earlier, later in zip(starts, starts[1:], strict=False))
    assert all(s.astimezone(PARIS).time() == time(8, 0) for s in starts)
    forged = reverse("alerting:oncall_ical", kwargs={"person_id": a.pk, "token": ical_token(b.pk)})
    assert client.get(forged).status_code == 404


@pytest.mark.django_db
def test_it_shows_who_is_on_call_now_to_those_in_scope(world, client_for):
    a = _people(world, ["Alpha"])[0]
    rotation = _rotation(world, [a], starts_on=date.today() - timedelta(days=3))
    page = client_for("crisis_member").get(reverse("alerting:oncall_now"))
    assert page.status_code == 200
    assert rotation.name in page.content.decode() and a.full_name in page.content.decode()
    detail = client_for("crisis_member").get(reverse("alerting:rotation_detail", args=[rotation.pk]))
    assert detail.status_code == 200 and "ical" not in detail.content.decode()  # feeds for managers only
    outsider = client_for("outsider_admin")
    assert rotation.name not in outsider.get(reverse("alerting:oncall_now")).content.decode()
    assert outsider.get(reverse("alerting:rotation_detail", args=[rotation.pk])).status_code == 404


@pytest.mark.django_db
def test_it_creates_a_rotation_from_its_page(world, client_for):
    a, b = _people(world, ["Alpha", "Bravo"])
    client = client_for("establishment_admin")
    response = client.post(reverse("alerting:rotation_new"), {
        "establishment": world.chu.pk, "name": "Astreinte direction", "period": "weekly",
        "handoff_time": "09:00", "starts_on": "2026-01-05", "members": [a.pk, b.pk],
    })
    assert response.status_code == 302
    rotation = world.chu.oncall_rotations.get()
    assert rotation.handoff_time == time(9, 0) and rotation.members.count() == 2
    assert AuditEntry.objects.filter(action="alerting.rotation_create", object_id=str(rotation.pk)).exists()
    assert client_for("crisis_member").post(reverse("alerting:rotation_new"), {
        "establishment": world.chu.pk, "name": "X", "period": "daily", "handoff_time": "08:00",
        "starts_on": "2026-01-05", "members": [a.pk],
    }).status_code == 200  # not allowed: the establishment is not a choice for them
    assert world.chu.oncall_rotations.count() == 1
