"""Who a targeted campaign reaches: each criterion resolved with the personas of
tests/conftest.py, a person reached by several criteria counted once, nobody outside
the sender's scope (not even by forged ids), the live count, the campaign written
through the form, the progress per establishment."""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Any

import pytest
from django.utils import timezone

from planblanc.accounts.models import AuditEntry
from planblanc.alerting.models import Campaign, Delivery, FollowUp, Recipient
from planblanc.alerting.oncall import rotation_create
from planblanc.alerting.services import RecipientInput, acknowledgement_record, campaign_create
from planblanc.alerting.targeting import (
    KEY_FUNCTIONS,
    Target,
    campaign_progress_by_establishment,
    target_preview,
    target_resolve,
)
from planblanc.directory.models import Function
from planblanc.tenancy import Role
from tests.conftest import verified_client
from tests.factories import MembershipFactory, PersonFactory, RoleAssignmentFactory, UserFactory

PREVIEW_URL = "/alertes/cibler/apercu/"
NEW_URL = "/alertes/cibler/"


@pytest.fixture
def channels(settings: Any) -> Any:
    # Nothing is sent in these tests: the providers only need to be configured.
    settings.ALERTING_CHANNELS = {
        "email": [{"name": "relay", "kind": "smtp", "host": "127.0.0.1", "port": 2525}],
        "voice": [{"name": "voice", "kind": "voice_log"}],
    }
    return settings


def _member(establishment: Any, function: str = "staff", name: str = "", **person: Any) -> Any:
    person_obj = PersonFactory(last_name=name or f"P{PersonFactory._meta.model.objects.count()}", **person)
    return MembershipFactory(establishment=establishment, person=person_obj, function=function).person


def _names(reached: list[Any]) -> set[str]:
    return {item.person.last_name for item in reached}


def _ids(reached: list[Any]) -> set[int]:
    return {item.person.pk for item in reached}


def _counts(html: str) -> tuple[str, ...]:
    """people, establishments, without channel — as the preview shows them (any language)."""
    found = re.search(r'data-people="(\d+)" data-establishments="(\d+)" data-without-channel="(\d+)"', html)
    assert found, html
    return found.groups()


def _form(world: Any, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "sender": f"r:{world.region_a.pk}", "title": "Cyberattaque régionale", "message_fr": "Bonjour {name}",
        "channels": ["email"], "is_exercise": "on",
    }
    data.update(overrides)
    return data


def test_it_documents_key_functions_that_exist_in_the_directory():
    assert set(KEY_FUNCTIONS) <= set(Function.values)
    assert {"director", "ciso", "it_director", "on_call_manager"} <= set(KEY_FUNCTIONS)


@pytest.mark.django_db
def test_it_reaches_everyone_of_the_chosen_establishments(world):
    director = _member(world.chu, "director", "Directeur")
    reached = target_resolve(
        user=world.establishment_admin, target=Target(establishment_ids=(world.chu.pk,)), establishment=world.chu,
    )
    assert _ids(reached) == {world.chu_person.pk, director.pk}
    assert {item.establishment for item in reached} == {world.chu}


@pytest.mark.django_db
def test_it_reaches_the_key_functions_of_a_whole_region_by_default_and_everyone_when_asked(world):
    chu_director = _member(world.chu, "director", "DirChu")
    ch_ciso = _member(world.ch, "ciso", "RssiCh")
    ehpad_oncall = _member(world.ehpad, "on_call_manager", "CadreEhpad")
    _member(world.ehpad, "communication", "ComEhpad")
    _member(world.clinic, "director", "DirClinique")
    key = target_resolve(user=world.regional_officer, target=Target(whole_region=True), region=world.region_a)
    assert _ids(key) == {chu_director.pk, ch_ciso.pk, ehpad_oncall.pk}
    everyone = target_resolve(
        user=world.regional_officer, target=Target(whole_region=True, region_everyone=True), region=world.region_a,
    )
    assert _names(everyone) == {
        "DirChu", "RssiCh", "CadreEhpad", "ComEhpad", "Chuperson", "Chperson",
    }


