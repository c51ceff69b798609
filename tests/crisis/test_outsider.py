"""The crisis routes that change a row of the CHU's crisis, named one by one against an
outsider (the clinic's administrator, region B), an anonymous visitor and a role that
may read but not write: a 404, the login page or a 403, and nothing written. The
logbook API refuses changes to the outsider with a 404 (the crisis is not theirs)
before the 405 that tells its own users the logbook is append-only."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client
from django.urls import reverse

from planblanc.crisis.iocs import indicator_create
from planblanc.crisis.models import (
    CrisisTask,
    DepartmentStatus,
    Indicator,
    LogbookEntry,
    SystemStatus,
)
from tests.support.api import token_client


def _state(crisis: Any) -> tuple[Any, ...]:
    return (
        sorted(CrisisTask.objects.filter(crisis=crisis).values_list("pk", "status")),
        sorted(DepartmentStatus.objects.filter(crisis=crisis).values_list("pk", "status", "note")),
        sorted(SystemStatus.objects.filter(crisis=crisis).values_list("pk", "status", "note")),
        sorted(Indicator.objects.filter(crisis=crisis).values_list("pk", "value", "description")),
        LogbookEntry.objects.filter(crisis=crisis).count(),
    )


def _rows(crisis: Any) -> tuple[Any, Any, Any]:
    task = CrisisTask.objects.filter(crisis=crisis).first()
    department = DepartmentStatus.objects.filter(crisis=crisis).first()
    system = SystemStatus.objects.filter(crisis=crisis).first()
    assert task is not None and department is not None and system is not None
    return task, department, system


def test_the_outsider_cannot_change_a_system_status_page(crisis: Any, client_for: Any) -> None:
    _task, _department, system = _rows(crisis)
    before = _state(crisis)
    url = reverse("crisis:system_status", args=[crisis.pk, system.pk])
    response = client_for("outsider_admin").post(url, {"status": "compromised"})
    assert response.status_code == 404 and system.name not in response.content.decode()
    assert client_for("outsider_admin").get(url).status_code in (404, 405)
    # A role of the CHU that may only read is sent back to the console with the refusal.
    refused = client_for("auditor").post(url, {"status": "compromised"}, follow=True)
    assert refused.redirect_chain[0][0] == reverse("crisis:console", args=[crisis.pk])
    assert [m.level_tag for m in refused.context["messages"]] == ["error"]
    anonymous = Client().post(url, {"status": "compromised"})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("accounts:login"))
    assert _state(crisis) == before


def test_the_api_refuses_the_outsider_every_change_to_the_chu_crisis(crisis: Any, director: Any, world: Any) -> None:
    task, department, system = _rows(crisis)
    indicator = indicator_create(actor=director, crisis=crisis, kind="ipv4", value="203.0.113.7",
                                 description="Serveur de commande")
    outsider = token_client(world.outsider_admin)
    before = _state(crisis)
    for url in (f"/api/v1/crisis/{crisis.pk}/iocs/{indicator.pk}", f"/api/v1/crisis/{crisis.pk}/iocs/export/stix",
                f"/api/v1/crisis/{crisis.pk}/iocs/export/misp"):
        response = outsider.get(url)
        assert response.status_code == 404, url
        assert "203.0.113.7" not in response.content.decode(), url
    body = json.dumps({"kind": "ipv4", "value": "198.51.100.1"})
    assert outsider.put(f"/api/v1/crisis/{crisis.pk}/iocs/{indicator.pk}", body,
                        content_type="application/json").status_code == 404
    assert outsider.delete(f"/api/v1/crisis/{crisis.pk}/iocs/{indicator.pk}").status_code == 404
    for method in ("put", "patch", "delete"):
        response = getattr(outsider, method)(f"/api/v1/crisis/{crisis.pk}/logbook/1",
                                             json.dumps({"text": "réécrit"}), content_type="application/json")
        assert response.status_code == 404, method
    status = json.dumps({"status": "done"})
    assert outsider.post(f"/api/v1/crisis/{crisis.pk}/tasks/{task.pk}/status", status,
                         content_type="application/json").status_code == 404
    row_status = json.dumps({"status": "compromised", "note": "intrus"})
    assert outsider.post(f"/api/v1/crisis/{crisis.pk}/status/departments/{department.pk}", row_status,
                         content_type="application/json").status_code == 404
    assert outsider.post(f"/api/v1/crisis/{crisis.pk}/status/systems/{system.pk}", row_status,
                         content_type="application/json").status_code == 404
    # Without a token, nothing at all.
    assert Client().get(f"/api/v1/crisis/{crisis.pk}/iocs/{indicator.pk}").status_code == 401
    assert Client().delete(f"/api/v1/crisis/{crisis.pk}/iocs/{indicator.pk}").status_code == 401
    assert _state(crisis) == before


def test_a_read_only_role_of_the_chu_may_not_change_the_crisis_through_the_api(crisis: Any, director: Any,
                                                                              world: Any) -> None:
    task, department, system = _rows(crisis)
    indicator = indicator_create(actor=director, crisis=crisis, kind="ipv4", value="203.0.113.7")
    auditor = token_client(world.auditor)
    before = _state(crisis)
    assert auditor.get(f"/api/v1/crisis/{crisis.pk}/iocs/{indicator.pk}").status_code == 200
    body = json.dumps({"kind": "ipv4", "value": "198.51.100.1"})
    assert auditor.put(f"/api/v1/crisis/{crisis.pk}/iocs/{indicator.pk}", body,
                       content_type="application/json").status_code == 403
    assert auditor.delete(f"/api/v1/crisis/{crisis.pk}/iocs/{indicator.pk}").status_code == 403
    assert auditor.post(f"/api/v1/crisis/{crisis.pk}/tasks/{task.pk}/status", json.dumps({"status": "done"}),
                        content_type="application/json").status_code == 403
    row_status = json.dumps({"status": "compromised", "note": "intrus"})
    assert auditor.post(f"/api/v1/crisis/{crisis.pk}/status/departments/{department.pk}", row_status,
                        content_type="application/json").status_code == 403
    assert auditor.post(f"/api/v1/crisis/{crisis.pk}/status/systems/{system.pk}", row_status,
                        content_type="application/json").status_code == 403
    # Its own users learn that the logbook is append-only.
    assert auditor.delete(f"/api/v1/crisis/{crisis.pk}/logbook/1").status_code == 405
    assert _state(crisis) == before
