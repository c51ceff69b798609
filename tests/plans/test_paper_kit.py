"""The paper kit (PDF) and the offline bundle (ZIP): what they say, that each export is
recorded and audited, tenancy, and that the same input gives the same bytes."""

from __future__ import annotations

import datetime
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pypdf
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from planblanc.accounts.models import AuditEntry
from planblanc.directory.validators import phone_display
from planblanc.plans.exports import (
    DRAFT_LABEL,
    kit_meta,
    offline_bundle_zip,
    paper_kit_pdf,
)
from planblanc.plans.models import DegradedProcedure, Plan, PlanExport, PlanVersion, Resource, Seat
from planblanc.plans.services import plan_approve
from planblanc.plans.snapshot import plan_snapshot

A4 = (595.28, 841.89)  # points
PRINTED_AT = datetime.datetime(2026, 3, 2, 8, 30, tzinfo=datetime.UTC)


def _flat(text: str) -> str:
    return " ".join(text.split())


def pdf_pages(content: bytes) -> list[Any]:
    assert content.startswith(b"%PDF-")
    return list(pypdf.PdfReader(io.BytesIO(content)).pages)


def pdf_text(pages: list[Any]) -> list[str]:
    return [_flat(page.extract_text()) for page in pages]


@pytest.fixture
def full_plan(complete_plan: Plan) -> Plan:
    """The complete plan, with a degraded procedure and a resource so every part prints."""
    DegradedProcedure.objects.create(
        plan=complete_plan, department_kind="emergency", title="Urgences sans dossier informatisé",
        switch_to_paper="Dossier de soins papier", paper_forms="Fiche d'admission papier", order=1,
    )
    Resource.objects.create(plan=complete_plan, kind="paper_forms", description="Fiches d'admission",
                            quantity=500, location="Armoire du bureau des entrées")
    return complete_plan


@pytest.fixture
def version(full_plan: Plan, director: Any) -> PlanVersion:
    return plan_approve(actor=director, plan=full_plan, note="Première version")


def download(client: Any, name: str, plan: Plan, **data: Any) -> Any:
    return client.post(reverse(f"plans:{name}", kwargs={"establishment_id": plan.establishment_id}), data)


def holders(plan: Plan) -> list[Any]:
    return [seat.holder for seat in Seat.objects.filter(plan=plan).select_related("holder")]


def test_it_prints_every_sheet_holder_and_the_version_on_a4_pages(full_plan: Plan, version: PlanVersion,
                                                                  client_for: Any) -> None:
    response = download(client_for("crisis_member"), "paper_kit", full_plan, version=version.number)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "plan-blanc-" in response["Content-Disposition"] and "-v1.pdf" in response["Content-Disposition"]
    pages = pdf_pages(response.content)
    texts = pdf_text(pages)
    whole = " ".join(texts)
    assert len(pages) > 10
    for page in pages:
        size = sorted((float(page.mediabox.width), float(page.mediabox.height)))
        assert size == pytest.approx(sorted(A4), abs=0.5)  # A4, portrait or landscape
    approved_on = timezone.localtime(version.approved_at).strftime("%d/%m/%Y")
    for number, text in enumerate(texts, start=1):
        assert f"Version {version.number} — approuvée le {approved_on}" in text, number
        assert "Imprimé le" in text, number
        assert f"page {number} / {len(pages)}" in text, number
        assert DRAFT_LABEL not in text
    for sheet in version.snapshot["reflex_sheets"]:
        assert sheet["title"] in whole
        # One sheet per page: its heading opens a page.
        assert any(text.startswith("Fiche réflexe") and sheet["title"] in text[:120] for text in texts)
    for person in holders(full_plan):
        assert person.full_name in whole
        assert phone_display(person.mobile_phone) in whole
    for part in ("Sommaire", "Cellule de crise", "Arbre d'alerte", "Procédures dégradées",
                 "Urgences sans dossier informatisé", "Prise en charge aux urgences", "Dossier patient",
                 "CERT Santé", "Armoire du bureau des entrées", "Main courante — feuille 1"):
        assert part in whole, part


def test_it_prints_a_version_as_approved_and_the_draft_as_it_is_now(full_plan: Plan, version: PlanVersion,
                                                                    client_for: Any) -> None:
    seat = Seat.objects.get(plan=full_plan, title="RSSI")
    seat.title = "Responsable sécurité renommé"
    seat.save()
    client = client_for("establishment_admin")
    approved = " ".join(pdf_text(pdf_pages(download(client, "paper_kit", full_plan, version=1).content)))
    draft_texts = pdf_text(pdf_pages(download(client, "paper_kit", full_plan).content))
    assert "Responsable sécurité renommé" not in approved
    assert "RSSI" in approved
    assert "Responsable sécurité renommé" in " ".join(draft_texts)
    for text in draft_texts:
        assert DRAFT_LABEL in text
        assert "Version 1" not in text


