"""Crisis pages: declare through the page, the console and its forms, the live fragment,
exports with the head hash, the regional view; outsiders get 404 everywhere."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from planblanc.accounts.models import AuditEntry
from planblanc.crisis.models import Crisis, CrisisTask, DepartmentStatus, LogbookEntry, SystemStatus
from planblanc.crisis.selectors import crisis_statistics
from planblanc.crisis.services import crisis_declare, logbook_append
from tests.conftest import verified_client

pytestmark = pytest.mark.django_db


def _en(client):
    client.cookies["planblanc_language"] = "en"
    return client


@pytest.fixture
def director_client(director):
    return _en(verified_client(director))


def test_it_declares_from_the_establishment_page(world, director_client, approved_plan):
    url = reverse("crisis:establishment", args=[world.chu.pk])
    page = director_client.get(url)
    assert page.status_code == 200 and "Declare the crisis" in page.content.decode()
    done = director_client.post(url, {"kind": "ransomware", "severity": "critical", "first_facts": "Rançongiciel"})
    crisis = Crisis.objects.get()
    assert done.status_code == 302 and done["Location"] == reverse("crisis:console", args=[crisis.pk])
    console = director_client.get(done["Location"]).content.decode()
    assert crisis.head_hash in console and "Rançongiciel" in console
    live = reverse("crisis:live", args=[crisis.pk])
    assert f'hx-get="{live}?section=logbook&amp;v={crisis.head_seq}&amp;a=1"' in console
    tasks = director_client.get(reverse("crisis:section", args=[crisis.pk, "taches"])).content.decode()
    assert "Isoler les serveurs touchés" in tasks
    # A second declaration needs the confirmation box.
    again = director_client.post(url, {"kind": "unknown", "severity": "moderate", "first_facts": "Autre"})
    assert again.status_code == 200 and "already active" in again.content.decode()
    assert Crisis.objects.count() == 1


def test_it_refuses_the_declaration_to_others_with_a_message(world, client_for, approved_plan):
    client = _en(client_for("establishment_admin"))
    url = reverse("crisis:establishment", args=[world.chu.pk])
    assert "Declare the crisis" not in client.get(url).content.decode()
    response = client.post(url, {"kind": "ransomware", "severity": "major", "first_facts": "x"}, follow=True)
    assert "Only the director" in response.content.decode()
    assert not Crisis.objects.exists()


def test_the_console_forms_write_the_logbook(world, crisis, director_client):
    base = reverse("crisis:console", args=[crisis.pk])
    director_client.post(reverse("crisis:entry_add", args=[crisis.pk]), {"kind": "event", "text": "PACS coupé"})
    director_client.post(reverse("crisis:decision_add", args=[crisis.pk]),
                         {"decision-text": "Couper Internet", "decision-rationale": "Limiter la propagation"})
    task = CrisisTask.objects.filter(crisis=crisis).first()
    director_client.post(reverse("crisis:task_status", args=[crisis.pk, task.pk]), {"status": "done"})
    row = DepartmentStatus.objects.get(crisis=crisis)
    director_client.post(reverse("crisis:department_status", args=[crisis.pk, row.pk]),
                         {"status": "degraded", "note": "Papier"})
    system = SystemStatus.objects.get(crisis=crisis)
    director_client.post(reverse("crisis:system_status", args=[crisis.pk, system.pk]), {"status": "compromised"})
    director_client.post(reverse("crisis:damage", args=[crisis.pk]), {
        "damage-encryption_scope": "Serveurs de fichiers", "damage-directory_compromised": "yes",
        "damage-backups_intact": "unknown", "damage-backups_isolated": "no", "damage-data_theft_signs": "unknown",
        "damage-affected_systems": "", "damage-patients_impacted": "",
    })
    texts = list(LogbookEntry.objects.filter(crisis=crisis).values_list("text", flat=True))
    assert "PACS coupé" in texts
    assert any("Couper Internet" in t for t in texts)
    assert any(task.title in t and "done" in t for t in texts)
    assert any("Urgences CHU" in t and "Degraded" in t for t in texts)
    assert any("Dossier patient" in t and "Compromised" in t for t in texts)
    assert any("Serveurs de fichiers" in t for t in texts)
    task.refresh_from_db()
    row.refresh_from_db()
    assert task.status == "done" and row.status == "degraded" and row.history.count() == 1
    page = director_client.get(base).content.decode()
    assert "Couper Internet" in page and "Degraded mode" in page
    board = director_client.get(reverse("crisis:section", args=[crisis.pk, "tableau"])).content.decode()
    assert f'id="department-{row.pk}"' in board and "Degraded mode" in board
    decisions = director_client.get(reverse("crisis:section", args=[crisis.pk, "decisions"])).content.decode()
    assert "Couper Internet" in decisions and "Limiter la propagation" in decisions


def test_bad_input_shows_a_message_and_saves_nothing(world, crisis, director_client):
    before = LogbookEntry.objects.filter(crisis=crisis).count()
    response = director_client.post(reverse("crisis:entry_add", args=[crisis.pk]), {"kind": "event", "text": ""})
    assert response.status_code == 422 and "invalid-feedback" in response.content.decode()
    response = director_client.post(reverse("crisis:entry_add", args=[crisis.pk]),
                                    {"kind": "event", "text": "Texte gardé", "corrects": "999"})
    body = response.content.decode()
    assert "no entry number 999" in body and "Texte gardé" in body
    assert LogbookEntry.objects.filter(crisis=crisis).count() == before


def test_the_live_fragment_returns_new_entries_and_204_when_nothing_changed(world, crisis, director, client_for):
    client = client_for("crisis_member")
    url = reverse("crisis:live", args=[crisis.pk])
    crisis.refresh_from_db()
    assert client.get(url, {"section": "logbook", "v": crisis.head_seq}).status_code == 204
    seen = crisis.head_seq
    logbook_append(actor=director, crisis=crisis, kind="information", text="Nouvelle information X42")
    fresh = client.get(url, {"section": "logbook", "v": seen})
    body = fresh.content.decode()
    assert fresh.status_code == 200 and "Nouvelle information X42" in body and 'hx-swap-oob="true"' in body
    # Only the new entries: those the page shows already are not sent again.
    assert 'hx-swap-oob="afterbegin:#crisis-logbook-list"' in body and 'id="entry-1"' not in body
    crisis.refresh_from_db()
    assert f"section=logbook&amp;v={crisis.head_seq}" in body
    # Without `v` (or a bad one), the whole logbook.
    assert 'id="entry-1"' in client.get(url, {"section": "logbook", "v": "x"}).content.decode()
    assert client.get(url, {"section": "logbook", "v": crisis.head_seq}).status_code == 204
    assert client.get(url, {"section": "logbook"}, HTTP_IF_NONE_MATCH=fresh["ETag"]).status_code == 304


def test_a_change_costs_only_the_pollers_of_its_section(world, crisis, director, client_for):
    """A status change moves the board's stamp only: a member showing the tasks gets 204;
    the board's pollers get the board alone, not the logbook nor the tasks."""
    from planblanc.crisis.services import department_status_change

    client = client_for("crisis_member")
    url = reverse("crisis:live", args=[crisis.pk])
    crisis.refresh_from_db()
    stamps = {"tasks": crisis.tasks_rev, "board": crisis.board_rev, "decisions": crisis.decisions_rev,
              "damage": crisis.damage_rev}
    row = DepartmentStatus.objects.get(crisis=crisis)
    department_status_change(actor=director, row=row, status="stopped")
    for section in ("tasks", "mytasks", "decisions", "damage"):
        stamp = stamps["tasks" if section == "mytasks" else section]
        assert client.get(url, {"section": section, "v": stamp, "a": "1"}).status_code == 204, section
    board = client.get(url, {"section": "board", "v": stamps["board"], "a": "1"})
    body = board.content.decode()
    assert board.status_code == 200 and f'id="department-{row.pk}"' in body
    assert 'id="crisis-status" class="mb-3" aria-labelledby="status-title" hx-swap-oob="true"' in body
    assert "crisis-tasks" not in body and "crisis-logbook" not in body


