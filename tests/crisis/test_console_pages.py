"""The crisis path through the pages, as a cell member, an auditor, the director and
those who follow from the group, the region and the nation: the banner on every page,
the console's sections and their in-place answers, the guarded dangerous acts, and the
French error pages."""

from __future__ import annotations

import re

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from planblanc.crisis.models import Crisis, CrisisTask, Decision, DepartmentStatus, LogbookEntry
from planblanc.crisis.services import MAX_TEXT, crisis_declare
from tests.conftest import verified_client

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _fr(client: Client) -> Client:
    client.cookies["planblanc_language"] = "fr"
    return client


@pytest.mark.parametrize("persona", ["crisis_member", "auditor", "group_ciso", "regional_officer", "national_admin"])
def test_the_banner_leads_every_page_for_those_who_follow_the_crisis(world, crisis, client_for, persona):
    client = client_for(persona)
    console = reverse("crisis:console", args=[crisis.pk])
    for url in (reverse("core:home"), reverse("directory:person_list"), reverse("readiness:index")):
        html = client.get(url).content.decode()
        banner = html.index("pb-crisis-banner")
        assert f'href="{console}"' in html[banner:banner + 1200], (persona, url)
        # The dashboard leads with it: nothing of the page comes before.
        assert banner < html.index('id="main"') + 300, (persona, url)


def test_no_banner_outside_the_scope_and_an_exercise_is_marked(world, crisis, director, client_for):
    assert "pb-crisis-banner" not in client_for("outsider_admin").get(reverse("core:home")).content.decode()
    exercise = crisis_declare(actor=director, establishment=world.chu, kind="ransomware", severity="major",
                              first_facts="Exercice", is_exercise=True, confirm_second=True)
    html = client_for("crisis_member").get(reverse("core:home")).content.decode()
    assert html.count("pb-crisis-banner\"") == 2 and "EXERCICE" in html
    assert reverse("crisis:console", args=[exercise.pk]) in html


