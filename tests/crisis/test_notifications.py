"""Regulatory notifications: which are required, clocks from the declaration and overdue
in red, pre-filled forms, PDF and JSON exports, marked sent only with a reference, every
step in the logbook; pages and API behind tenancy."""

from __future__ import annotations

import datetime
import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from planblanc.crisis.chain import logbook_verify
from planblanc.crisis.models import Crisis, LogbookEntry, RegulatoryNotification
from planblanc.crisis.notifications import (
    notification_clocks,
    notification_complement,
    notification_export,
    notification_mark_sent,
    notification_prefill,
    notification_requirements,
    notification_save,
)
from planblanc.crisis.services import (
    crisis_declare,
    damage_assessment_update,
    department_status_change,
)
from planblanc.directory.models import Function
from tests.conftest import verified_client
from tests.factories import MembershipFactory, PersonFactory

pytestmark = pytest.mark.django_db


def _required(crisis: Crisis) -> dict[str, bool]:
    return {r.kind: r.required for r in notification_requirements(crisis=crisis)}


def test_it_computes_the_clocks_from_the_declaration(crisis):
    clocks = {c.kind: c for c in notification_clocks(crisis=crisis, now=crisis.declared_at)}
    assert clocks["cnil"].due_at == crisis.declared_at + datetime.timedelta(hours=72)
    assert clocks["ars_cert_sante"].due_at == crisis.declared_at + datetime.timedelta(hours=2)
    assert not clocks["cnil"].overdue and clocks["cnil"].time_left == "72 h 00 min"
    later = {c.kind: c for c in notification_clocks(crisis=crisis, now=crisis.declared_at
                                                   + datetime.timedelta(hours=73))}
    assert later["cnil"].overdue and later["ars_cert_sante"].overdue
    assert later["cnil"].time_left == "1 h 00 min"
    # Not required: never overdue.
    assert not later["anssi"].required and not later["anssi"].overdue


def test_it_shows_overdue_notifications_in_red_in_the_console_section(crisis, director):
    Crisis.objects.filter(pk=crisis.pk).update(declared_at=timezone.now() - datetime.timedelta(hours=80))
    page = verified_client(director).get(reverse("crisis:section", args=[crisis.pk, "echeances"])).content.decode()
    section = page.split('id="crisis-notifications"')[1].split("</section>")[0]
    assert section.count("text-danger fw-bold") >= 2  # ARS/CERT Santé and CNIL, both late
    assert reverse("crisis:notification_form", args=[crisis.pk, "cnil"]) in section


def test_it_requires_the_anssi_notification_for_essential_operators_only(crisis, world):
    assert _required(crisis)["anssi"] is False
    world.chu.is_essential_operator = True
    world.chu.save()
    crisis.refresh_from_db()
    assert _required(crisis)["anssi"] is True


def test_it_requires_the_cnil_notification_when_personal_data_is_involved(crisis, director, world):
    assert _required(crisis)["cnil"] is True  # ransomware reaches patient records
    outage = crisis_declare(actor=director, establishment=world.chu, kind="provider_outage", severity="moderate",
                            first_facts="Hébergeur indisponible", confirm_second=True)
    required = _required(outage)
    assert required["cnil"] is False and required["complaint"] is False and required["ars_cert_sante"] is True
    damage_assessment_update(actor=director, crisis=outage, data={"data_theft_signs": "yes"})
    assert _required(outage)["cnil"] is True


def test_it_prefills_the_form_from_the_crisis(crisis, director, world):
    dpo = PersonFactory(first_name="Dora", last_name="Dpo", email="dpo@chu-a.example")
    MembershipFactory(person=dpo, establishment=world.chu, function=Function.DPO)
    department_status_change(actor=director, row=crisis.department_statuses.get(), status="degraded",
                             note="Papier")
    damage_assessment_update(actor=director, crisis=crisis, data={"encryption_scope": "Serveurs de fichiers",
                                                                   "patients_impacted": "Urgences déroutées"})
    ars = notification_prefill(crisis=crisis, kind="ars_cert_sante", actor=director)
    assert ars["establishment"] == "CHU A" and ars["finess"] == str(world.chu.finess)
    assert ars["reporter_name"] == "Diane DIRECTRICE" and "Director" in ars["reporter_function"]
    assert ars["scope"] == "Serveurs de fichiers" and ars["impact_care"] == "Urgences déroutées"
    assert "Urgences CHU: Degraded mode (Papier)" in ars["degraded_mode"]
    assert ars["discovered_at"] == timezone.localtime(crisis.declared_at).strftime("%d/%m/%Y %H:%M")
    assert "Écrans de rançon" in ars["description"]
    cnil = notification_prefill(crisis=crisis, kind="cnil", actor=director)
    assert cnil["dpo_contact"] == "Dora DPO <dpo@chu-a.example>"