def test_the_live_poll_costs_few_queries(world, crisis, client_for, django_assert_max_num_queries):
    client = client_for("crisis_member")
    crisis.refresh_from_db()
    url = reverse("crisis:live", args=[crisis.pk])
    client.get(url, {"section": "tasks", "v": crisis.tasks_rev})
    with django_assert_max_num_queries(6):
        assert client.get(url, {"section": "tasks", "v": crisis.tasks_rev, "a": "1"}).status_code == 204


@pytest.mark.parametrize("fmt", ["pdf", "csv", "json"])
def test_every_export_carries_the_head_hash(world, crisis, director_client, fmt):
    response = director_client.get(reverse("crisis:export", args=[crisis.pk, fmt]))
    assert response.status_code == 200
    content = response.content
    crisis.refresh_from_db()
    if fmt == "pdf":
        import io

        from pypdf import PdfReader

        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages).replace("\n", "")
        assert crisis.head_hash in text
    else:
        assert crisis.head_hash.encode() in content
    if fmt == "json":
        document = json.loads(content)
        assert document["logbook"]["chain_verified"] is True
        assert [e["seq"] for e in document["entries"]] == list(range(1, crisis.head_seq + 1))
    assert AuditEntry.objects.filter(action=f"crisis.logbook_export.{fmt}").exists()