@pytest.mark.django_db
def test_it_narrows_a_region_to_priority_establishments_or_to_categories(world):
    chu_director = _member(world.chu, "director", "DirChu")
    _member(world.ch, "director", "DirCh")
    ehpad_director = _member(world.ehpad, "director", "DirEhpad")
    priority = target_resolve(
        user=world.regional_officer, target=Target(whole_region=True, region_priority_only=True), region=world.region_a,
    )
    assert _ids(priority) == {chu_director.pk}
    nursing_homes = target_resolve(
        user=world.regional_officer, target=Target(whole_region=True, region_categories=("ehpad",)),
        region=world.region_a,
    )
    assert _ids(nursing_homes) == {ehpad_director.pk}


@pytest.mark.django_db
def test_it_reaches_a_group_functions_departments_and_hand_picked_people(world):
    ehpad_person = _member(world.ehpad, name="Ehpadperson")
    group = target_resolve(
        user=world.regional_officer, target=Target(group_ids=(world.group_a.pk,)), region=world.region_a,
    )
    assert _ids(group) == {world.chu_person.pk, world.ch_person.pk}
    ciso = _member(world.ch, "ciso", "RssiCh")
    _member(world.clinic, "ciso", "RssiClinique")
    by_function = target_resolve(
        user=world.regional_officer, target=Target(functions=("ciso",)), region=world.region_a,
    )
    assert _ids(by_function) == {ciso.pk}
    nurse = PersonFactory(last_name="Urgentiste")
    MembershipFactory(establishment=world.chu, person=nurse, function="staff", department=world.chu_emergency)
    by_department = target_resolve(
        user=world.establishment_admin, target=Target(department_ids=(world.chu_emergency.pk,)),
        establishment=world.chu,
    )
    assert _ids(by_department) == {nurse.pk}
    picked = target_resolve(
        user=world.regional_officer, target=Target(person_ids=(ehpad_person.pk, world.ch_person.pk)),
        region=world.region_a,
    )
    assert _ids(picked) == {ehpad_person.pk, world.ch_person.pk}


@pytest.mark.django_db
def test_it_reaches_whoever_is_on_call_now_in_a_rotation(world):
    alpha = _member(world.chu, name="Alpha")
    bravo = _member(world.chu, name="Bravo")
    today = timezone.localdate()
    rotation = rotation_create(
        actor=world.establishment_admin, establishment=world.chu, name="Astreinte DSI", period="daily",
        handoff_time=time(0, 0), starts_on=today - timedelta(days=1), members=[alpha, bravo],
    )
    reached = target_resolve(
        user=world.establishment_admin, target=Target(rotation_ids=(rotation.pk,)), establishment=world.chu,
    )
    assert _ids(reached) == {bravo.pk}  # yesterday Alpha, today Bravo
    tomorrow = target_resolve(
        user=world.establishment_admin, target=Target(rotation_ids=(rotation.pk,)), establishment=world.chu,
        now=timezone.now() + timedelta(days=1),
    )
    assert _ids(tomorrow) == {alpha.pk}


@pytest.mark.django_db
def test_it_counts_a_person_reached_by_several_criteria_once(world):
    director = _member(world.chu, "director", "Directeur")
    MembershipFactory(establishment=world.chu, person=director, function="crisis_cell", department=world.chu_emergency)
    MembershipFactory(establishment=world.ch, person=director, function="director")
    reached = target_resolve(
        user=world.regional_officer,
        target=Target(
            establishment_ids=(world.chu.pk, world.ch.pk), whole_region=True, group_ids=(world.group_a.pk,),
            functions=("director",), department_ids=(world.chu_emergency.pk,), person_ids=(director.pk,),
        ),
        region=world.region_a,
    )
    assert [item.person.pk for item in reached].count(director.pk) == 1
    assert len(reached) == len(_ids(reached)) == 3  # the director, chu_person, ch_person
    # Attached to the first establishment by name that found them.
    assert next(item.establishment for item in reached if item.person == director) == world.ch


