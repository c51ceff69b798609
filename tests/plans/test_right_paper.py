"""The plan page's paper buttons serve the latest approved version; the draft is a
second, explicit choice; printing the approved kit from there clears the reprint gap."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.urls import reverse

from planblanc.plans.exports import DRAFT_LABEL
from planblanc.plans.models import Plan, PlanExport
from planblanc.plans.selectors import plan_gaps
from planblanc.plans.services import plan_approve

pypdf = pytest.importorskip("pypdf")


def overview(client: Any, plan: Plan) -> str:
    response = client.get(reverse("plans:overview", kwargs={"establishment_id": plan.establishment_id}))
    assert response.status_code == 200
    return response.content.decode()


def links(html: str, kind: str) -> list[tuple[str, str]]:
    """(href, version) of the paper buttons of that kind, in page order."""
    return [
        (href.replace("&amp;", "&"), version)
        for href, version in re.findall(rf'href="([^"]+)" data-kit="{kind}" data-version="([^"]+)"', html)
    ]


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    return " ".join(" ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages).split())


def test_it_offers_the_approved_version_first_and_the_draft_as_a_second_choice(
    complete_plan: Plan, director: Any, client_for: Any
) -> None:
    plan_approve(actor=director, plan=complete_plan)
    plan_approve(actor=director, plan=complete_plan)
    html = overview(client_for("crisis_member"), complete_plan)
    assert [version for _, version in links(html, "paper")] == ["2", "draft"]
    assert [version for _, version in links(html, "bundle")] == ["2", "draft"]
    first_paper, _ = links(html, "paper")[0]
    assert first_paper.endswith("?version=2")
    # The draft sits folded under its own explicit label.
    draft_at = html.index('data-version="draft"')
    assert html.rfind("<details", 0, draft_at) > html.rfind("</details>", 0, draft_at)


def test_it_serves_the_approved_kit_without_the_draft_watermark_and_clears_the_reprint_gap(
    complete_plan: Plan, director: Any, client_for: Any
) -> None:
    plan_approve(actor=director, plan=complete_plan)
    assert "paper_kit_outdated" in {gap.code for gap in plan_gaps(plan=complete_plan).gaps}
    client = client_for("crisis_member")
    href, _ = links(overview(client, complete_plan), "paper")[0]
    response = client.get(href)
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('-v1.pdf"')
    text = pdf_text(response.content)
    assert "BROUILLON" not in text and DRAFT_LABEL not in text
    assert PlanExport.objects.get().version.number == 1
    assert "paper_kit_outdated" not in {gap.code for gap in plan_gaps(plan=complete_plan).gaps}

    bundle_href, _ = links(overview(client, complete_plan), "bundle")[0]
    bundle = client.get(bundle_href)
    assert bundle.status_code == 200 and bundle["Content-Disposition"].endswith('-v1.zip"')


def test_it_prints_the_draft_only_when_asked_and_marks_it(complete_plan: Plan, director: Any, client_for: Any) -> None:
    plan_approve(actor=director, plan=complete_plan)
    client = client_for("crisis_member")
    draft_href = next(href for href, version in links(overview(client, complete_plan), "paper") if version == "draft")
    response = client.get(draft_href)
    assert response["Content-Disposition"].endswith('-brouillon.pdf"')
    assert "BROUILLON" in pdf_text(response.content)
    # A draft print does not count as printing the approved version.
    assert "paper_kit_outdated" in {gap.code for gap in plan_gaps(plan=complete_plan).gaps}


def test_it_offers_the_draft_marked_as_such_before_any_approval(complete_plan: Plan, client_for: Any) -> None:
    html = overview(client_for("crisis_member"), complete_plan)
    assert [version for _, version in links(html, "paper")] == ["draft"]