def test_the_regional_view_lists_active_crises_read_only(world, crisis, client_for, director):
    row = DepartmentStatus.objects.get(crisis=crisis)
    from planblanc.crisis.services import department_status_change

    department_status_change(actor=director, row=row, status="stopped")
    crisis.refresh_from_db()
    officer = _en(client_for("regional_officer"))
    page = officer.get(reverse("crisis:index")).content.decode()
    assert "CHU A" in page and "Ransomware" in page and "1 / 1" in page
    console = officer.get(reverse("crisis:console", args=[crisis.pk])).content.decode()
    assert crisis.head_hash in console and "Add the entry" not in console
    assert officer.post(reverse("crisis:entry_add", args=[crisis.pk]), {"kind": "event", "text": "x"}).status_code == 403
    # Region B's view does not see it; national sees it.
    assert "CHU A" not in _en(client_for("outsider_admin")).get(reverse("crisis:index")).content.decode()
    assert "CHU A" in _en(client_for("national_admin")).get(reverse("crisis:index")).content.decode()


def test_outsiders_get_404_everywhere(world, crisis, client_for):
    client = client_for("outsider_admin")
    task = CrisisTask.objects.filter(crisis=crisis).first()
    row = DepartmentStatus.objects.get(crisis=crisis)
    entry = LogbookEntry.objects.filter(crisis=crisis).first()
    gets = [
        reverse("crisis:establishment", args=[world.chu.pk]), reverse("crisis:console", args=[crisis.pk]),
        reverse("crisis:live", args=[crisis.pk]), reverse("crisis:verify", args=[crisis.pk]),
        reverse("crisis:export", args=[crisis.pk, "pdf"]), reverse("crisis:export", args=[crisis.pk, "json"]),
        reverse("crisis:close", args=[crisis.pk]),
    ]
    for url in gets:
        assert client.get(url).status_code == 404, url
    posts = [
        reverse("crisis:entry_add", args=[crisis.pk]), reverse("crisis:decision_add", args=[crisis.pk]),
        reverse("crisis:task_add", args=[crisis.pk]), reverse("crisis:task_status", args=[crisis.pk, task.pk]),
        reverse("crisis:department_status", args=[crisis.pk, row.pk]), reverse("crisis:damage", args=[crisis.pk]),
        reverse("crisis:close", args=[crisis.pk]), reverse("crisis:system_add", args=[crisis.pk]),
    ]
    for url in posts:
        assert client.post(url, {"kind": "event", "text": "x", "status": "done", "summary": "x"}).status_code == 404, url
    api = [f"/api/v1/crisis/{crisis.pk}", f"/api/v1/crisis/{crisis.pk}/logbook", f"/api/v1/crisis/{crisis.pk}/tasks",
           f"/api/v1/crisis/{crisis.pk}/status", f"/api/v1/crisis/{crisis.pk}/verify"]
    for url in api:
        assert client.get(url).status_code == 404, url
    assert client.get("/api/v1/crisis/").json() == []
    assert LogbookEntry.objects.filter(crisis=crisis).count() == 2 and entry.text


