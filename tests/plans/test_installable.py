"""The installable app: the manifest, the service worker served from the site root, and
the lightweight offline pages it keeps (no form, no token; tenancy as everywhere)."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client
from django.urls import reverse

from planblanc.plans.models import Plan
from planblanc.plans.services import plan_approve


def test_it_serves_the_service_worker_from_the_root_for_the_whole_site(db: Any) -> None:
    response = Client().get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    body = response.content.decode()
    assert "/plan/hors-ligne/" in body and 'addEventListener("fetch"' in body
    # The Web Push handlers are part of the same worker.
    assert 'importScripts("/static/planblanc/push-sw.js")' in body


def test_it_describes_the_app_in_a_manifest_with_its_icon(db: Any) -> None:
    response = Client().get(reverse("core:manifest"))
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    icon = manifest["icons"][0]["src"]
    assert Client().get(icon).status_code == 200


def test_it_links_the_manifest_and_the_worker_script_from_every_page(client_for: Any) -> None:
    html = client_for("crisis_member").get("/").content.decode()
    assert 'rel="manifest"' in html and "planblanc/pwa.js" in html
    assert "<script>" not in html  # strict CSP: no inline script


def test_it_keeps_the_roster_sheets_and_contacts_without_any_form_or_token(
    complete_plan: Plan, director: Any, client_for: Any
) -> None:
    plan_approve(actor=director, plan=complete_plan)
    client = client_for("crisis_member")
    index = client.get(reverse("plans:offline_index"))
    page_url = reverse("plans:offline_plan", kwargs={"establishment_id": complete_plan.establishment_id})
    assert page_url in index.content.decode()
    response = client.get(page_url)
    html = response.content.decode()
    assert response["Cache-Control"] == "private, no-cache"
    for text in ("Rita", "tel:+33639980778", "Fiche RSSI", "Isoler les serveurs touchés", "CERT Santé"):
        assert text in html, text
    for secret in ("csrfmiddlewaretoken", "<form"):
        assert secret not in html and secret not in index.content.decode(), secret
    assert 'data-made-at="' in html


def test_it_says_when_no_version_is_approved(complete_plan: Plan, client_for: Any) -> None:
    response = client_for("crisis_member").get(
        reverse("plans:offline_plan", kwargs={"establishment_id": complete_plan.establishment_id}))
    assert response.status_code == 200
    assert "Rita" not in response.content.decode()


def test_it_hides_another_establishment_s_plan(complete_plan: Plan, client_for: Any) -> None:
    url = reverse("plans:offline_plan", kwargs={"establishment_id": complete_plan.establishment_id})
    assert client_for("outsider_admin").get(url).status_code == 404
    assert Client().get(url).status_code == 302  # to the login page


def test_it_empties_the_offline_copy_on_logout(client_for: Any) -> None:
    response = client_for("crisis_member").post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert response["Clear-Site-Data"] == '"cache", "storage"'
