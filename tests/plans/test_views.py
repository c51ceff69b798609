"""The plan's pages: every route for the owner, the outsider and read-only roles; part
editors, deputies, reflex sheets, approval, versions, comparison and the list pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation import gettext, override

from planblanc.accounts.models import AuditEntry
from planblanc.directory.models import Function
from planblanc.plans.models import (
    ExternalContact,
    Plan,
    PlanVersion,
    ReflexItem,
    ReflexSheet,
    Seat,
    SeatDeputy,
)
from planblanc.plans.services import plan_approve
from tests.conftest import verified_client
from tests.factories import EstablishmentFactory, MembershipFactory, PersonFactory


def fr(msgid: str, **params: Any) -> str:
    """The message as the French-first pages show it, escaped as in HTML."""
    with override("fr"):
        text = gettext(msgid)
    return escape(text % params if params else text)


def get_routes(plan: Plan, version: PlanVersion | None = None) -> list[str]:
    e = plan.establishment_id
    seat = Seat.objects.filter(plan=plan).first()
    sheet = ReflexSheet.objects.filter(plan=plan).first()
    contact = ExternalContact.objects.filter(plan=plan).first()
    routes = [
        reverse("plans:overview", args=[e]),
        reverse("plans:cell", args=[e]),
        reverse("plans:versions", args=[e]),
        reverse("plans:compare", args=[e]),
        reverse("plans:approve", args=[e]),
        reverse("plans:reflex_sheet_edit", args=[e, sheet.pk]),
        reverse("plans:part_edit", args=[e, "sieges", seat.pk]),
        reverse("plans:part_edit", args=[e, "contacts", contact.pk]),
    ]
    routes += [reverse("plans:part_list", args=[e, slug]) for slug in (
        "sieges", "arbre-alerte", "fiches-reflexes", "modes-degrades", "processus", "systemes", "contacts",
        "ressources",
    )]
    if version is not None:
        routes.append(reverse("plans:version", args=[e, version.number]))
    return routes


def post_routes(plan: Plan) -> list[tuple[str, dict[str, Any]]]:
    e = plan.establishment_id
    seat = Seat.objects.filter(plan=plan).first()
    sheet = ReflexSheet.objects.filter(plan=plan).first()
    contact = ExternalContact.objects.filter(plan=plan).first()
    return [
        (reverse("plans:cell", args=[e]), {"meeting_place": "Ailleurs"}),
        (reverse("plans:part_add", args=[e, "contacts"]), {"kind": "other", "organisation": "Intrus"}),
        (reverse("plans:part_edit", args=[e, "contacts", contact.pk]), {"kind": "other", "organisation": "Intrus"}),
        (reverse("plans:part_delete", args=[e, "contacts", contact.pk]), {}),
        (reverse("plans:seat_deputies", args=[e, seat.pk]), {"action": "remove-0"}),
        (reverse("plans:reflex_sheet_edit", args=[e, sheet.pk]), {"title": "Intrus", "owner_function": "ciso"}),
        (reverse("plans:approve", args=[e]), {"note": "Intrus"}),
        (reverse("plans:start", args=[e]), {}),
    ]


def state(plan: Plan) -> tuple[Any, ...]:
    plan.refresh_from_db()
    return (
        plan.meeting_place, PlanVersion.objects.count(), ExternalContact.objects.count(),
        sorted(ExternalContact.objects.values_list("organisation", flat=True)),
        SeatDeputy.objects.count(), sorted(ReflexSheet.objects.values_list("title", flat=True)),
    )


def test_it_shows_every_plan_page_to_the_establishment_director(complete_plan, director):
    version = plan_approve(actor=director, plan=complete_plan)
    client = verified_client(director)
    for url in get_routes(complete_plan, version):
        response = client.get(url)
        assert response.status_code == 200, url


def test_it_gives_the_outsider_a_404_on_every_plan_route(complete_plan, director, client_for):
    version = plan_approve(actor=director, plan=complete_plan)
    client = client_for("outsider_admin")
    before = state(complete_plan)
    for url in get_routes(complete_plan, version):
        assert client.get(url).status_code == 404, url
    for url, data in post_routes(complete_plan):
        assert client.post(url, data).status_code == 404, url
    assert state(complete_plan) == before


@pytest.mark.parametrize("persona", ["crisis_member", "auditor", "regional_officer", "exercise_animator"])
def test_it_shows_read_only_pages_without_forms_and_refuses_their_writes(complete_plan, director, client_for,
                                                                         persona):
    version = plan_approve(actor=director, plan=complete_plan)
    client = client_for(persona)
    for url in get_routes(complete_plan, version):
        response = client.get(url)
        assert response.status_code in (200, 403), url
        if "/approuver/" not in url:
            assert response.status_code == 200, url
            assert b'type="submit">' + fr("Save").encode() + b"</button>" not in response.content, url
    before = state(complete_plan)
    audit_count = AuditEntry.objects.count()
    for url, data in post_routes(complete_plan):
        if url.endswith("/commencer/"):
            continue  # the plan exists already: nothing to start
        assert client.post(url, data).status_code == 403, url
    assert state(complete_plan) == before
    assert AuditEntry.objects.count() == audit_count


def test_it_offers_to_start_from_the_french_template_when_there_is_no_plan(world, client_for):
    client = client_for("establishment_admin")
    page = client.get(reverse("plans:overview", args=[world.chu.pk]))
    assert page.status_code == 200
    assert fr("Start from the French template").encode() in page.content
    response = client.post(reverse("plans:start", args=[world.chu.pk]))
    assert response.status_code == 302
    assert Plan.objects.filter(establishment=world.chu).exists()
    assert AuditEntry.objects.filter(action="plan.create").exists()
    # A read-only role sees no button and cannot start the clinic's plan.
    assert fr("Start from the French template").encode() not in client_for("crisis_member").get(
        reverse("plans:overview", args=[world.ch.pk])
    ).content


def test_it_shows_score_gaps_with_links_and_the_approve_button_to_the_director(complete_plan, director):
    Seat.objects.filter(title="RSSI").update(holder=None)
    page = verified_client(director).get(reverse("plans:overview", args=[complete_plan.establishment_id]))
    content = page.content.decode()
    assert "<progress" in content
    assert fr("Seat “%(seat)s” has no holder.", seat="RSSI") in content
    assert reverse("plans:part_list", args=[complete_plan.establishment_id, "sieges"]) in content
    assert reverse("plans:approve", args=[complete_plan.establishment_id]) in content


def test_it_hides_the_approve_button_from_an_administrator_who_is_not_director(complete_plan, client_for):
    page = client_for("establishment_admin").get(reverse("plans:overview", args=[complete_plan.establishment_id]))
    assert reverse("plans:approve", args=[complete_plan.establishment_id]).encode() not in page.content


def test_it_adds_edits_and_deletes_a_contact(complete_plan, client_for):
    client = client_for("establishment_admin")
    e = complete_plan.establishment_id
    response = client.post(reverse("plans:part_add", args=[e, "contacts"]), {
        "kind": "insurer", "organisation": "Assureur cyber", "phone_24_7": "01 99 00 01 27", "order": 5,
    })
    assert response.status_code == 302
    contact = ExternalContact.objects.get(organisation="Assureur cyber")
    assert contact.phone_24_7 == "+33199000127" and contact.plan == complete_plan
    assert AuditEntry.objects.filter(action="plan.externalcontact.create").exists()
    client.post(reverse("plans:part_edit", args=[e, "contacts", contact.pk]), {
        "kind": "insurer", "organisation": "Assureur cyber SA", "order": 5,
    })
    contact.refresh_from_db()
    assert contact.organisation == "Assureur cyber SA"
    client.post(reverse("plans:part_delete", args=[e, "contacts", contact.pk]))
    assert not ExternalContact.objects.filter(pk=contact.pk).exists()


def test_it_offers_only_people_of_the_establishment(complete_plan, client_for, world):
    page = client_for("establishment_admin").get(reverse("plans:part_add", args=[complete_plan.establishment_id,
                                                                                  "sieges"]))
    content = page.content.decode()
    assert world.chu_person.last_name.upper() in content
    assert world.clinic_person.last_name.upper() not in content
    assert world.ch_person.last_name.upper() not in content


def test_it_orders_seat_deputies(complete_plan, client_for):
    client = client_for("establishment_admin")
    e = complete_plan.establishment_id
    seat = Seat.objects.get(title="RSSI")
    second = PersonFactory(last_name="Second")
    MembershipFactory(person=second, establishment=complete_plan.establishment, function=Function.IT_STAFF)
    url = reverse("plans:seat_deputies", args=[e, seat.pk])
    client.post(url, {"action": "add", "person": second.pk})
    assert [d.person.last_name for d in seat.deputies.all()] == ["Adjoint", "Second"]
    client.post(url, {"action": "up-1"})
    assert [d.person.last_name for d in seat.deputies.all()] == ["Second", "Adjoint"]
    assert list(seat.deputies.values_list("rank", flat=True)) == [1, 2]
    client.post(url, {"action": "remove-1"})
    assert [d.person.last_name for d in seat.deputies.all()] == ["Second"]
    # The holder cannot be a deputy: refused with the service's message.
    response = client.post(url, {"action": "add", "person": seat.holder_id}, follow=True)
    assert fr("The holder of a seat cannot also be its deputy.").encode() in response.content
    assert [d.person.last_name for d in seat.deputies.all()] == ["Second"]


def _sheet_post(**overrides: Any) -> dict[str, Any]:
    data = {
        "title": "Fiche standard", "owner_function": "communication", "owner_seat": "", "purpose": "", "order": 3,
        "items-TOTAL_FORMS": 4, "items-INITIAL_FORMS": 0, "items-MIN_NUM_FORMS": 0, "items-MAX_NUM_FORMS": 1000,
        "items-0-phase": "15min", "items-0-text": "Prévenir le standard", "items-0-becomes_task": "on",
        "items-1-phase": "15min", "items-1-text": "Afficher la consigne", "items-1-becomes_task": "on",
        "items-2-phase": "1h", "items-2-text": "Faire un point", "items-2-becomes_task": "on",
        "action": "save",
    }
    data.update(overrides)
    return data


def test_it_saves_a_reflex_sheet_with_ordered_actions_and_moves_them(complete_plan, client_for):
    client = client_for("establishment_admin")
    e = complete_plan.establishment_id
    response = client.post(reverse("plans:reflex_sheet_add", args=[e]), _sheet_post())
    assert response.status_code == 302
    sheet = ReflexSheet.objects.get(title="Fiche standard")
    texts = list(sheet.items.order_by("phase", "order").values_list("text", flat=True))
    assert texts == ["Prévenir le standard", "Afficher la consigne", "Faire un point"]
    # Move the second action up (within its phase): saved at once.
    response = client.post(reverse("plans:reflex_sheet_edit", args=[e, sheet.pk]), _sheet_post(action="down-0"))
    assert response.status_code == 302
    texts = list(sheet.items.order_by("phase", "order").values_list("text", flat=True))
    assert texts == ["Afficher la consigne", "Prévenir le standard", "Faire un point"]
    # Moving the last action of a phase down does not jump into the next phase.
    client.post(reverse("plans:reflex_sheet_edit", args=[e, sheet.pk]), _sheet_post(
        **{"items-0-text": "Afficher la consigne", "items-1-text": "Prévenir le standard"}, action="down-1"))
    assert ReflexItem.objects.get(sheet=sheet, text="Prévenir le standard").phase == "15min"


def test_it_lets_the_director_approve_and_refuses_others_with_a_message(complete_plan, director, client_for):
    url = reverse("plans:approve", args=[complete_plan.establishment_id])
    refused = client_for("establishment_admin").post(url, {"note": "essai"})
    assert refused.status_code == 403
    assert fr("Only the director of the establishment or a deputy director may approve its plan.").encode() in (
        refused.content
    )
    assert not PlanVersion.objects.exists()
    response = verified_client(director).post(url, {"note": "Première version"})
    assert response.status_code == 302
    version = PlanVersion.objects.get()
    assert version.number == 1 and version.note == "Première version"


def test_it_lists_blocking_gaps_when_approval_is_refused(complete_plan, director):
    complete_plan.meeting_place = ""
    complete_plan.save()
    response = verified_client(director).post(reverse("plans:approve", args=[complete_plan.establishment_id]))
    assert response.status_code == 422
    assert fr("The plan cannot be approved while these gaps remain:").encode() in response.content
    assert fr("The crisis cell has no meeting place.").encode() in response.content
    assert not PlanVersion.objects.exists()


def test_it_renders_a_version_from_its_snapshot_not_the_draft(complete_plan, director, client_for):
    version = plan_approve(actor=director, plan=complete_plan)
    client = client_for("establishment_admin")
    client.post(reverse("plans:cell", args=[complete_plan.establishment_id]), {
        "meeting_place": "Nouvelle salle", "fallback_place": "Salle du conseil, bâtiment B",
        "bridge_phone": "+33199000123", "bridge_code": "4242", "briefing_rhythm": "Toutes les 2 heures",
    })
    complete_plan.refresh_from_db()
    assert complete_plan.meeting_place == "Nouvelle salle"
    page = client.get(reverse("plans:version", args=[complete_plan.establishment_id, version.number]))
    assert "Salle de crise, bâtiment A" in page.content.decode()
    assert "Nouvelle salle" not in page.content.decode()
    # No route changes a version.
    assert client.post(reverse("plans:version", args=[complete_plan.establishment_id, version.number]), {
        "meeting_place": "x"
    }).status_code == 405


def test_it_compares_a_version_with_the_draft_and_two_versions(complete_plan, director, client_for):
    v1 = plan_approve(actor=director, plan=complete_plan)
    ExternalContact.objects.filter(organisation="ARS").update(phone="+33199000999")
    client = client_for("auditor")
    e = complete_plan.establishment_id
    page = client.get(reverse("plans:compare", args=[e]), {"a": v1.number, "b": "draft"}).content.decode()
    assert "+33199000125" in page and "+33199000999" in page
    assert fr("changed") in page and "phone" in page
    v2 = plan_approve(actor=director, plan=complete_plan)
    page = client.get(reverse("plans:compare", args=[e]), {"a": v1.number, "b": v2.number}).content.decode()
    assert "+33199000999" in page
    assert escape(director.get_full_name() or director.get_username()) in page
    assert client.get(reverse("plans:compare", args=[e]), {"a": "99"}).status_code == 404


def test_it_redirects_the_menu_entry_to_the_only_plan_or_the_list(complete_plan, client_for):
    response = client_for("establishment_admin").get(reverse("plans:index"))
    assert response.status_code == 302
    assert response["Location"] == reverse("plans:overview", args=[complete_plan.establishment_id])
    response = client_for("regional_officer").get(reverse("plans:index"))
    assert response["Location"] == reverse("plans:list")
    # The menu links straight to the page the entry leads to.
    home = client_for("crisis_member").get(reverse("core:home")).content.decode()
    assert f'href="{reverse("plans:overview", args=[complete_plan.establishment_id])}"' in home
    home = client_for("regional_officer").get(reverse("core:home")).content.decode()
    assert f'href="{reverse("plans:list")}"' in home


def test_it_lists_plans_in_scope_with_score_and_sorts_them(complete_plan, director, client_for, world):
    plan_approve(actor=director, plan=complete_plan)
    Plan.objects.create(establishment=world.ch)
    Plan.objects.create(establishment=world.clinic, meeting_place="Ailleurs")
    page = client_for("regional_officer").get(reverse("plans:list"), {"sort": "-score"}).content.decode()
    assert world.chu.name in page and world.ch.name in page and world.ehpad.name in page
    assert world.clinic.name not in page
    assert page.index(world.chu.name) < page.index(world.ch.name)  # the complete plan first
    page = client_for("regional_officer").get(reverse("plans:list"), {"sort": "score"}).content.decode()
    assert page.index(world.ehpad.name) < page.index(world.chu.name)  # no plan at all first


def _many_plans(world: Any, count: int) -> None:
    for index in range(count):
        establishment = EstablishmentFactory(region=world.region_a, name=f"CH Test {index:03d}")
        plan = Plan.objects.create(establishment=establishment, meeting_place="Salle")
        seat = Seat.objects.create(plan=plan, cell="strategic", title="Directeur")
        ReflexSheet.objects.create(plan=plan, title="Fiche", owner_function="director")
        ExternalContact.objects.create(plan=plan, kind="ars", organisation="ARS", phone="+33199000125")
        del seat


def test_it_lists_plans_in_a_bounded_number_of_queries(world, client_for, django_assert_max_num_queries):
    client = client_for("regional_officer")
    _many_plans(world, 3)
    with django_assert_max_num_queries(25):
        assert client.get(reverse("plans:list")).status_code == 200
    _many_plans(world, 30)
    with django_assert_max_num_queries(25):
        assert client.get(reverse("plans:list"), {"sort": "score"}).status_code == 200


def test_it_lists_a_part_in_a_bounded_number_of_queries(complete_plan, client_for, django_assert_max_num_queries):
    client = client_for("establishment_admin")
    e = complete_plan.establishment_id
    for index in range(20):
        seat = Seat.objects.create(plan=complete_plan, cell="care", title=f"Cadre {index}",
                                   holder=PersonFactory())
        SeatDeputy.objects.create(seat=seat, person=PersonFactory(), rank=1)
    for slug in ("sieges", "fiches-reflexes", "processus", "systemes", "contacts", "arbre-alerte"):
        with django_assert_max_num_queries(40):
            assert client.get(reverse("plans:part_list", args=[e, slug])).status_code == 200


def test_it_shows_the_plan_card_on_the_establishment_page(complete_plan, client_for, world):
    page = client_for("crisis_member").get(reverse("directory:establishment_detail", args=[world.chu.pk]))
    content = page.content.decode()
    assert "<progress" in content
    assert reverse("plans:overview", args=[world.chu.pk]) in content
    other = client_for("establishment_admin").get(reverse("directory:establishment_detail", args=[world.chu.pk]))
    assert other.status_code == 200


def test_it_shows_stored_phone_numbers_as_people_read_them_in_forms(complete_plan, client_for):
    contact = ExternalContact.objects.get(organisation="ARS")
    page = client_for("establishment_admin").get(
        reverse("plans:part_edit", args=[complete_plan.establishment_id, "contacts", contact.pk])
    ).content.decode()
    assert 'value="01 99 00 01 25"' in page and 'type="tel"' in page
