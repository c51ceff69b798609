"""The regional crisis cell: a crisis owned by the region, run with the crisis console's
services (hash-chained logbook, decisions, tasks, end of crisis); exercises kept apart;
the national level reads it without writing."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from planblanc.crisis.chain import logbook_verify
from planblanc.crisis.models import Crisis, CrisisTask, Decision, LogbookEntry
from planblanc.mutual_aid import services
from tests.conftest import verified_client
from tests.mutual_aid.conftest import declare


def test_the_cell_writes_its_own_chained_logbook_with_the_console_services(aid):
    cell = aid.regional.crisis
    assert cell.establishment_id is None and cell.region == aid.world.region_a
    officer = verified_client(aid.world.regional_officer)
    url = reverse("mutual_aid:regional_logbook", args=[aid.regional.pk])
    assert officer.post(url, {"entry": "1", "entry-kind": "event", "entry-text": "Point ARS à 14 h"}).status_code == 302
    assert officer.post(url, {"decision": "1", "decision-text": "Ouvrir la réserve régionale de PC",
                              "decision-rationale": "3 établissements sans postes"}).status_code == 302
    assert officer.post(url, {"task": "1", "task-title": "Recenser les PC disponibles",
                              "task-due_in_minutes": "60"}).status_code == 302
    task = CrisisTask.objects.get(crisis=cell)
    assert officer.post(url, {"task_done": task.pk}).status_code == 302
    task.refresh_from_db()
    assert task.status == "done" and Decision.objects.filter(crisis=cell).count() == 1
    refused = officer.post(url, {"close": "1", "close-summary": "Fin"})  # not confirmed
    assert refused.status_code == 200 and "confirm" in refused.context["close_form"].errors
    assert officer.post(url, {"close": "1", "close-summary": "Fin de la crise régionale",
                              "close-confirm": "on"}).status_code == 302
    cell.refresh_from_db()
    assert cell.status == "closed"
    texts = list(LogbookEntry.objects.filter(crisis=cell).order_by("seq").values_list("text", flat=True))
    assert texts[0].startswith("Regional crisis cell opened") and "Point ARS à 14 h" in texts
    assert "Fin de la crise régionale" in texts[-1]  # the closing entry is the last
    assert logbook_verify(cell, check_files=False).ok
    # The cell never shows among the establishments' crises.
    assert not Crisis.objects.visible_to(aid.world.national_admin).filter(pk=cell.pk).exists()


def test_the_national_level_reads_but_does_not_write(aid):
    national = verified_client(aid.world.national_admin)
    url = reverse("mutual_aid:regional_logbook", args=[aid.regional.pk])
    page = national.get(url)
    assert page.status_code == 200 and not page.context["may_run"]
    before = LogbookEntry.objects.filter(crisis=aid.regional.crisis).count()
    assert national.post(url, {"entry": "1", "entry-kind": "event", "entry-text": "x"}).status_code == 404
    assert national.post(reverse("mutual_aid:regional_alert", args=[aid.regional.pk]),
                         {"message": "x", "confirm": "on"}).status_code == 404
    assert LogbookEntry.objects.filter(crisis=aid.regional.crisis).count() == before
    with pytest.raises(PermissionDenied):
        services.regional_crisis_open(actor=aid.world.national_admin, region=aid.world.region_a, title="x")


def test_exercises_are_kept_apart(aid):
    exercise = declare(aid.world.ch, is_exercise=True)
    with pytest.raises(ValidationError, match="kept apart"):
        services.regional_crisis_link(actor=aid.world.regional_officer, regional=aid.regional, crisis=exercise)
    with pytest.raises(ValidationError, match="already open"):
        services.regional_crisis_open(actor=aid.world.regional_officer, region=aid.world.region_a, title="Bis")
    drill = services.regional_crisis_open(actor=aid.world.regional_officer, region=aid.world.region_a,
                                          title="Exercice régional", is_exercise=True)
    assert services.regional_crisis_link_all(actor=aid.world.regional_officer, regional=drill) == 1
    assert list(drill.links.values_list("crisis_id", flat=True)) == [exercise.pk]
    clinic = declare(aid.world.clinic)
    with pytest.raises(ValidationError, match="of the region"):
        services.regional_crisis_link(actor=aid.world.regional_officer, regional=aid.regional, crisis=clinic)
