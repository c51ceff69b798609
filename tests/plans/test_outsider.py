"""The plan's routes, named one by one, against an outsider (the clinic's administrator,
region B), an anonymous visitor and a role without the right: a 404, a redirect to the
login page or a 403, none of the CHU's plan in the answer, and nothing written."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django.urls import reverse

from planblanc.accounts.models import AuditEntry
from planblanc.plans.models import ExternalContact, Plan, PlanVersion, ReflexSheet, Seat, SeatDeputy
from planblanc.plans.services import plan_approve

GET_ONLY = {"plans:compare", "plans:part_list"}  # a POST is a 405 whoever asks
POST_ONLY = {"plans:seat_deputies", "plans:part_delete"}  # a GET is a 405 whoever asks
SECRET = ("Salle de crise, bâtiment A", "Fiche RSSI", "CERT Santé", "4242")


def _state(plan: Plan) -> tuple[Any, ...]:
    plan.refresh_from_db()
    return (plan.meeting_place, PlanVersion.objects.count(), sorted(ExternalContact.objects.values_list("organisation", flat=True)),
            SeatDeputy.objects.count(), sorted(ReflexSheet.objects.values_list("title", flat=True)),
            AuditEntry.objects.count())


def _outsider_routes(plan: Plan) -> list[tuple[str, str, dict[str, Any]]]:
    e = plan.establishment_id
    seat = Seat.objects.filter(plan=plan).first()
    sheet = ReflexSheet.objects.filter(plan=plan).first()
    contact = ExternalContact.objects.filter(plan=plan).first()
    assert seat is not None and sheet is not None and contact is not None
    return [
        ("plans:cell", reverse("plans:cell", args=[e]), {"meeting_place": "Ailleurs"}),
        ("plans:compare", reverse("plans:compare", args=[e]), {}),
        ("plans:approve", reverse("plans:approve", args=[e]), {"note": "Intrus"}),
        ("plans:reflex_sheet_add", reverse("plans:reflex_sheet_add", args=[e]),
         {"title": "Intrus", "owner_function": "ciso"}),
        ("plans:reflex_sheet_edit", reverse("plans:reflex_sheet_edit", args=[e, sheet.pk]),
         {"title": "Intrus", "owner_function": "ciso"}),
        ("plans:seat_deputies", reverse("plans:seat_deputies", args=[e, seat.pk]), {"action": "remove-0"}),
        ("plans:part_list", reverse("plans:part_list", args=[e, "contacts"]), {}),
        ("plans:part_edit", reverse("plans:part_edit", args=[e, "contacts", contact.pk]),
         {"kind": "other", "organisation": "Intrus"}),
        ("plans:part_delete", reverse("plans:part_delete", args=[e, "contacts", contact.pk]), {}),
    ]


def test_the_outsider_gets_a_404_on_each_plan_route_and_changes_nothing(complete_plan, director, client_for):
    plan_approve(actor=director, plan=complete_plan)
    outsider = client_for("outsider_admin")
    before = _state(complete_plan)
    for name, url, data in _outsider_routes(complete_plan):
        for method in ("get", "post"):
            response = getattr(outsider, method)(url, data)
            only = GET_ONLY if method == "post" else POST_ONLY
            expected = {404, 405} if name in only else {404}
            assert response.status_code in expected, f"{method} {name}"
            body = response.content.decode()
            assert not any(secret in body for secret in SECRET), f"{method} {name}"
    assert _state(complete_plan) == before


def test_an_anonymous_visitor_is_sent_to_the_login_page_by_each_plan_route(complete_plan, director):
    anonymous = Client()
    before = _state(complete_plan)
    routes = [*_outsider_routes(complete_plan), ("plans:index", reverse("plans:index"), {}),
              ("plans:offline_index", reverse("plans:offline_index"), {})]
    for name, url, data in routes:
        for method in ("get", "post"):
            response = getattr(anonymous, method)(url, data)
            if name in (GET_ONLY if method == "post" else POST_ONLY) and response.status_code == 405:
                continue
            assert response.status_code == 302, f"{method} {name}"
            assert response["Location"].startswith(reverse("accounts:login")), f"{method} {name}"
    assert _state(complete_plan) == before


def test_a_read_only_role_may_not_write_the_plan_outsider_or_not(complete_plan, director, client_for):
    member = client_for("crisis_member")
    before = _state(complete_plan)
    for name, url, data in _outsider_routes(complete_plan):
        if name in GET_ONLY:
            continue  # pages that only read
        assert member.post(url, data).status_code == 403, name
    assert _state(complete_plan) == before


def test_the_plan_index_and_offline_index_show_the_outsider_only_its_own_establishment(
        complete_plan, director, client_for, world):
    plan_approve(actor=director, plan=complete_plan)
    outsider = client_for("outsider_admin")
    response = outsider.get(reverse("plans:index"))
    # One establishment in scope: straight to its own plan, never the CHU's.
    assert response.status_code == 302
    assert response["Location"] == reverse("plans:overview", args=[world.clinic.pk])
    page = outsider.get(reverse("plans:offline_index"))
    assert page.status_code == 200
    body = page.content.decode()
    assert world.clinic.name in body
    assert world.chu.name not in body and reverse("plans:offline_plan", args=[world.chu.pk]) not in body
    assert outsider.get(reverse("plans:offline_plan", args=[world.chu.pk])).status_code == 404
