"""Declaring alerts the crisis cell for real: the worker (`alert_worker --once`) sends
the email through a local SMTP server (aiosmtpd); it carries the bridge details and an
acknowledgement link that works."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from planblanc.alerting.models import Acknowledgement
from planblanc.crisis.services import crisis_declare
from tests.alerting.conftest import smtp  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def test_the_cell_receives_the_bridge_details_and_acknowledges_by_link(world, director, approved_plan, smtp,  # noqa: F811
                                                                       settings):
    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
    crisis = crisis_declare(actor=director, establishment=world.chu, kind="ransomware", severity="critical",
                            first_facts="Rançongiciel sur les serveurs de fichiers.")
    call_command("alert_worker", "--once", "-v", "0")
    received = smtp.recorder.received
    # Seat holders with an email address (factory people all have one); the deputy waits
    # on standby until the holder of their seat declines or stays silent.
    assert {r.rcpt for r in received} == set(
        crisis.campaign.recipients.filter(standby=False).exclude(email="").values_list("email", flat=True)
    ) and len(received) == 2
    assert crisis.campaign.recipients.filter(standby=True).count() == 1
    mail = received[0]
    assert "Crise cyber déclarée" in mail.subject and "CHU A" in mail.subject
    assert "+33199000123" in mail.body and "code 4242" in mail.body
    assert "Salle de crise, bâtiment A" in mail.body and "Rançongiciel sur les serveurs" in mail.body
    path = "/ack/" + mail.body.split("/ack/", 1)[1].split()[0]
    client = Client(enforce_csrf_checks=True)
    assert client.get(path).status_code == 200
    done = client.post(path, {"csrfmiddlewaretoken": client.cookies["planblanc_csrftoken"].value})
    assert done.status_code == 200
    ack = Acknowledgement.objects.get()
    assert ack.recipient.email == mail.rcpt and ack.delivery.campaign_id == crisis.campaign_id


def test_an_exercise_alert_is_marked_exercise(world, director, approved_plan, smtp, settings):  # noqa: F811
    settings.ALERTING_CHANNELS = {"email": [smtp.provider("relay")]}
    crisis_declare(actor=director, establishment=world.chu, kind="unknown", severity="moderate",
                   first_facts="Exercice annuel.", is_exercise=True)
    call_command("alert_worker", "--once", "-v", "0")
    assert smtp.recorder.received and all("EXERCICE" in r.subject for r in smtp.recorder.received)
