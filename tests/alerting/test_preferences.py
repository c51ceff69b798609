"""Per-person channel preferences: their order comes first in the delivery rows, the
campaign's plan follows as fallback, quiet hours only hold back exercises; who may
change them, validation, audit, page."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from planblanc.accounts.models import AuditEntry
from planblanc.alerting.models import Campaign, Delivery
from planblanc.alerting.preferences import (
    ContactPreference,
    contact_preference_set,
    recipient_channels,
)
from planblanc.alerting.services import campaign_create
from planblanc.alerting.targeting import Target, target_recipients, target_resolve
from tests.factories import MembershipFactory, PersonFactory

PARIS = ZoneInfo("Europe/Paris")
NIGHT = datetime(2026, 11, 26, 3, 0, tzinfo=PARIS)
DAY = datetime(2026, 11, 26, 14, 0, tzinfo=PARIS)


@pytest.fixture
def channels(settings: Any) -> Any:
    settings.ALERTING_CHANNELS = {
        "email": [{"name": "relay", "kind": "smtp", "host": "127.0.0.1", "port": 2525}],
        "voice": [{"name": "voice", "kind": "voice_log"}],
    }
    return settings


def _campaign(world: Any, *, plan: list[str], is_exercise: bool = False, now: datetime = DAY) -> Campaign:
    reached = target_resolve(
        user=world.establishment_admin, target=Target(establishment_ids=(world.chu.pk,)), establishment=world.chu,
    )
    return campaign_create(
        actor=world.establishment_admin, establishment=world.chu, title="Alerte", message_fr="Bonjour {name}",
        channels=plan, is_exercise=is_exercise, wake_workers=False,
        recipients=target_recipients(reached=reached, plan=plan, is_exercise=is_exercise, now=now),
    )


def _steps(campaign: Campaign, person: Any) -> list[tuple[str, str]]:
    return list(
        Delivery.objects.filter(campaign=campaign, recipient__person=person).order_by("step")
        .values_list("channel", "status")
    )


@pytest.mark.django_db
def test_it_puts_the_persons_order_first_then_the_campaigns_plan(world, channels):
    voice_first = MembershipFactory(establishment=world.chu, person=PersonFactory(last_name="Voix")).person
    contact_preference_set(actor=world.establishment_admin, person=voice_first, channels=["voice", "email"])
    campaign = _campaign(world, plan=["email"])
    assert _steps(campaign, voice_first) == [("voice", "queued"), ("email", "held")]
    # Without a preference: the campaign's plan.
    assert _steps(campaign, world.chu_person) == [("email", "queued")]


@pytest.mark.django_db
def test_it_falls_back_to_the_plan_when_the_preferred_channel_has_no_address(world, channels):
    no_phone = MembershipFactory(
        establishment=world.chu, person=PersonFactory(last_name="Sansphone", mobile_phone="", landline_phone=""),
    ).person
    contact_preference_set(actor=world.establishment_admin, person=no_phone, channels=["voice"])
    campaign = _campaign(world, plan=["email"])
    assert _steps(campaign, no_phone) == [("email", "queued")]


@pytest.mark.django_db
def test_it_holds_back_phones_in_quiet_hours_for_exercises_only(world, channels):
    sleeper = MembershipFactory(establishment=world.chu, person=PersonFactory(last_name="Dormeur")).person
    contact_preference_set(
        actor=world.establishment_admin, person=sleeper, channels=["voice", "email"],
        quiet_from=time(22, 0), quiet_until=time(7, 0),
    )
    exercise_at_night = _campaign(world, plan=["voice", "email"], is_exercise=True, now=NIGHT)
    assert _steps(exercise_at_night, sleeper) == [("email", "queued")]
    crisis_at_night = _campaign(world, plan=["voice", "email"], is_exercise=False, now=NIGHT)
    assert _steps(crisis_at_night, sleeper) == [("voice", "queued"), ("email", "held")]
    exercise_by_day = _campaign(world, plan=["voice", "email"], is_exercise=True, now=DAY)
    assert _steps(exercise_by_day, sleeper) == [("voice", "queued"), ("email", "held")]


@pytest.mark.django_db
def test_it_keeps_the_plan_in_quiet_hours_when_no_calm_channel_is_planned(world):
    preference = ContactPreference(person=world.chu_person, channels=[], quiet_from=time(22, 0), quiet_until=time(7, 0))
    assert recipient_channels(preference=preference, plan=["voice"], is_exercise=True, now=NIGHT) == ("voice",)
    assert recipient_channels(preference=preference, plan=["voice", "email"], is_exercise=True, now=NIGHT) == ("email",)
    assert recipient_channels(preference=None, plan=["voice"], is_exercise=True, now=NIGHT) == ()


@pytest.mark.django_db
def test_it_validates_preferences_and_saves_nothing_on_bad_input(world):
    with pytest.raises(ValidationError) as unknown:
        contact_preference_set(actor=world.establishment_admin, person=world.chu_person, channels=["pigeon"])
    assert "pigeon" in str(unknown.value)
    with pytest.raises(ValidationError):
        contact_preference_set(
            actor=world.establishment_admin, person=world.chu_person, channels=["sms"], quiet_from=time(22, 0),
        )
    assert not ContactPreference.objects.exists()
    assert not AuditEntry.objects.filter(action="alerting.contact_preference_set").exists()


@pytest.mark.django_db
def test_it_lets_only_managers_in_scope_or_the_person_change_preferences(world):
    with pytest.raises(PermissionDenied):
        contact_preference_set(actor=world.outsider_admin, person=world.chu_person, channels=["sms"])
    with pytest.raises(PermissionDenied):
        contact_preference_set(actor=world.crisis_member, person=world.chu_person, channels=["sms"])
    assert not ContactPreference.objects.exists()
    world.chu_person.user = world.crisis_member
    world.chu_person.save()
    saved = contact_preference_set(actor=world.crisis_member, person=world.chu_person, channels=["sms", "sms", "email"])
    assert saved.channels == ["sms", "email"]
    entry = AuditEntry.objects.get(action="alerting.contact_preference_set")
    assert entry.actor == world.crisis_member and entry.changes["channels"] == ["sms", "email"]


@pytest.mark.django_db
def test_it_edits_preferences_from_the_page_and_hides_it_from_outsiders(world, client_for):
    url = f"/alertes/preferences/{world.chu_person.pk}/"
    client = client_for("establishment_admin")
    assert client.get(url).status_code == 200
    response = client.post(url, {"first": "sms", "second": "voice", "quiet_from": "22:00", "quiet_until": "07:00"})
    assert response.status_code == 302
    preference = ContactPreference.objects.get(person=world.chu_person)
    assert preference.channels == ["sms", "voice"] and preference.quiet_from == time(22, 0)
    half = client.post(url, {"first": "email", "quiet_from": "22:00"})
    assert half.status_code == 200
    assert ContactPreference.objects.get(person=world.chu_person).channels == ["sms", "voice"]
    assert client_for("outsider_admin").get(url).status_code == 404
    assert client_for("outsider_admin").post(url, {"first": "email"}).status_code == 404
    assert ContactPreference.objects.get(person=world.chu_person).channels == ["sms", "voice"]
