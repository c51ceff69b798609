"""Invitations of an exercise's players and observers sent through the alerting engine:
one campaign per role marked EXERCICE, with the usual outbox rows (email and SMS), the
email received by a real SMTP server, each with the link to the participant's page;
refused without a date, without participants, or for an outsider."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from planblanc.alerting.channels.sms_kannel import sms_clean, sms_encoding
from planblanc.alerting.models import Campaign, Delivery
from planblanc.alerting.services import deliveries_process
from planblanc.exercises import services
from planblanc.exercises.invitations import invitations_send
from planblanc.exercises.models import Exercise
from tests.exercises.runkit import person_in
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def scheduled(world: Any) -> Exercise:
    exercise = services.exercise_create(
        actor=world.establishment_admin, establishment=world.chu, title="Cyber {rançon} 2026",
        planned_start=datetime.datetime(2026, 10, 6, 7, 30, tzinfo=datetime.UTC))
    exercise.location = "Salle du conseil"
    exercise.save()
    admin = world.establishment_admin
    for role, email, phone in (("player", "joueur1@chu-a.example", "+33639980101"),
                               ("player", "joueur2@chu-a.example", "+33639980102"),
                               ("observer", "observateur@chu-a.example", "+33639980103"),
                               ("animator", "animateur@chu-a.example", "+33639980104")):
        services.participant_add(actor=admin, exercise=exercise, role=role,
                                 person=person_in(world.chu, email=email, mobile_phone=phone))
    return exercise


def test_it_sends_invitations_to_players_and_observers_through_the_alerting_engine(
        world: Any, scheduled: Exercise, smtp: Any, settings: Any) -> None:
    # The SMS gateway is not reached here (tests/alerting/test_kannel.py sends through a
    # real Kannel): the SMS rows wait in the outbox like any alert's.
    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")], "sms": [
        {"name": "kannel", "kind": "kannel", "url": "http://127.0.0.1:9/cgi-bin/sendsms", "secret": "s"}]}
    campaigns = invitations_send(actor=world.establishment_admin, exercise=scheduled)
    assert len(campaigns) == 2 and all(c.is_exercise for c in campaigns)
    deliveries = Delivery.objects.filter(recipient__campaign__in=campaigns)
    # Every player and observer, by email and SMS (parallel), the animator left out.
    assert sorted(deliveries.values_list("channel", flat=True)) == ["email"] * 3 + ["sms"] * 3
    assert not deliveries.filter(address="animateur@chu-a.example").exists()
    deliveries_process(worker_id="test")
    received = {r.rcpt: r for r in smtp.recorder.received}
    assert set(received) == {"joueur1@chu-a.example", "joueur2@chu-a.example", "observateur@chu-a.example"}
    player = received["joueur1@chu-a.example"]
    assert "EXERCICE" in player.subject
    assert reverse("exercises:run_player", args=[scheduled.pk]) in player.body
    assert "Cyber {rançon} 2026" in player.body and "Salle du conseil" in player.body and "09:30" in player.body
    assert "&" not in player.body.replace("&amp;", "")  # plain text, never HTML-escaped
    observer = received["observateur@chu-a.example"]
    assert reverse("exercises:run_observer", args=[scheduled.pk]) in observer.body
    # The SMS text stays in the GSM alphabet.
    campaign = Campaign.objects.get(pk=campaigns[0].pk)
    text = campaign.message_fr.replace("{link}", "").replace("{name}", "")
    assert not any(c in text for c in "“”‘’—–\u00a0") and sms_encoding(sms_clean(text)) == "gsm"


def test_it_refuses_without_a_date_or_participants(world: Any) -> None:
    bare = services.exercise_create(actor=world.establishment_admin, establishment=world.chu, title="Sans date")
    with pytest.raises(ValidationError) as undated:
        invitations_send(actor=world.establishment_admin, exercise=bare)
    bare.planned_start = datetime.datetime(2026, 10, 6, 7, 30, tzinfo=datetime.UTC)
    bare.save()
    with pytest.raises(ValidationError) as empty:
        invitations_send(actor=world.establishment_admin, exercise=bare)
    assert undated.value.messages != empty.value.messages
    assert not Campaign.objects.exists()


def test_the_page_sends_them_and_an_outsider_cannot(world: Any, scheduled: Exercise, client_for: Any) -> None:
    url = reverse("exercises:invitations_send", args=[scheduled.pk])
    page = client_for("establishment_admin").get(reverse("exercises:detail", args=[scheduled.pk]))
    assert url in page.content.decode()
    assert client_for("outsider_admin").post(url, {"email": "1"}).status_code == 404
    assert not Campaign.objects.exists()
    with pytest.raises(PermissionDenied):
        invitations_send(actor=world.outsider_admin, exercise=scheduled)
    answer = client_for("establishment_admin").post(url, {"email": "1"}, follow=True)
    assert answer.status_code == 200
    assert set(Delivery.objects.values_list("channel", flat=True)) == {"email"}
    assert Campaign.objects.count() == 2
