"""The staff situation page: published by the cell, read without an account through a
secret link (revocable), printable, with subscriptions to its updates."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from planblanc.alerting.models import Campaign, Recipient
from planblanc.crisis.models import (
    DepartmentState,
    DepartmentStatus,
    SituationSubscriber,
    StaffSituation,
)
from tests.conftest import verified_client


@pytest.fixture
def channels(settings):
    settings.ALERTING_CHANNELS = {
        "email": [{"name": "relay", "kind": "smtp", "host": "127.0.0.1", "port": 2525}],
        "sms": [{"name": "log", "kind": "kannel", "url": "http://127.0.0.1:9/", "callback_url": "http://127.0.0.1:9",
                 "secret": "s"}],
    }
    return settings


@pytest.mark.django_db
def test_it_publishes_a_page_staff_read_without_an_account(world, director, crisis, client, channels):
    row = DepartmentStatus.objects.filter(crisis=crisis).first()
    DepartmentStatus.objects.filter(pk=row.pk).update(status=DepartmentState.DEGRADED, note="dossiers papier")
    cell = verified_client(director)
    url = reverse("crisis:situation", args=[crisis.pk])
    form = cell.get(url).content.decode()
    # Prepared from the status board and the staff template.
    assert "dossiers papier" in form and "procédures dégradées" in form
    later = (timezone.localtime() + datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = cell.post(url, {
        "degraded_services": f"{row.name} : mode dégradé, dossiers papier", "stopped_applications": "DPI, messagerie",
        "what_to_do": "Utilisez les fiches papier. N'allumez aucun poste.", "next_update_at": later,
    })
    assert response.status_code == 302
    page = StaffSituation.objects.get(crisis=crisis)
    assert page.version == 1 and len(page.token) >= 32

    public = client.get(reverse("situation_public", args=[page.token]))
    assert public.status_code == 200
    html = public.content.decode()
    assert "Utilisez les fiches papier" in html and "DPI, messagerie" in html and "dossiers papier" in html
    assert public["X-Robots-Tag"] == "noindex, nofollow"
    assert 'href="/compte/' not in html  # no menu, no account needed

    # Subscriptions: a clear error next to the field, then a valid one.
    bad = client.post(reverse("situation_public", args=[page.token]), {"channel": "email", "address": "pas-une-adresse"})
    assert "Saisissez une adresse e-mail valide." in bad.content.decode()
    assert not SituationSubscriber.objects.exists()
    client.post(reverse("situation_public", args=[page.token]), {"channel": "email", "address": "agent@example.org"})
    client.post(reverse("situation_public", args=[page.token]), {"channel": "sms", "address": "06 39 98 00 11"})
    assert SituationSubscriber.objects.count() == 2

    # An update tells the subscribers, with the link.
    updated = cell.post(url, {"degraded_services": "", "stopped_applications": "DPI", "what_to_do": "Reprise partielle.",
                              "next_update_at": later})
    assert updated.status_code == 302
    campaign = Campaign.objects.filter(message_fr__contains=page.token).get()
    assert set(Recipient.objects.filter(campaign=campaign).values_list("name", flat=True)) == {
        "agent@example.org", "+33639980011",
    }
    assert page.token in campaign.message_fr

    # Revoked: the old link is gone at once.
    old = page.token
    cell.post(reverse("crisis:situation_revoke", args=[crisis.pk]))
    assert client.get(reverse("situation_public", args=[old])).status_code == 404
    assert client.get(reverse("situation_public", args=[StaffSituation.objects.get().token])).status_code == 200


@pytest.mark.django_db
def test_it_lets_only_the_cell_publish(world, crisis, channels):
    outsider = verified_client(world.outsider_admin)
    assert outsider.get(reverse("crisis:situation", args=[crisis.pk])).status_code == 404
    assert outsider.post(reverse("crisis:situation", args=[crisis.pk]), {"what_to_do": "x"}).status_code == 404
    auditor = verified_client(world.auditor)
    page = auditor.get(reverse("crisis:situation", args=[crisis.pk]))
    assert page.status_code == 200 and "Publier" not in page.content.decode()
    assert auditor.post(reverse("crisis:situation", args=[crisis.pk]), {"what_to_do": "x"}).status_code == 404
    assert not StaffSituation.objects.exists()


@pytest.mark.django_db
def test_it_refuses_an_empty_instruction_and_a_past_update_time(director, crisis, channels):
    cell = verified_client(director)
    url = reverse("crisis:situation", args=[crisis.pk])
    response = cell.post(url, {"what_to_do": "", "next_update_at": "2020-01-01T10:00"})
    assert response.status_code == 200
    assert not StaffSituation.objects.exists()
    response = cell.post(url, {"what_to_do": "Fiches papier.", "next_update_at": "2020-01-01T10:00"})
    assert "Le prochain point doit être dans le futur." in response.content.decode()
    assert not StaffSituation.objects.exists()
