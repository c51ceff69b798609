"""Mutual-aid routes named one by one against an outsider (the clinic's administrator,
region B) and an anonymous visitor. The CHU's crisis, request, offer, resource and the
regional cell of region A are never shown; what the outsider posts is refused and
nothing is written. The API answers the same."""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from planblanc.mutual_aid import edxl, services
from planblanc.mutual_aid.models import (
    AidOffer,
    HelpRequest,
    RegionalCrisis,
    Resource,
    SituationReport,
)
from tests.conftest import verified_client
from tests.mutual_aid.conftest import request_data
from tests.support.api import token_client

SECRETS = ("Routeur 4G CHU", "Postes autonomes CHU", "Cyberattaque CHU A")


def _state() -> list[list[dict[str, Any]]]:
    return [list(model.objects.order_by("pk").values())
            for model in (HelpRequest, AidOffer, Resource, SituationReport, RegionalCrisis)]


def _chu_objects(aid: Any) -> tuple[HelpRequest, AidOffer]:
    w = aid.world
    request = services.help_request_create(actor=w.crisis_member, requester=w.chu,
                                           data=request_data(what="Postes autonomes CHU"))
    offer = services.aid_offer_create(actor=w.group_ciso, request=request, level="group", data={"quantity": 5})
    services.resource_create(actor=w.establishment_admin, level="establishment", owner=w.chu,
                             data={"kind": "equipment", "name": "Routeur 4G CHU", "quantity": 2})
    return request, offer


def _leaks(body: str) -> list[str]:
    return [secret for secret in SECRETS if secret in body]


def test_the_outsider_cannot_ask_or_report_for_the_chu_crisis(aid: Any) -> None:
    _chu_objects(aid)
    outsider = verified_client(aid.world.outsider_admin)
    before = _state()
    pages = {
        "mutual_aid:request_create": (reverse("mutual_aid:request_create", args=[aid.crisis.pk]),
                                      request_data(what="Demande intruse")),
        "mutual_aid:situation_report": (reverse("mutual_aid:situation_report", args=[aid.crisis.pk]),
                                        {"ed_status": "open", "next_report_at": "2030-01-01T10:00"}),
    }
    for name, (url, data) in pages.items():
        for response in (outsider.get(url), outsider.post(url, data)):
            assert response.status_code == 404, name
            assert _leaks(response.content.decode()) == [], name
    assert _state() == before


def test_the_outsiders_own_mutual_aid_pages_show_nothing_of_region_a(aid: Any) -> None:
    _chu_objects(aid)
    outsider = verified_client(aid.world.outsider_admin)
    pages = {
        "mutual_aid:index": reverse("mutual_aid:index"),
        "mutual_aid:catalogue": reverse("mutual_aid:catalogue"),
        "mutual_aid:resource_create": reverse("mutual_aid:resource_create"),
        "mutual_aid:edxl_import": reverse("mutual_aid:edxl_import"),
        "mutual_aid:regional_list": reverse("mutual_aid:regional_list"),
    }
    for name, url in pages.items():
        response = outsider.get(url)
        assert response.status_code == 200, name
        assert _leaks(response.content.decode()) == [], name
        assert reverse("mutual_aid:regional_board", args=[aid.regional.pk]) not in response.content.decode(), name
    for fmt in ("csv", "xlsx"):
        response = outsider.get(reverse("mutual_aid:catalogue_export", args=[fmt]))
        assert response.status_code == 200
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert b"Routeur 4G CHU" not in body and "Routeur 4G CHU".encode("utf-16-le") not in body
    assert "Routeur 4G CHU" not in outsider.get(reverse("mutual_aid:catalogue"), {"q": "Routeur"}).content.decode()