@pytest.mark.django_db
def test_it_never_reaches_people_outside_the_senders_scope(world):
    clinic_director = _member(world.clinic, "director", "DirClinique")
    forged = Target(
        establishment_ids=(world.clinic.pk,), group_ids=(world.group_a.pk,), functions=("director",),
        department_ids=(world.clinic_surgery.pk,), person_ids=(world.clinic_person.pk, clinic_director.pk),
        whole_region=True, region_everyone=True,
    )
    officer_a = target_resolve(user=world.regional_officer, target=forged, region=world.region_a)
    assert not {world.clinic_person.pk, clinic_director.pk} & _ids(officer_a)
    # A regional officer of region B anchoring on region A reaches nobody.
    officer_b = UserFactory(username="officer_b")
    RoleAssignmentFactory(user=officer_b, role=Role.REGIONAL_OFFICER, region=world.region_b)
    assert target_resolve(user=officer_b, target=forged, region=world.region_a) == []
    assert _ids(target_resolve(user=officer_b, target=forged, region=world.region_b)) == {
        world.clinic_person.pk, clinic_director.pk,
    }
    # The clinic's administrator reaches none of region A's people.
    outsider = target_resolve(
        user=world.outsider_admin,
        target=Target(establishment_ids=(world.chu.pk,), person_ids=(world.chu_person.pk,), functions=("staff",)),
        establishment=world.clinic,
    )
    assert _ids(outsider) == {world.clinic_person.pk}


@pytest.mark.django_db
def test_it_refuses_a_forged_post_of_other_regions_ids_and_creates_nothing(world, channels):
    officer_b = UserFactory(username="officer_b")
    RoleAssignmentFactory(user=officer_b, role=Role.REGIONAL_OFFICER, region=world.region_b)
    client_b = verified_client(officer_b)
    form = client_b.get(NEW_URL).content.decode()
    assert "Clinique B" in form and "CHU A" not in form and "Chuperson" not in form.replace("Cliniqueperson", "")
    for forged in (
        _form(world, sender=f"r:{world.region_a.pk}", whole_region="on"),
        _form(world, sender=f"r:{world.region_b.pk}", people=[world.chu_person.pk]),
        _form(world, sender=f"r:{world.region_b.pk}", establishments=[world.chu.pk]),
        _form(world, sender=f"e:{world.chu.pk}", people=[world.chu_person.pk]),
    ):
        response = client_b.post(NEW_URL, forged)
        assert response.status_code == 200
        assert "invalid-feedback" in response.content.decode()
    assert not Campaign.objects.exists() and not Recipient.objects.exists()


@pytest.mark.django_db
def test_it_hides_the_page_from_those_who_may_not_send(world, client_for):
    assert client_for("crisis_member").get(NEW_URL).status_code == 404
    assert client_for("auditor").post(PREVIEW_URL, _form(world, sender=f"e:{world.chu.pk}")).status_code == 404
    assert client_for("regional_officer").get(NEW_URL).status_code == 200


@pytest.mark.django_db
def test_it_previews_people_establishments_and_those_without_a_channel(world, client_for, channels):
    _member(world.chu, "director", "DirChu")
    _member(world.ch, "ciso", "RssiCh", email="", mobile_phone="", landline_phone="")
    _member(world.ehpad, "director", "DirEhpad")
    _member(world.clinic, "director", "DirClinique")
    client = client_for("regional_officer")
    html = client.post(PREVIEW_URL, _form(world, whole_region="on")).content.decode()
    assert _counts(html) == ("3", "3", "1")
    assert "RSSICH" in html and "DIRCHU" not in html
    # Email plan: a person with only a phone has no channel; with voice as well, they have one.
    _member(world.ehpad, "ciso", "Telephone", email="")
    html = client.post(PREVIEW_URL, _form(world, whole_region="on")).content.decode()
    assert _counts(html) == ("4", "3", "2")
    html = client.post(PREVIEW_URL, _form(world, whole_region="on", channels=["email", "voice"])).content.decode()
    assert _counts(html) == ("4", "3", "1")
    # The same count from the selector.
    preview = target_preview(
        user=world.regional_officer, target=Target(whole_region=True), plan=["email"], region=world.region_a,
    )
    assert (preview.people, preview.establishments, len(preview.without_channel)) == (4, 3, 2)


