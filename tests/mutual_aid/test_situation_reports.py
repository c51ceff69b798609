"""Situation reports: a time series per establishment in crisis, in the logbooks, shown on
the regional board; a report past its announced time is flagged late."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation

from planblanc.crisis.models import LogbookEntry
from planblanc.mutual_aid import selectors, services
from planblanc.mutual_aid.models import SituationReport
from tests.conftest import verified_client


def report_data(**overrides):
    data = {"ed_status": "restricted", "beds_deprogrammed": 30, "surgeries_deprogrammed": 8, "lab_on_paper": True,
            "imaging_on_paper": False, "patients_transferred": 4, "needs": "PC autonomes",
            "next_report_at": timezone.now() + datetime.timedelta(hours=4)}
    data.update(overrides)
    return data


def test_it_keeps_reports_as_a_time_series_and_writes_the_logbooks(aid):
    w = aid.world
    first = services.situation_report_create(actor=w.crisis_member, crisis=aid.crisis, data=report_data())
    second = services.situation_report_create(actor=w.crisis_member, crisis=aid.crisis,
                                              data=report_data(ed_status="diverted", patients_transferred=9))
    assert [r.pk for r in selectors.reports_of(crisis=aid.crisis)] == [second.pk, first.pk]
    assert LogbookEntry.objects.filter(crisis=aid.crisis, text__startswith="Situation report: ED Diverted").exists()
    assert LogbookEntry.objects.filter(crisis=aid.regional.crisis, text__contains="CHU A — Situation report").exists()
    row = selectors.regional_board(regional=aid.regional).rows[0]
    assert row.report.pk == second.pk and not row.late


def test_a_late_report_is_flagged_on_the_board(aid):
    w = aid.world
    report = services.situation_report_create(actor=w.crisis_member, crisis=aid.crisis, data=report_data())
    board = selectors.regional_board(regional=aid.regional)
    assert board.late_reports == 0
    SituationReport.objects.filter(pk=report.pk).update(next_report_at=timezone.now() - datetime.timedelta(minutes=1))
    board = selectors.regional_board(regional=aid.regional)
    assert board.late_reports == 1 and board.rows[0].late
    page = verified_client(w.regional_officer).get(f"/entraide/region/{aid.regional.pk}/")
    with translation.override("fr"):
        assert translation.gettext("Report late") in page.content.decode()


def test_a_crisis_without_any_report_is_late_after_the_rhythm(aid):
    crisis = aid.crisis
    assert not selectors.report_is_late(None, crisis)
    assert selectors.report_is_late(None, crisis, now=crisis.declared_at + datetime.timedelta(hours=4, minutes=1))


def test_it_checks_the_form_and_the_writer(aid):
    w = aid.world
    with pytest.raises(ValidationError) as caught:
        services.situation_report_create(actor=w.crisis_member, crisis=aid.crisis, data=report_data(
            ed_status="", beds_deprogrammed=-1, next_report_at=timezone.now() - datetime.timedelta(hours=1)))
    assert set(caught.value.message_dict) == {"ed_status", "beds_deprogrammed", "next_report_at"}
    with pytest.raises(PermissionDenied):
        services.situation_report_create(actor=w.regional_officer, crisis=aid.crisis, data=report_data())
    assert not SituationReport.objects.exists()


def test_the_phone_form_is_prefilled_from_the_status_board(aid):
    from planblanc.crisis.models import DepartmentStatus

    w = aid.world
    DepartmentStatus.objects.create(crisis=aid.crisis, department=w.chu_emergency, name="Urgences", status="stopped")
    page = verified_client(w.crisis_member).get(f"/entraide/crise/{aid.crisis.pk}/point/")
    assert page.status_code == 200
    assert page.context["form"].initial["ed_status"] == "diverted"
    response = verified_client(w.crisis_member).post(f"/entraide/crise/{aid.crisis.pk}/point/", {
        "ed_status": "diverted", "beds_deprogrammed": "3", "surgeries_deprogrammed": "x", "patients_transferred": "0",
        "next_report_at": "2020-01-01T10:00"})
    assert response.status_code == 200
    assert "surgeries_deprogrammed" in response.context["form"].errors
    assert 'class="invalid-feedback d-block"' in response.content.decode()
    assert not SituationReport.objects.exists()