def test_the_outsider_cannot_open_a_regional_cell_nor_add_for_the_chu(aid: Any) -> None:
    w = aid.world
    outsider = verified_client(w.outsider_admin)
    before = _state()
    # No region to run: the form is absent and a POST is a 404.
    response = outsider.post(reverse("mutual_aid:regional_list"), {"region": w.region_a.pk, "title": "Cellule intruse",
                                                                    "report_every_hours": "2"})
    assert response.status_code == 404
    # The owners offered are the clinic's only: naming the CHU is refused by the form.
    response = outsider.post(reverse("mutual_aid:resource_create"), {
        "owner": f"establishment:{w.chu.pk}", "kind": "equipment", "name": "Ressource intruse", "quantity": "1"})
    assert response.status_code == 200 and "owner" in response.context["owner_form"].errors
    assert _state() == before


def test_an_edxl_message_for_the_chu_is_refused_to_the_outsider(aid: Any) -> None:
    w = aid.world
    original = HelpRequest(
        requester=w.chu, region=w.region_a, target_kind="group", target_group=w.group_a, kind="people",
        what="Intervenant réponse à incident", quantity=2, urgency="immediate", deliver_to="CHU A, PC crise",
        needed_until=timezone.now() + datetime.timedelta(days=3), details="Analyse", created_by_label="x",
    )
    before = _state()
    upload = SimpleUploadedFile("m.xml", edxl.request_to_xml(original), content_type="application/xml")
    response = verified_client(w.outsider_admin).post(reverse("mutual_aid:edxl_import"), {"file": upload})
    assert response.status_code == 200 and "file" in response.context["form"].errors
    assert _state() == before


def test_an_anonymous_visitor_is_sent_to_the_login_page(aid: Any) -> None:
    anonymous = Client()
    urls = [reverse(name) for name in ("mutual_aid:index", "mutual_aid:catalogue", "mutual_aid:resource_create",
                                       "mutual_aid:edxl_import", "mutual_aid:regional_list")]
    urls += [reverse("mutual_aid:catalogue_export", args=["csv"]),
             reverse("mutual_aid:request_create", args=[aid.crisis.pk]),
             reverse("mutual_aid:situation_report", args=[aid.crisis.pk])]
    for url in urls:
        response = anonymous.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login")), url


def _post(client: Client, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(data), content_type="application/json")


def test_the_api_refuses_the_outsider_every_mutual_aid_operation(aid: Any) -> None:
    request, offer = _chu_objects(aid)
    w = aid.world
    outsider = token_client(w.outsider_admin)
    before = _state()
    reads = [
        f"/api/v1/mutual-aid/requests/{request.pk}",
        f"/api/v1/mutual-aid/requests/{request.pk}/edxl-rm",
        f"/api/v1/mutual-aid/regional-crises/{aid.regional.pk}/board",
    ]
    for url in reads:
        response = outsider.get(url)
        assert response.status_code == 404, url
        assert _leaks(response.content.decode()) == [], url
    resources = outsider.get("/api/v1/mutual-aid/resources")
    assert resources.status_code == 200 and resources.json() == []
    writes = [
        (f"/api/v1/mutual-aid/crises/{aid.crisis.pk}/requests",
         {"target_kind": "group", "kind": "equipment", "what": "Intrus", "quantity": 1, "urgency": "urgent",
          "deliver_to": "Ailleurs"}),
        (f"/api/v1/mutual-aid/crises/{aid.crisis.pk}/situation-reports",
         {"ed_status": "open", "next_report_at": (timezone.now() + datetime.timedelta(hours=2)).isoformat()}),
        (f"/api/v1/mutual-aid/requests/{request.pk}/offers", {"level": "establishment", "quantity": 1}),
        (f"/api/v1/mutual-aid/offers/{offer.pk}/accept", {}),
        (f"/api/v1/mutual-aid/offers/{offer.pk}/decline", {}),
    ]
    for url, data in writes:
        assert _post(outsider, url, data).status_code == 404, url
    # The group's CISO (region A) does not hold the regional cell either.
    assert token_client(w.group_ciso).get(f"/api/v1/mutual-aid/regional-crises/{aid.regional.pk}/board").status_code == 404
    for url in reads:
        assert Client().get(url).status_code == 401, url
    assert _state() == before
