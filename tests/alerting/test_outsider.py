"""Alerting routes named one by one against an outsider (the clinic's administrator,
region B), a role that may read a campaign but not send, and an anonymous visitor: the
CHU's campaign, its recipients, devices and on-call people are never shown, and what
they post changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from planblanc.alerting.models import Acknowledgement, Campaign, OnCallRotation, PushSubscription
from planblanc.alerting.services import RecipientInput, campaign_create, deliveries_process
from tests.conftest import verified_client
from tests.support.factories import MembershipFactory, PersonFactory, PushSubscriptionFactory


@pytest.fixture
def chu_campaign(world: Any, smtp: Any, settings: Any) -> Campaign:
    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
    person = PersonFactory(last_name="Durand", first_name="Camille", email="camille@hopital.example",
                           user=world.crisis_member)
    campaign = campaign_create(
        actor=world.establishment_admin, establishment=world.chu, title="Panne messagerie CHU",
        message_fr="Passez au papier.", recipients=[
            RecipientInput(name="Camille Durand", email="camille@hopital.example", person=person),
            RecipientInput(name="Injoignable CHU", mobile_phone="+33639980001"),
        ],
    )
    deliveries_process(worker_id="w1")
    return campaign


def _state() -> tuple[Any, ...]:
    return (list(Campaign.objects.values_list("pk", "status", "closed_at")), Acknowledgement.objects.count(),
            OnCallRotation.objects.count(), PushSubscription.objects.count())


@pytest.mark.django_db
def test_the_outsider_gets_a_404_on_the_chu_campaign_routes(world: Any, chu_campaign: Campaign) -> None:
    outsider = verified_client(world.outsider_admin)
    before = _state()
    pages = {
        "alerting:campaign_close": reverse("alerting:campaign_close", args=[chu_campaign.pk]),
        "alerting:campaign_progress": reverse("alerting:campaign_progress", args=[chu_campaign.pk]),
        "alerting:campaign_export": reverse("alerting:campaign_export", args=[chu_campaign.pk]),
    }
    for name, url in pages.items():
        response = outsider.get(url)
        assert response.status_code == 404, name
        body = response.content.decode()
        assert "Camille Durand" not in body and "Injoignable CHU" not in body, name
    assert outsider.post(pages["alerting:campaign_close"]).status_code == 404
    assert _state() == before


@pytest.mark.django_db
def test_a_role_that_may_not_send_may_not_close_the_campaign_outsider_or_not(world: Any, chu_campaign: Campaign) -> None:
    auditor = verified_client(world.auditor)
    before = _state()
    url = reverse("alerting:campaign_close", args=[chu_campaign.pk])
    assert auditor.get(reverse("alerting:campaign_detail", args=[chu_campaign.pk])).status_code == 200
    assert auditor.get(url).status_code == 403
    assert auditor.post(url).status_code == 403
    assert _state() == before


@pytest.mark.django_db
def test_the_outsider_acknowledges_nobody_elses_alert(world: Any, chu_campaign: Campaign) -> None:
    mine = chu_campaign.recipients.get(name="Camille Durand")
    outsider = verified_client(world.outsider_admin)
    page = outsider.get(reverse("alerting:to_acknowledge"))
    assert page.status_code == 200 and "Panne messagerie CHU" not in page.content.decode()
    assert outsider.post(reverse("alerting:to_acknowledge"), {"recipient": mine.pk}).status_code == 404
    assert not Acknowledgement.objects.exists()


@pytest.mark.django_db
def test_the_outsider_sees_none_of_the_chu_devices(world: Any) -> None:
    person = PersonFactory(last_name="Durand", user=world.crisis_member)
    device = PushSubscriptionFactory(person=person, user_agent="Téléphone de Camille au CHU")
    outsider = verified_client(world.outsider_admin)
    page = outsider.get(reverse("alerting:devices"))
    assert page.status_code == 200 and "Téléphone de Camille au CHU" not in page.content.decode()
    assert outsider.post(reverse("alerting:device_remove", args=[device.pk])).status_code == 404
    assert "Téléphone de Camille au CHU" in verified_client(world.crisis_member).get(
        reverse("alerting:devices")).content.decode()
    assert PushSubscription.objects.filter(pk=device.pk).exists()


@pytest.mark.django_db
def test_the_outsider_may_not_create_an_on_call_rotation_for_the_chu(world: Any) -> None:
    people = [MembershipFactory(establishment=world.chu, person=PersonFactory(last_name=n)).person
              for n in ("Alpha", "Bravo")]
    outsider = verified_client(world.outsider_admin)
    page = outsider.get(reverse("alerting:rotation_new"))
    assert page.status_code == 200
    assert "CHU A" not in page.content.decode() and "Alpha" not in page.content.decode()
    response = outsider.post(reverse("alerting:rotation_new"), {
        "establishment": world.chu.pk, "name": "Astreinte intruse", "period": "daily", "handoff_time": "08:00",
        "starts_on": "2026-01-05", "members": [p.pk for p in people],
    })
    assert response.status_code == 200 and "establishment" in response.context["form"].errors
    assert not OnCallRotation.objects.exists()


@pytest.mark.django_db
def test_an_anonymous_visitor_is_sent_to_the_login_page(world: Any, chu_campaign: Campaign) -> None:
    anonymous = Client()
    before = _state()
    urls = [reverse(name) for name in ("alerting:devices", "alerting:rotation_new", "alerting:to_acknowledge")]
    urls += [reverse(name, args=[chu_campaign.pk]) for name in (
        "alerting:campaign_close", "alerting:campaign_progress", "alerting:campaign_export")]
    for url in urls:
        for method in ("get", "post"):
            response = getattr(anonymous, method)(url)
            assert response.status_code == 302, f"{method} {url}"
            assert response["Location"].startswith(reverse("accounts:login")), f"{method} {url}"
    assert _state() == before
