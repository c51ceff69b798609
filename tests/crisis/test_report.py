"""End of crisis and lessons learned: the PDF report with the timeline, key figures,
decisions, improvement actions and the logbook head hash; improvement actions appear in
the gaps of the establishment's plan while open (a warning once overdue)."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from planblanc.alerting.models import Delivery, Recipient
from planblanc.crisis.models import ImprovementAction, LogbookEntry
from planblanc.crisis.notifications import notification_mark_sent
from planblanc.crisis.report import (
    crisis_figures,
    improvement_action_create,
    improvement_action_set_status,
    report_pdf,
)
from planblanc.crisis.services import crisis_close, decision_record
from planblanc.plans.selectors import plan_gaps
from tests.conftest import verified_client

pytestmark = pytest.mark.django_db


def _pdf_text(content: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def _alerted_and_acknowledged(crisis, minutes_sent: int, minutes_ack: int) -> None:
    start = crisis.declared_at
    assert crisis.campaign_id, "the approved plan alerts the cell"
    Delivery.objects.filter(campaign_id=crisis.campaign_id).update(
        sent_at=start + datetime.timedelta(minutes=minutes_sent))
    first = Recipient.objects.filter(campaign_id=crisis.campaign_id).order_by("id").first()
    Recipient.objects.filter(pk=first.pk).update(acknowledged_at=start + datetime.timedelta(minutes=minutes_ack))


def test_it_computes_the_key_figures(crisis, director):
    from planblanc.crisis.models import Crisis

    Crisis.objects.filter(pk=crisis.pk).update(declared_at=timezone.now() - datetime.timedelta(hours=3))
    crisis.refresh_from_db()
    _alerted_and_acknowledged(crisis, 2, 14)
    notification_mark_sent(actor=director, crisis=crisis, kind="ars_cert_sante", reference="SIG-7",
                           sent_at=crisis.declared_at + datetime.timedelta(minutes=95))
    figures = {f.label: f.shown for f in crisis_figures(crisis=crisis)}
    assert figures["Time to first alert"] == "0 h 02 min"
    assert figures["Time to cell assembled (first acknowledgement)"] == "0 h 14 min"
    assert figures["Time to notification: Health-sector incident report (ARS and CERT Santé)"] == "1 h 35 min"
    assert figures["Time to notification: Personal data breach notification (CNIL)"] == "—"


def test_the_report_pdf_has_the_timeline_figures_decisions_actions_and_head_hash(crisis, director):
    _alerted_and_acknowledged(crisis, 3, 20)
    decision_record(actor=director, crisis=crisis, text="Couper l'accès Internet", rationale="Propagation")
    improvement_action_create(actor=director, crisis=crisis, title="Sauvegardes hors ligne du PACS",
                              owner=director.person, due_date=timezone.localdate() + datetime.timedelta(days=90))
    crisis_close(actor=director, crisis=crisis, summary="Systèmes restaurés")
    content = report_pdf(actor=director, crisis=crisis)
    text = " ".join(_pdf_text(content).split())
    assert "Retour d'expérience" in text and "CHU A" in text
    assert "0 h 03 min" in text and "0 h 20 min" in text
    assert "Couper l'accès Internet" in text
    assert "Sauvegardes hors ligne du PACS" in text
    assert "Écrans de rançon" in text and "Systèmes restaurés" in text  # first and last entries
    assert crisis.head_hash[:32] in text.replace("\n", "").replace(" ", "")


def test_an_open_improvement_action_appears_in_the_plans_gaps(crisis, director, complete_plan):
    today = timezone.localdate()
    action = improvement_action_create(actor=director, crisis=crisis, title="Annuaire de crise papier",
                                       owner_label="RSSI", due_date=today + datetime.timedelta(days=30))
    gaps = [g for g in plan_gaps(plan=complete_plan, today=today).gaps if g.code == "improvement_action_open"]
    assert len(gaps) == 1 and gaps[0].severity == "info" and "Annuaire de crise papier" in gaps[0].message
    assert "RSSI" in gaps[0].message and gaps[0].item == str(action.pk)
    late = [g for g in plan_gaps(plan=complete_plan, today=today + datetime.timedelta(days=31)).gaps
            if g.code == "improvement_action_open"]
    assert late[0].severity == "warning"
    improvement_action_set_status(actor=director, action=action, status="done")
    assert not [g for g in plan_gaps(plan=complete_plan, today=today).gaps if g.code == "improvement_action_open"]


def test_improvement_actions_of_another_establishment_stay_out_of_the_gaps(crisis, director, complete_plan, world):
    from planblanc.plans.models import Plan

    improvement_action_create(actor=director, crisis=crisis, title="Action CHU", owner_label="DSI",
                              due_date=timezone.localdate())
    other = Plan.objects.create(establishment=world.clinic)
    assert not [g for g in plan_gaps(plan=other).gaps if g.code == "improvement_action_open"]


def test_it_refuses_an_action_without_owner_or_due_date(crisis, director):
    with pytest.raises(ValidationError) as error:
        improvement_action_create(actor=director, crisis=crisis, title="x", due_date=None)
    assert "due_date" in error.value.message_dict and "owner" in error.value.message_dict
    assert not ImprovementAction.objects.exists()


def test_the_pages_record_an_action_and_print_the_report(crisis, director):
    client = verified_client(director)
    client.cookies["planblanc_language"] = "en"
    url = reverse("crisis:report", args=[crisis.pk])
    client.post(url, {"title": "Exercice annuel", "owner": director.person.pk,
                      "due_date": (timezone.localdate() + datetime.timedelta(days=60)).isoformat()})
    action = ImprovementAction.objects.get()
    assert action.owner == director.person
    page = client.get(url).content.decode()
    crisis.refresh_from_db()
    assert "Exercice annuel" in page and crisis.head_hash in page and "table-responsive" in page
    assert LogbookEntry.objects.filter(crisis=crisis, text__contains="Exercice annuel").exists()
    response = client.get(reverse("crisis:report_export", args=[crisis.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "Exercice annuel" in _pdf_text(response.content)


def test_outsiders_get_404_on_every_report_route(crisis, director, client_for):
    action = improvement_action_create(actor=director, crisis=crisis, title="A", owner_label="B",
                                       due_date=timezone.localdate())
    client = client_for("outsider_admin")
    assert client.get(reverse("crisis:report", args=[crisis.pk])).status_code == 404
    assert client.get(reverse("crisis:report_export", args=[crisis.pk])).status_code == 404
    assert client.post(reverse("crisis:report", args=[crisis.pk]), {"title": "x"}).status_code == 404
    assert client.post(reverse("crisis:improvement_status", args=[crisis.pk, action.pk]),
                       {"status": "done"}).status_code == 404
    action.refresh_from_db()
    assert action.status == "open" and ImprovementAction.objects.count() == 1