@pytest.mark.parametrize("persona", ["crisis_member", "auditor"])
def test_only_the_director_or_deputy_ends_a_crisis(world, crisis, client_for, persona):
    """A cell member (who writes in the crisis) and an auditor (who reads it) see why they
    cannot end it, and their POST changes nothing; the console offers them no button."""
    client = _en(client_for(persona))
    url = reverse("crisis:close", args=[crisis.pk])
    page = client.get(url)
    assert page.status_code == 403 and "Only the director" in page.content.decode()
    assert 'name="summary"' not in page.content.decode()
    assert client.post(url, {"summary": "Fin"}).status_code == 403
    crisis.refresh_from_db()
    assert crisis.is_active
    alert = client.get(reverse("crisis:section", args=[crisis.pk, "alerte"])).content.decode()
    assert url not in alert


def test_the_end_of_crisis_writes_the_closing_entry(world, crisis, director_client):
    url = reverse("crisis:close", args=[crisis.pk])
    page = director_client.get(url).content.decode()
    assert "nothing can be added afterwards" in page and "alerts of this crisis" in page
    refused = director_client.post(url, {"summary": ""})
    assert refused.status_code == 422 and "invalid-feedback" in refused.content.decode()
    done = director_client.post(url, {"summary": "Activité reprise"})
    assert done.status_code == 302
    crisis.refresh_from_db()
    assert not crisis.is_active and crisis.closed_at
    assert "Activité reprise" in LogbookEntry.objects.get(crisis=crisis, seq=crisis.head_seq).text
    page = director_client.get(reverse("crisis:establishment", args=[world.chu.pk])).content.decode()
    assert "Past crises" in page and reverse("crisis:console", args=[crisis.pk]) in page


def test_statistics_leave_exercises_out_unless_asked(world, director, client_for):
    crisis_declare(actor=director, establishment=world.chu, kind="ransomware", severity="major", first_facts="Réel")
    crisis_declare(actor=director, establishment=world.chu, kind="data_theft", severity="major", first_facts="Exo",
                   is_exercise=True, confirm_second=True)
    officer = world.regional_officer
    stats = crisis_statistics(user=officer)
    assert stats["total"] == 1 and stats["by_kind"] == {"ransomware": 1} and stats["active"] == 1
    both = crisis_statistics(user=officer, include_exercises=True)
    assert both["total"] == 2 and both["by_kind"] == {"ransomware": 1, "data_theft": 1}
    assert crisis_statistics(user=world.outsider_admin, include_exercises=True)["total"] == 0


def test_the_admin_shows_the_logbook_but_never_changes_nor_deletes_it(world, crisis, client_for):
    admin = world.national_admin
    admin.is_staff = admin.is_superuser = True  # as role_assign does for national administrators
    admin.save()
    client = client_for("national_admin")
    entry = LogbookEntry.objects.get(crisis=crisis, seq=1)
    change = f"/admin/crisis/logbookentry/{entry.pk}/change/"
    page = client.get(change)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.post(change, {"text": "Réécrit"}).status_code == 403
    assert client.get(f"/admin/crisis/logbookentry/{entry.pk}/delete/").status_code == 403
    assert client.post(f"/admin/crisis/logbookentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/crisis/logbookentry/add/").status_code == 403
    entry.refresh_from_db()
    assert entry.text.startswith("Crisis declared") and LogbookEntry.objects.filter(crisis=crisis).count() == 2


def test_the_console_page_costs_the_same_queries_with_many_entries(world, crisis, director, director_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("crisis:console", args=[crisis.pk])
    director_client.get(url)
    with CaptureQueriesContext(connection) as few:
        director_client.get(url)
    for number in range(30):
        logbook_append(actor=director, crisis=crisis, kind="event", text=f"Entrée {number}")
    with CaptureQueriesContext(connection) as many:
        assert director_client.get(url).status_code == 200
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_an_attachment_is_uploaded_with_an_entry_and_downloaded_by_those_in_scope(world, crisis, director_client,
                                                                                 client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("note-rançon.txt", b"Vos fichiers sont chiffres", content_type="text/plain")
    director_client.post(reverse("crisis:entry_add", args=[crisis.pk]),
                         {"kind": "event", "text": "Note trouvée", "attachment": upload})
    entry = LogbookEntry.objects.get(crisis=crisis, text="Note trouvée")
    attachment = entry.attachments.get()
    url = reverse("crisis:attachment", args=[crisis.pk, attachment.pk])
    response = client_for("regional_officer").get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"Vos fichiers sont chiffres"
    assert client_for("outsider_admin").get(url).status_code == 404