@pytest.mark.django_db
def test_it_sends_a_regional_campaign_once_per_person_and_records_those_without_a_channel(world, client_for, channels):
    director = _member(world.chu, "director", "DirChu")
    MembershipFactory(establishment=world.ch, person=director, function="director")
    unreachable = _member(world.ehpad, "director", "DirEhpad", email="", mobile_phone="")
    _member(world.clinic, "director", "DirClinique")
    officer = client_for("regional_officer")
    data = _form(world, whole_region="on", people=[world.chu_person.pk], functions=["director"])
    # A regional send is confirmed first, with the count per channel; nothing is sent yet.
    confirm = officer.post(NEW_URL, data)
    html = confirm.content.decode()
    assert confirm.status_code == 200 and 'name="confirmed"' in html and not Campaign.objects.exists()
    channels_list = re.search(r'<ul class="mb-0" id="confirm-channels">(.*?)</ul>', html, re.S).group(1)
    assert re.search(r"<strong>2</strong>", channels_list), channels_list
    stamp = re.search(r'name="confirmed" value="([^"]+)"', html).group(1)
    # Going back from the confirmation keeps the message and the target as typed.
    back = officer.post(NEW_URL, {**data, "confirmed": stamp, "edit": "1"})
    assert back.status_code == 200 and 'name="confirmed"' not in back.content.decode()
    assert f'value="{data["title"]}"' in back.content.decode() and not Campaign.objects.exists()
    # A stale confirmation (the target changed) shows the new figures instead of sending.
    assert officer.post(NEW_URL, {**data, "confirmed": "1:1:email=1"}).status_code == 200
    assert not Campaign.objects.exists()
    response = officer.post(NEW_URL, {**data, "confirmed": stamp})
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/alertes/{campaign.pk}/"
    assert campaign.region == world.region_a and campaign.establishment is None
    recipients = {r.person_id: r for r in campaign.recipients.all()}
    assert set(recipients) == {director.pk, unreachable.pk, world.chu_person.pk}
    assert recipients[director.pk].establishment_name == "CH A"
    failed = Delivery.objects.get(recipient=recipients[unreachable.pk])
    assert (failed.status, failed.reason) == ("failed", "no channel")
    assert Delivery.objects.filter(campaign=campaign, status="queued", channel="email").count() == 2
    assert AuditEntry.objects.filter(action="alerting.campaign_create", object_id=str(campaign.pk)).exists()


@pytest.mark.django_db
def test_it_refuses_an_unknown_template_variable_and_creates_nothing(world, client_for, channels):
    _member(world.chu, "director", "DirChu")
    response = client_for("regional_officer").post(NEW_URL, _form(
        world, whole_region="on", message_fr="Bonjour {prenom}", followup_channel="voice", followup_after_minutes=5,
    ))
    assert response.status_code == 200
    assert "{prenom}" in response.content.decode()
    assert not Campaign.objects.exists() and not Recipient.objects.exists() and not Delivery.objects.exists()
    assert not FollowUp.objects.exists()