def test_it_refuses_to_mark_sent_without_a_reference(crisis, director):
    before = crisis.head_seq
    with pytest.raises(ValidationError) as error:
        notification_mark_sent(actor=director, crisis=crisis, kind="cnil", reference="  ")
    assert "reference" in error.value.message_dict and "Give the reference" in str(error.value)
    assert not RegulatoryNotification.objects.exists()
    crisis.refresh_from_db()
    assert crisis.head_seq == before


def test_it_marks_sent_and_writes_every_step_in_the_logbook(crisis, director):
    notification_save(actor=director, crisis=crisis, kind="cnil",
                      data={**notification_prefill(crisis=crisis, kind="cnil", actor=director), "people_count": "12000"})
    sent = notification_mark_sent(actor=director, crisis=crisis, kind="cnil", reference="CNIL-2026-0042")
    assert sent.reference == "CNIL-2026-0042" and sent.data["people_count"] == "12000"
    clock = next(c for c in notification_clocks(crisis=crisis) if c.kind == "cnil")
    assert clock.is_sent and not clock.overdue
    with pytest.raises(ValidationError, match="already marked sent"):
        notification_mark_sent(actor=director, crisis=crisis, kind="cnil", reference="X")
    with pytest.raises(ValidationError, match="was sent"):
        notification_save(actor=director, crisis=crisis, kind="cnil", data=sent.data)
    complement = notification_complement(actor=director, crisis=crisis, kind="cnil")
    assert complement.filing == 2 and "CNIL-2026-0042" in complement.data["filing_type"]
    with pytest.raises(ValidationError, match="Only the CNIL"):
        notification_complement(actor=director, crisis=crisis, kind="anssi")
    texts = list(LogbookEntry.objects.filter(crisis=crisis).values_list("text", flat=True))
    assert any("Notification prepared" in t and "CNIL" in t for t in texts)
    assert any("CNIL-2026-0042" in t and "Notification sent" in t for t in texts)
    assert any("Complementary filing opened" in t for t in texts)
    assert logbook_verify(crisis).ok


def test_it_exports_the_cnil_notification_with_the_required_fields(crisis, director):
    content, content_type, name = notification_export(actor=director, crisis=crisis, kind="cnil", fmt="json")
    document = json.loads(content)
    assert content_type == "application/json" and name.endswith(".json")
    names = {f["name"] for f in document["fields"]}
    for required in ("establishment", "finess", "reporter_name", "discovered_at", "breach_nature",
                     "people_categories", "people_count", "record_categories", "record_count", "dpo_contact",
                     "likely_consequences", "measures_taken", "filing_type"):
        assert required in names
    assert document["values"]["finess"] == str(crisis.establishment.finess)
    assert document["due_at"].startswith((crisis.declared_at + datetime.timedelta(hours=72)).strftime("%Y-%m-%d"))
    pdf, pdf_type, _name = notification_export(actor=director, crisis=crisis, kind="cnil", fmt="pdf")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert pdf_type == "application/pdf"
    assert str(crisis.establishment.finess) in text and "CNIL" in text
    assert LogbookEntry.objects.filter(crisis=crisis, text__contains="Exported").count() == 2


def test_the_pages_save_and_mark_sent(crisis, director):
    client = verified_client(director)
    client.cookies["planblanc_language"] = "en"
    url = reverse("crisis:notification_form", args=[crisis.pk, "ars_cert_sante"])
    page = client.get(url).content.decode()
    assert "Écrans de rançon" in page and str(crisis.establishment.finess) in page
    data = notification_prefill(crisis=crisis, kind="ars_cert_sante", actor=director)
    client.post(url, {**data, "causes": "Hameçonnage"})
    assert RegulatoryNotification.objects.get().data["causes"] == "Hameçonnage"
    refused = client.post(reverse("crisis:notification_sent", args=[crisis.pk, "ars_cert_sante"]),
                          {"reference": ""}, follow=True).content.decode()
    assert "Give the reference" in refused
    client.post(reverse("crisis:notification_sent", args=[crisis.pk, "ars_cert_sante"]), {"reference": "SIG-1"})
    assert RegulatoryNotification.objects.get().reference == "SIG-1"
    listing = client.get(reverse("crisis:notification_list", args=[crisis.pk])).content.decode()
    assert "SIG-1" in listing and "table-responsive" in listing


