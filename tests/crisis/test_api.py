"""Crisis API: read, logbook list and append (never update nor delete), tasks, status
changes, verification; the same rights as the pages."""

from __future__ import annotations

import pytest

from planblanc.crisis.models import CrisisTask, DepartmentStatus, LogbookEntry

pytestmark = pytest.mark.django_db


def test_it_reads_and_appends_the_logbook(crisis, client_for):
    client = client_for("crisis_member")
    read = client.get(f"/api/v1/crisis/{crisis.pk}").json()
    assert read["head_hash"] == crisis.head_hash and read["may_run"] is True
    created = client.post(f"/api/v1/crisis/{crisis.pk}/logbook", {"kind": "action", "text": "Serveurs isolés"},
                          content_type="application/json")
    assert created.status_code == 201 and created.json()["seq"] == 3
    since = client.get(f"/api/v1/crisis/{crisis.pk}/logbook", {"since": 2}).json()
    assert [e["text"] for e in since] == ["Serveurs isolés"]
    fix = client.post(f"/api/v1/crisis/{crisis.pk}/logbook", {"kind": "information", "text": "Précision",
                                                               "corrects": 3}, content_type="application/json")
    assert fix.json()["corrects"] == 3
    assert client.get(f"/api/v1/crisis/{crisis.pk}/verify").json()["ok"] is True


def test_it_refuses_to_change_or_delete_an_entry(crisis, client_for):
    client = client_for("crisis_member")
    entry = LogbookEntry.objects.get(crisis=crisis, seq=1)
    for method in ("put", "patch", "delete"):
        response = getattr(client, method)(f"/api/v1/crisis/{crisis.pk}/logbook/1", {"text": "x"},
                                           content_type="application/json")
        assert response.status_code == 405, method
    entry.refresh_from_db()
    assert entry.text.startswith("Crisis declared")


def test_it_refuses_bad_input_and_read_only_roles(crisis, client_for):
    member = client_for("crisis_member")
    bad = member.post(f"/api/v1/crisis/{crisis.pk}/logbook", {"kind": "rumour", "text": ""},
                      content_type="application/json")
    assert bad.status_code == 422 and set(bad.json()["errors"]) == {"kind", "text"}
    officer = client_for("regional_officer")
    assert officer.get(f"/api/v1/crisis/{crisis.pk}").json()["may_run"] is False
    refused = officer.post(f"/api/v1/crisis/{crisis.pk}/logbook", {"kind": "event", "text": "x"},
                           content_type="application/json")
    assert refused.status_code == 403
    assert LogbookEntry.objects.filter(crisis=crisis).count() == 2


def test_it_moves_tasks_and_statuses(crisis, client_for):
    client = client_for("establishment_admin")
    tasks = client.get(f"/api/v1/crisis/{crisis.pk}/tasks").json()
    assert len(tasks) == 3
    done = client.post(f"/api/v1/crisis/{crisis.pk}/tasks/{tasks[0]['id']}/status", {"status": "done"},
                       content_type="application/json")
    assert done.json()["status"] == "done"
    assert CrisisTask.objects.get(pk=tasks[0]["id"]).completed_by_label
    new = client.post(f"/api/v1/crisis/{crisis.pk}/tasks", {"title": "Appeler l'assureur", "owner": "DAF"},
                      content_type="application/json")
    assert new.status_code == 201
    row = DepartmentStatus.objects.get(crisis=crisis)
    changed = client.post(f"/api/v1/crisis/{crisis.pk}/status/departments/{row.pk}", {"status": "stopped"},
                          content_type="application/json")
    assert changed.json()["status"] == "stopped"
    bad = client.post(f"/api/v1/crisis/{crisis.pk}/status/departments/{row.pk}", {"status": "on fire"},
                      content_type="application/json")
    assert bad.status_code == 422
    board = client.get(f"/api/v1/crisis/{crisis.pk}/status").json()
    assert board["departments"][0]["status"] == "stopped" and board["systems"][0]["status"] == "up"