@pytest.mark.django_db
def test_it_plans_a_second_channel_for_those_who_have_not_acknowledged(world, client_for, channels):
    _member(world.chu, "director", "DirChu")
    before = timezone.now()
    response = client_for("establishment_admin").post(NEW_URL, _form(
        world, sender=f"e:{world.chu.pk}", establishments=[world.chu.pk], channels=["email"],
        followup_channel="voice", followup_after_minutes=10,
    ))
    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert campaign.establishment == world.chu and campaign.channels == ["email"]
    followup = FollowUp.objects.get(campaign=campaign)
    assert followup.channel == "voice"
    assert timedelta(minutes=9) < followup.due_at - before < timedelta(minutes=11)
    # Without a delay the second channel is refused, nothing created.
    response = client_for("establishment_admin").post(NEW_URL, _form(
        world, sender=f"e:{world.chu.pk}", establishments=[world.chu.pk], followup_channel="voice",
    ))
    assert response.status_code == 200 and Campaign.objects.count() == 1


@pytest.mark.django_db
def test_it_shows_progress_per_establishment_worst_first_with_a_drill_down(world, client_for, channels):
    recipients = [
        RecipientInput(name="Alice", email="alice@chu.example", establishment_name="CHU A"),
        RecipientInput(name="Bob", email="bob@chu.example", establishment_name="CHU A"),
        RecipientInput(name="Chloé", email="chloe@ch.example", establishment_name="CH A"),
        RecipientInput(name="Denis", email="", establishment_name="EHPAD A"),
    ]
    campaign = campaign_create(
        actor=world.regional_officer, region=world.region_a, title="Test", message_fr="Bonjour",
        recipients=recipients, wake_workers=False,
    )
    alice = Delivery.objects.get(campaign=campaign, recipient__name="Alice")
    Delivery.objects.filter(pk=alice.pk).update(status="sent", sent_at=timezone.now())
    alice.refresh_from_db()
    acknowledgement_record(delivery=alice)
    chloe = Delivery.objects.get(campaign=campaign, recipient__name="Chloé")
    Delivery.objects.filter(pk=chloe.pk).update(status="sent", sent_at=timezone.now())
    rows = campaign_progress_by_establishment(campaign=campaign)
    assert [(r.name, r.recipients, r.reached, r.acknowledged) for r in rows] == [
        ("EHPAD A", 1, 0, 0), ("CH A", 1, 1, 0), ("CHU A", 2, 1, 1),
    ]
    client = client_for("regional_officer")
    html = client.get(f"/alertes/{campaign.pk}/etablissements/").content.decode()
    assert html.index("EHPAD A") < html.index("CH A") < html.index("CHU A")
    drill = client.get(f"/alertes/{campaign.pk}/etablissements/", {"e": "CHU A"}).content.decode()
    assert "Alice" in drill and "Bob" in drill and "Denis" not in drill
    assert client_for("outsider_admin").get(f"/alertes/{campaign.pk}/etablissements/").status_code == 404
    assert client_for("national_admin").get(f"/alertes/{campaign.pk}/etablissements/").status_code == 200


@pytest.mark.django_db
def test_it_previews_the_time_to_reach_everyone_from_declared_capacities(world, client_for, settings):
    settings.ALERTING_CHANNELS = {
        "email": [{"name": "relay", "kind": "smtp", "host": "127.0.0.1", "port": 2525, "rate": 50}],
        "voice": [{"name": "voice", "kind": "voice_log", "lines": 2, "call_seconds": 120}],
    }
    for i in range(3):
        _member(world.chu, "director", f"Dir{i}")
    _member(world.ch, "ciso", "Telephone", email="")
    preview = target_preview(
        user=world.regional_officer, target=Target(whole_region=True), plan=["email", "voice"], region=world.region_a,
    )
    by_channel = {item.channel: item for item in preview.reach}
    assert by_channel["email"].messages == 3 and by_channel["email"].seconds == pytest.approx(3 / 50)
    # One call on two lines of two-minute calls: a minute of capacity per call.
    assert by_channel["voice"].messages == 1 and by_channel["voice"].seconds == pytest.approx(60)
    html = client_for("regional_officer").post(
        PREVIEW_URL, _form(world, whole_region="on", channels=["email", "voice"])
    ).content.decode()
    assert "preview-reach" in html
    assert "2 lines" in html or "2 lignes" in html