def test_the_api_lists_marks_sent_and_exports(crisis, client_for):
    client = client_for("crisis_member")
    clocks = client.get(f"/api/v1/crisis/{crisis.pk}/notifications").json()
    assert {c["kind"] for c in clocks} == {"ars_cert_sante", "cnil", "anssi", "complaint"}
    refused = client.post(f"/api/v1/crisis/{crisis.pk}/notifications/cnil/sent", {"reference": ""},
                          content_type="application/json")
    assert refused.status_code == 422 and "reference" in refused.json()["errors"]
    done = client.post(f"/api/v1/crisis/{crisis.pk}/notifications/cnil/sent", {"reference": "R-1"},
                       content_type="application/json")
    assert done.status_code == 200 and done.json()["reference"] == "R-1" and done.json()["sent_at"]
    exported = client.get(f"/api/v1/crisis/{crisis.pk}/notifications/cnil/export").json()
    assert exported["reference"] == "R-1" and exported["notification"] == "cnil"
    officer = client_for("regional_officer")
    assert officer.get(f"/api/v1/crisis/{crisis.pk}/notifications").status_code == 200
    assert officer.post(f"/api/v1/crisis/{crisis.pk}/notifications/anssi/sent", {"reference": "x"},
                        content_type="application/json").status_code == 403


def test_outsiders_get_404_on_every_notification_route(crisis, client_for):
    client = client_for("outsider_admin")
    for url in (reverse("crisis:notification_list", args=[crisis.pk]),
                reverse("crisis:notification_form", args=[crisis.pk, "cnil"]),
                reverse("crisis:notification_export", args=[crisis.pk, "cnil", "json"]),
                reverse("crisis:notification_export", args=[crisis.pk, "cnil", "pdf"]),
                f"/api/v1/crisis/{crisis.pk}/notifications",
                f"/api/v1/crisis/{crisis.pk}/notifications/cnil/export"):
        assert client.get(url).status_code == 404, url
    for url in (reverse("crisis:notification_form", args=[crisis.pk, "cnil"]),
                reverse("crisis:notification_sent", args=[crisis.pk, "cnil"]),
                f"/api/v1/crisis/{crisis.pk}/notifications/cnil/sent"):
        assert client.post(url, {"reference": "x"}, content_type="application/json").status_code == 404, url
    assert not RegulatoryNotification.objects.exists()


def test_the_regional_view_says_how_many_notifications_are_sent_and_late(crisis, director, client_for):
    from planblanc.crisis.notifications import notification_summaries

    # Ransomware in a non-OES establishment: ARS/CERT Santé, CNIL and complaint required.
    fresh = notification_summaries(crises=[crisis], now=crisis.declared_at)[crisis.pk]
    assert (fresh.required, fresh.sent, fresh.overdue) == (3, 0, 0)
    assert fresh.next_due_at == crisis.declared_at + datetime.timedelta(hours=2)
    notification_mark_sent(actor=director, crisis=crisis, kind="cnil", reference="CNIL-2026-0042")
    later = notification_summaries(crises=[crisis], now=crisis.declared_at + datetime.timedelta(hours=80))[crisis.pk]
    assert (later.required, later.sent, later.overdue) == (3, 1, 2)

    Crisis.objects.filter(pk=crisis.pk).update(declared_at=timezone.now() - datetime.timedelta(hours=80))
    officer = client_for("regional_officer")
    officer.cookies["planblanc_language"] = "en"
    page = officer.get(reverse("crisis:index")).content.decode()
    assert "1 of 3 sent" in page and "2 late" in page


def test_the_regional_view_reads_the_clocks_of_many_crises_in_few_queries(
    crisis, django_assert_max_num_queries
):
    from planblanc.crisis.notifications import notification_summaries

    crises = list(Crisis.objects.select_related("establishment"))
    with django_assert_max_num_queries(2):
        notification_summaries(crises=crises)