def test_it_records_each_print_and_export_with_who_when_and_which_version(
    full_plan: Plan, version: PlanVersion, world: Any, client_for: Any
) -> None:
    client = client_for("crisis_member")
    before = timezone.now()
    pdf = download(client, "paper_kit", full_plan, version=version.number)
    bundle = download(client, "offline_bundle", full_plan)
    assert pdf.status_code == bundle.status_code == 200
    exports = list(PlanExport.objects.filter(plan=full_plan).order_by("at", "id"))
    assert [(e.kind, e.version_id, e.by, e.by_label) for e in exports] == [
        ("pdf", version.pk, world.crisis_member, "crisis_member"),
        ("bundle", None, world.crisis_member, "crisis_member"),
    ]
    import hashlib

    assert exports[0].sha256 == hashlib.sha256(pdf.content).hexdigest()
    assert exports[1].size_bytes == len(bundle.content)
    assert all(before <= e.at <= timezone.now() for e in exports)
    audit = list(AuditEntry.objects.filter(action__startswith="plan.export.").order_by("at", "id"))
    assert [(a.action, a.actor, a.establishment, a.changes["version"][1], a.via) for a in audit] == [
        ("plan.export.pdf", world.crisis_member, world.chu, 1, audit[0].via),
        ("plan.export.bundle", world.crisis_member, world.chu, "draft", audit[1].via),
    ]
    page = client.get(reverse("plans:exports", kwargs={"establishment_id": world.chu.pk}))
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("crisis_member") >= 2
    assert exports[0].sha256[:16] in html


def test_it_hides_the_plan_from_an_outsider(full_plan: Plan, version: PlanVersion, client_for: Any) -> None:
    client = client_for("outsider_admin")
    assert download(client, "paper_kit", full_plan, version=1).status_code == 404
    assert download(client, "offline_bundle", full_plan).status_code == 404
    assert client.get(reverse("plans:exports", kwargs={"establishment_id": full_plan.establishment_id})).status_code == 404
    assert not PlanExport.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="plan.export.").exists()


def test_it_refuses_an_unknown_version_with_a_message_and_records_nothing(
    full_plan: Plan, version: PlanVersion, client_for: Any
) -> None:
    client = client_for("establishment_admin")
    for bad in ("7", "abc", "-1"):
        response = download(client, "paper_kit", full_plan, version=bad)
        assert response.status_code == 302
        assert response["Location"] == reverse("plans:exports", kwargs={"establishment_id": full_plan.establishment_id})
        page = client.get(response["Location"])
        messages = [str(m) for m in page.context["messages"]]
        assert len(messages) == 1 and (bad in messages[0] or "7" in messages[0])
    assert not PlanExport.objects.exists()