def test_the_banner_costs_one_query_whatever_the_number_of_crises(world, crisis, director, client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for("regional_officer")
    url = reverse("directory:person_list")
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    crisis_declare(actor=director, establishment=world.chu, kind="ransomware", severity="major",
                   first_facts="Deuxième", confirm_second=True)
    with CaptureQueriesContext(connection) as two:
        html = client.get(url).content.decode()
    assert html.count("pb-crisis-banner\"") == 2 and len(one) == len(two)


def test_every_section_is_a_short_page_reached_in_one_tap(world, crisis, client_for):
    client = client_for("crisis_member")
    console = client.get(reverse("crisis:console", args=[crisis.pk])).content.decode()
    slugs = ["journal", "mes-taches", "taches", "tableau", "decisions", "bilan", "alerte", "echeances"]
    for slug in slugs:
        url = reverse("crisis:section", args=[crisis.pk, slug])
        assert f'href="{url}"' in console, slug
        page = client.get(url)
        assert page.status_code == 200, slug
        # Asked by HTMX for the console's body: the section alone, without the layout.
        part = client.get(url, HTTP_HX_TARGET="console-body", **HTMX).content.decode()
        assert "<html" not in part and 'aria-current="page"' in part, slug
    assert client.get(reverse("crisis:section", args=[crisis.pk, "nope"])).status_code == 404


def test_tasks_are_filtered_mine_overdue_open_with_overdue_first(world, crisis, director, client_for):
    import datetime

    from django.utils import timezone

    tasks = list(CrisisTask.objects.filter(crisis=crisis).order_by("id"))
    assert len(tasks) >= 2
    late, later = tasks[-1], tasks[0]
    CrisisTask.objects.filter(pk=late.pk).update(due_at=timezone.now() - datetime.timedelta(minutes=5))
    CrisisTask.objects.filter(pk=later.pk).update(due_at=timezone.now() + datetime.timedelta(hours=5))
    client = client_for("crisis_member")
    url = reverse("crisis:section", args=[crisis.pk, "taches"])
    html = client.get(url).content.decode()
    ids = re.findall(r'id="task-(\d+)"', html)
    assert ids[0] == str(late.pk)
    overdue = re.findall(r'id="task-(\d+)"', client.get(url, {"filtre": "overdue"}).content.decode())
    assert overdue == [str(late.pk)]
    # "Mine": the tasks whose owner is the person linked to this login.
    member = world.users["crisis_member"]
    person = later.owner or world.chu_person
    person.user = member
    person.save(update_fields=["user"])
    CrisisTask.objects.filter(pk=later.pk).update(owner=person)
    mine = client.get(reverse("crisis:section", args=[crisis.pk, "mes-taches"])).content.decode()
    mine_ids = set(re.findall(r'id="task-(\d+)"', mine))
    assert str(later.pk) in mine_ids
    assert mine_ids == {str(t.pk) for t in CrisisTask.objects.filter(crisis=crisis, owner__user=member)}


def test_a_task_changes_in_place_with_a_confirmation(world, crisis, client_for):
    client = client_for("crisis_member")
    task = CrisisTask.objects.filter(crisis=crisis).first()
    response = client.post(reverse("crisis:task_status", args=[crisis.pk, task.pk]),
                           {"status": "done", "next": "taches"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and html.startswith('<li class="list-group-item list-group-item-success"')
    assert f'id="task-{task.pk}"' in html and 'id="pb-toast"' in html and 'hx-swap-oob="true"' in html
    assert "<html" not in html
    task.refresh_from_db()
    assert task.status == "done"


def test_the_status_board_is_cards_with_one_tap_states(world, crisis, client_for):
    client = client_for("crisis_member")
    row = DepartmentStatus.objects.get(crisis=crisis)
    board = client.get(reverse("crisis:section", args=[crisis.pk, "tableau"])).content.decode()
    card = board[board.index(f'id="department-{row.pk}"'):]
    card = card[:card.index("</article>")]
    assert "<select" not in card and card.count('type="submit"') == 3  # normal, degraded, stopped
    response = client.post(reverse("crisis:department_status", args=[crisis.pk, row.pk]),
                           {"status": "degraded"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and html.startswith("<article") and 'id="pb-toast"' in html
    row.refresh_from_db()
    assert row.status == "degraded"
    again = client.post(reverse("crisis:department_status", args=[crisis.pk, row.pk]), {"status": "degraded"}, **HTMX)
    assert again.status_code == 200 and "invalid-feedback" in again.content.decode()
    assert 'id="pb-toast"' not in again.content.decode()


def test_a_decision_error_shows_beside_the_field_and_keeps_the_text(world, crisis, client_for):
    client = client_for("crisis_member")
    url = reverse("crisis:decision_add", args=[crisis.pk])
    too_long = "D" * (MAX_TEXT + 1)
    response = client.post(url, {"decision-text": too_long, "decision-rationale": "Pourquoi pas"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and html.startswith('<form id="decision-form"')
    assert 'id="pb-toast"' not in html
    field = html[html.index('name="decision-text"'):]
    assert too_long in field[:MAX_TEXT + 500] and "invalid-feedback" in field[:MAX_TEXT + 1500]
    assert "Pourquoi pas" in html and not Decision.objects.exists()
    done = client.post(url, {"decision-text": "Passer en mode dégradé", "decision-rationale": ""}, **HTMX)
    assert done.status_code == 200 and 'id="pb-toast"' in done.content.decode()
    assert done["HX-Trigger"] == "pb-refresh" and Decision.objects.get().text == "Passer en mode dégradé"
    # Without JavaScript the same form answers with the section page and the message.
    plain = client.post(url, {"decision-text": ""})
    assert plain.status_code == 422 and "<html" in plain.content.decode()


def test_an_auditor_reads_the_console_but_writes_nothing(world, crisis, client_for):
    client = client_for("auditor")
    for slug in ("journal", "taches", "tableau", "decisions"):
        html = client.get(reverse("crisis:section", args=[crisis.pk, slug])).content.decode()
        assert "hx-post" not in html, slug
    before = LogbookEntry.objects.filter(crisis=crisis).count()
    assert client.post(reverse("crisis:entry_add", args=[crisis.pk]), {"kind": "event", "text": "x"},
                       **HTMX).status_code == 403
    task = CrisisTask.objects.filter(crisis=crisis).first()
    client.post(reverse("crisis:task_status", args=[crisis.pk, task.pk]), {"status": "done"}, **HTMX)
    task.refresh_from_db()
    assert task.status == "todo" and LogbookEntry.objects.filter(crisis=crisis).count() == before


def test_the_second_crisis_confirmation_shows_only_while_a_crisis_is_active(world, director, approved_plan):
    client = verified_client(director)
    client.cookies["planblanc_language"] = "en"
    url = reverse("crisis:establishment", args=[world.chu.pk])
    assert "confirm_second" not in client.get(url).content.decode()
    client.post(url, {"kind": "ransomware", "severity": "major", "first_facts": "Première"})
    assert Crisis.objects.count() == 1
    assert 'name="confirm_second"' in client.get(url).content.decode()
    refused = client.post(url, {"kind": "ransomware", "severity": "major", "first_facts": "Seconde"})
    assert "already active" in refused.content.decode() and Crisis.objects.count() == 1
    client.post(url, {"kind": "ransomware", "severity": "major", "first_facts": "Seconde", "confirm_second": "on"})
    assert Crisis.objects.count() == 2


def test_a_new_person_has_no_default_function(world, client_for):
    from planblanc.directory.models import Person

    client = client_for("establishment_admin")
    client.cookies["planblanc_language"] = "en"
    url = reverse("directory:person_create")
    html = client.get(url).content.decode()
    select = html[html.index('name="function"'):]
    select = select[:select.index("</select>")]
    assert '<option value="" selected>' in select and 'value="director" selected' not in select
    before = Person.objects.count()
    response = client.post(url, {"first_name": "Nouvelle", "last_name": "Personne", "email": "np@example.org",
                                 "establishment": world.chu.pk, "function": ""})
    assert response.status_code == 200 and "Choose this person" in response.content.decode()
    assert Person.objects.count() == before


# Error pages ------------------------------------------------------------------------------


def test_error_pages_are_french_with_the_layout_and_a_way_back(world, client_for):
    client = _fr(client_for("crisis_member"))
    missing = client.get("/crise/999999/")
    html = missing.content.decode()
    assert missing.status_code == 404 and "Page introuvable" in html and 'href="/"' in html
    assert "navbar" in html and "Traceback" not in html
    api = client.get("/api/v1/nothing-here")
    assert api.status_code == 404 and api["Content-Type"].startswith("application/json")


def test_a_too_large_body_gets_a_french_413(world, client_for, crisis, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client = _fr(client_for("crisis_member"))
    response = client.post(reverse("crisis:entry_add", args=[crisis.pk]), {"kind": "event", "text": "x" * 5000})
    assert response.status_code == 413 and "Envoi trop volumineux" in response.content.decode()
    assert "navbar" in response.content.decode()


def test_a_csrf_failure_and_a_server_error_are_explained_in_french(world, crisis):
    from planblanc.core.views_errors import server_error

    client = Client(enforce_csrf_checks=True)
    client.cookies["planblanc_language"] = "fr"
    response = client.post(reverse("accounts:login"), {"username": "x", "password": "y"})
    assert response.status_code == 403 and "Formulaire expiré" in response.content.decode()
    request = RequestFactory().get("/quelque-part/")
    from django.contrib.auth.models import AnonymousUser
    from django.utils import translation

    request.user = AnonymousUser()
    with translation.override("fr"):
        page = server_error(request)
    assert page.status_code == 500 and "Erreur du serveur" in page.content.decode()
    api = RequestFactory().get("/api/v1/crisis/")
    api.user = AnonymousUser()
    assert server_error(api)["Content-Type"].startswith("application/json")