def test_it_downloads_from_a_plain_link_too(full_plan: Plan, version: PlanVersion, client_for: Any) -> None:
    client = client_for("establishment_admin")
    url = reverse("plans:offline_bundle", kwargs={"establishment_id": full_plan.establishment_id})
    response = client.get(url, {"version": "1"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert PlanExport.objects.get().version == version
    assert client.put(url).status_code == 405


def test_it_puts_the_whole_plan_and_the_pdf_in_the_bundle(full_plan: Plan, version: PlanVersion,
                                                          client_for: Any) -> None:
    response = download(client_for("crisis_member"), "offline_bundle", full_plan, version=1)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    names = archive.namelist()
    assert set(names) == {"index.html", "style.css", "LISEZMOI.txt", "kit-papier-v1.pdf"}
    index = archive.read("index.html").decode()
    for anchor, heading in (("cellule", "Cellule de crise"), ("alerte", "Arbre d'alerte"),
                            ("fiches", "Fiches réflexes"), ("modes-degrades", "Procédures dégradées"),
                            ("continuite", "Continuité et reprise"), ("systemes", "Systèmes d'information"),
                            ("contacts", "Contacts externes"), ("ressources", "Ressources du mode dégradé")):
        assert f'id="{anchor}"' in index and f'href="#{anchor}"' in index
        assert heading in index.replace("&#x27;", "'")
    for sheet in version.snapshot["reflex_sheets"]:
        assert sheet["title"] in index
    for person in holders(full_plan):
        assert person.full_name in index
        assert phone_display(person.mobile_phone) in index
    assert "Version 1" in index
    # Opens from a USB key: relative links only, nothing to fetch, no script.
    assert "<script" not in index
    for target in re.findall(r'(?:href|src)="([^"]*)"', index):
        assert target.startswith(("#", "tel:", "mailto:")) or target in names, target
    assert 'href="kit-papier-v1.pdf"' in index
    pages = pdf_pages(archive.read("kit-papier-v1.pdf"))
    assert "Version 1" in pdf_text(pages)[0]
    assert "index.html" in archive.read("LISEZMOI.txt").decode("utf-8-sig")


def test_it_makes_the_same_bytes_from_the_same_input(full_plan: Plan, version: PlanVersion) -> None:
    meta = kit_meta(plan=full_plan, version=version, printed_by="Diane", printed_at=PRINTED_AT)
    pdf = paper_kit_pdf(document=version.snapshot, meta=meta)
    assert paper_kit_pdf(document=version.snapshot, meta=meta) == pdf
    bundle = offline_bundle_zip(document=version.snapshot, meta=meta, pdf=pdf)
    assert offline_bundle_zip(document=version.snapshot, meta=meta, pdf=pdf) == bundle
    assert offline_bundle_zip(document=version.snapshot, meta=meta) == bundle
    later = kit_meta(plan=full_plan, version=version, printed_by="Diane",
                     printed_at=PRINTED_AT + datetime.timedelta(minutes=1))
    assert offline_bundle_zip(document=version.snapshot, meta=later, pdf=pdf) != bundle


def test_it_renders_without_network_or_disk_access(full_plan: Plan) -> None:
    """A kit whose text names a URL still prints: nothing is fetched."""
    document = plan_snapshot(full_plan)
    document["cell"]["meeting_place"] = '<img src="http://127.0.0.1:9/x.png"> Salle'
    meta = kit_meta(plan=full_plan, version=None, printed_by="x", printed_at=PRINTED_AT)
    text = " ".join(pdf_text(pdf_pages(paper_kit_pdf(document=document, meta=meta))))
    assert '<img src="http://127.0.0.1:9/x.png"> Salle' in text  # escaped, printed as text


def test_it_prints_from_the_command_line_and_records_the_command(
    full_plan: Plan, version: PlanVersion, world: Any, tmp_path: Path
) -> None:
    out, bundle = tmp_path / "kit.pdf", tmp_path / "kit.zip"
    call_command("plan_kit", world.chu.finess, "--out", str(out), "--bundle", str(bundle), "--by", "Paul")
    texts = pdf_text(pdf_pages(out.read_bytes()))
    assert all("Version 1" in text and "commande plan_kit (Paul)" in text for text in texts)
    assert "index.html" in zipfile.ZipFile(bundle).namelist()
    exports = list(PlanExport.objects.filter(plan=full_plan).order_by("id"))
    assert [(e.kind, e.version_id, e.by, e.by_label) for e in exports] == [
        ("pdf", version.pk, None, "commande plan_kit (Paul)"),
        ("bundle", version.pk, None, "commande plan_kit (Paul)"),
    ]
    audit = AuditEntry.objects.filter(action="plan.export.pdf").get()
    assert (audit.actor_label, audit.via, audit.establishment) == ("commande plan_kit (Paul)", "cli", world.chu)

    draft = tmp_path / "draft.pdf"
    call_command("plan_kit", world.chu.finess, "--version", "0", "--out", str(draft))
    assert DRAFT_LABEL in pdf_text(pdf_pages(draft.read_bytes()))[0]
    assert PlanExport.objects.filter(plan=full_plan, version=None, kind="pdf").count() == 1


def test_it_explains_bad_command_input(full_plan: Plan, version: PlanVersion, world: Any, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no white plan"):
        call_command("plan_kit", world.clinic.finess, "--out", str(tmp_path / "x.pdf"))
    with pytest.raises(CommandError, match="9"):
        call_command("plan_kit", world.chu.finess, "--version", "9", "--out", str(tmp_path / "x.pdf"))
    with pytest.raises(CommandError, match="does not exist"):
        call_command("plan_kit", world.chu.finess, "--out", str(tmp_path / "missing" / "x.pdf"))
    with pytest.raises(CommandError):
        call_command("plan_kit", "12", "--out", str(tmp_path / "x.pdf"))
    assert not PlanExport.objects.exists()


def test_it_offers_the_buttons_on_the_history_page(full_plan: Plan, version: PlanVersion, client_for: Any) -> None:
    response = client_for("crisis_member").get(
        reverse("plans:exports", kwargs={"establishment_id": full_plan.establishment_id})
    )
    html = response.content.decode()
    assert reverse("plans:paper_kit", kwargs={"establishment_id": full_plan.establishment_id}) in html
    assert reverse("plans:offline_bundle", kwargs={"establishment_id": full_plan.establishment_id}) in html
    assert "?version=1" in html


def test_it_needs_a_login(full_plan: Plan) -> None:
    from django.test import Client

    response = Client().post(reverse("plans:paper_kit", kwargs={"establishment_id": full_plan.establishment_id}))
    assert response.status_code == 302 and "connexion" in response["Location"]
    assert not PlanExport.objects.exists()
