"""The regulatory texts as written: the health-sector report's D1111-16-2 checklist
decides whether it is due and whether the incident is significant, its reporting path
(portal, or the ARS when the portal is down), follow-up reports and the end-of-incident
update; the NIS 2 art. 23 clocks (24 h, 72 h, one month after the notification) per
regime; every clock's due time comes from the data file."""

from __future__ import annotations

import datetime
import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from planblanc.crisis import regulatory
from planblanc.crisis.models import Crisis
from planblanc.crisis.notifications import (
    notification_clocks,
    notification_complement,
    notification_export,
    notification_mark_sent,
    notification_prefill,
    notification_requirements,
    notification_save,
    notification_summaries,
)
from tests.conftest import verified_client

pytestmark = pytest.mark.django_db
HOUR = datetime.timedelta(hours=1)


def _clocks(crisis, now=None):
    return {c.kind: c for c in notification_clocks(crisis=crisis, now=now or crisis.declared_at)}


def _save_health(crisis, director, *ticked, channel="portal", assessed=True):
    data = {**notification_prefill(crisis=crisis, kind="ars_cert_sante", actor=director), "channel": channel}
    data.update({f"category_{key}": "1" for key in ticked})
    if assessed:
        data["categories_assessed"] = "yes"
    return notification_save(actor=director, crisis=crisis, kind="ars_cert_sante", data=data)


def test_each_clock_is_due_as_the_data_file_says(crisis):
    clocks = _clocks(crisis)
    declared = crisis.declared_at
    assert clocks["ars_cert_sante"].due_at == declared + 2 * HOUR
    assert clocks["cnil"].due_at == declared + 72 * HOUR
    assert clocks["complaint"].due_at == declared + 72 * HOUR
    assert clocks["anssi"].due_at == declared + 24 * HOUR


@pytest.mark.parametrize("regime", ["essential", "important"])
def test_the_nis2_stages_are_24_hours_72_hours_and_one_month_after_the_notification(regime):
    aware = datetime.datetime(2026, 1, 31, 9, 30, tzinfo=datetime.UTC)
    early, notification, final = regulatory.nis2_stages(regime=regime, aware_at=aware)
    assert early.due_at == aware + 24 * HOUR
    assert notification.due_at == aware + 72 * HOUR
    assert final.due_at == datetime.datetime(2026, 3, 3, 9, 30, tzinfo=datetime.UTC)  # 3 Feb + 1 month
    sent = datetime.datetime(2026, 1, 31, 20, 0, tzinfo=datetime.UTC)
    final = regulatory.nis2_stages(regime=regime, aware_at=aware, notification_sent_at=sent)[2]
    assert final.due_at == datetime.datetime(2026, 2, 28, 20, 0, tzinfo=datetime.UTC)  # short month


def test_the_clocks_are_configurable_per_regime(monkeypatch):
    data = json.loads(json.dumps(regulatory.regulatory_data()))
    data["nis2"]["regimes"]["important"].update(early_warning_hours=48, notification_hours=96, final_report_months=2)
    monkeypatch.setattr(regulatory, "regulatory_data", lambda: data)
    aware = datetime.datetime(2026, 5, 4, 8, 0, tzinfo=datetime.UTC)
    early, notification, final = regulatory.nis2_stages(regime="important", aware_at=aware)
    assert (early.due_at - aware, notification.due_at - aware) == (48 * HOUR, 96 * HOUR)
    assert final.due_at == datetime.datetime(2026, 7, 8, 8, 0, tzinfo=datetime.UTC)
    essential = regulatory.nis2_stages(regime="essential", aware_at=aware)
    assert essential[0].due_at - aware == 24 * HOUR


def test_the_anssi_clock_moves_from_stage_to_stage(crisis, director, world):
    world.chu.is_essential_operator = True
    world.chu.save()
    Crisis.objects.filter(pk=crisis.pk).update(declared_at=timezone.now() - datetime.timedelta(days=40))
    crisis.refresh_from_db()
    declared = crisis.declared_at
    clock = _clocks(crisis)["anssi"]
    assert clock.required and clock.regime == "essential" and clock.due_at == declared + 24 * HOUR
    notification_mark_sent(actor=director, crisis=crisis, kind="anssi", reference="CERTFR-1",
                           sent_at=declared + HOUR)
    assert _clocks(crisis)["anssi"].due_at == declared + 72 * HOUR
    second = notification_complement(actor=director, crisis=crisis, kind="anssi")
    assert second.filing == 2 and "CERTFR-1" in second.data["filing_type"]
    notified = declared + 30 * HOUR
    notification_mark_sent(actor=director, crisis=crisis, kind="anssi", reference="CERTFR-2", sent_at=notified)
    clock = _clocks(crisis, now=notified)["anssi"]
    assert clock.due_at == regulatory.add_months(notified, 1) and clock.pending and not clock.overdue
    assert _clocks(crisis, now=notified + datetime.timedelta(days=32))["anssi"].overdue
    # The incident was handled before the final-report time: the final report, no progress report.
    Crisis.objects.filter(pk=crisis.pk).update(closed_at=notified + datetime.timedelta(days=3))
    crisis.refresh_from_db()
    third = notification_complement(actor=director, crisis=crisis, kind="anssi")
    assert third.data["stage"] == "final_report"
    notification_mark_sent(actor=director, crisis=crisis, kind="anssi", reference="CERTFR-3", sent_at=notified)
    clock = _clocks(crisis, now=notified + datetime.timedelta(days=90))["anssi"]
    assert not clock.pending and not clock.overdue
    with pytest.raises(ValidationError, match="final report was sent"):
        notification_complement(actor=director, crisis=crisis, kind="anssi")


def test_the_checklist_decides_whether_the_report_is_due_and_significant(crisis, director):
    requirement = {r.kind: r for r in notification_requirements(crisis=crisis)}["ars_cert_sante"]
    assert requirement.required and "checklist" in requirement.reason
    _save_health(crisis, director)
    requirement = {r.kind: r for r in notification_requirements(crisis=crisis)}["ars_cert_sante"]
    assert not requirement.required and not _clocks(crisis, crisis.declared_at + 5 * HOUR)["ars_cert_sante"].overdue
    saved = _save_health(crisis, director, "1", "3")
    assert saved.data["categories"] == "1,3"
    assert regulatory.health_assessment(saved.data) == regulatory.HealthAssessment(True, ("1", "3"), True, False)
    requirement = {r.kind: r for r in notification_requirements(crisis=crisis)}["ars_cert_sante"]
    assert requirement.required and "serious" in requirement.reason
    _save_health(crisis, director, "2", "5")
    requirement = {r.kind: r for r in notification_requirements(crisis=crisis)}["ars_cert_sante"]
    assert requirement.required and "significant" in requirement.reason
    assert regulatory.health_assessment({"categories_assessed": "yes", "categories": "4"}).significant
    summary = notification_summaries(crises=[crisis], now=crisis.declared_at)[crisis.pk]
    assert summary.required >= 2


def test_the_report_goes_to_the_ars_by_any_means_when_the_portal_is_down(crisis, director):
    with pytest.raises(ValidationError) as error:
        _save_health(crisis, director, "1", channel="fax")
    assert "channel" in error.value.message_dict
    _save_health(crisis, director, "4", channel="ars_any_means")
    content, _type, _name = notification_export(actor=director, crisis=crisis, kind="ars_cert_sante", fmt="json")
    document = json.loads(content)
    assert document["channel"] == "ars_any_means" and "ARS" in document["recipient"]
    assert document["significant"] is True
    assert [i["ticked"] for i in document["checklist"]] == [False, False, False, True, False]
    # The same form, whatever the path.
    assert {f["name"] for f in document["fields"]} >= {"establishment", "finess", "description"}


def test_follow_up_reports_then_an_end_of_incident_update(crisis, director):
    _save_health(crisis, director, "3")
    notification_mark_sent(actor=director, crisis=crisis, kind="ars_cert_sante", reference="PSIG-1")
    with pytest.raises(ValidationError):
        notification_complement(actor=director, crisis=crisis, kind="ars_cert_sante", stage="closure")
    follow = notification_complement(actor=director, crisis=crisis, kind="ars_cert_sante", stage="follow_up")
    assert follow.filing == 2 and follow.data["stage"] == "follow_up" and "PSIG-1" in follow.data["filing_type"]
    _save_health(crisis, director, "3", "5")
    notification_mark_sent(actor=director, crisis=crisis, kind="ars_cert_sante", reference="PSIG-2")
    end = notification_complement(actor=director, crisis=crisis, kind="ars_cert_sante", stage="end_of_incident")
    assert end.filing == 3 and end.data["stage"] == "end_of_incident"
    notification_mark_sent(actor=director, crisis=crisis, kind="ars_cert_sante", reference="PSIG-3")
    with pytest.raises(ValidationError, match="end-of-incident"):
        notification_complement(actor=director, crisis=crisis, kind="ars_cert_sante", stage="follow_up")


def test_the_form_page_shows_the_checklist_and_the_path(crisis, director):
    client = verified_client(director)
    url = reverse("crisis:notification_form", args=[crisis.pk, "ars_cert_sante"])
    data = {**notification_prefill(crisis=crisis, kind="ars_cert_sante", actor=director),
            "category_4": "1", "categories_assessed": "yes", "channel": "portal"}
    assert client.post(url, data).status_code == 302
    page = client.get(url).content.decode()
    assert 'id="health-checklist"' in page and 'name="category_4" value="1" checked' in page
    assert "signalement.social-sante.gouv.fr" in page


def test_nis2_progress_report_while_ongoing_then_final_report_a_month_after_handling(crisis, director):
    aware = crisis.declared_at
    sent = aware + 20 * HOUR
    stages = regulatory.nis2_stages(regime="important", aware_at=aware, notification_sent_at=sent, ongoing=True)
    assert [s.key for s in stages] == ["early_warning", "notification", "progress_report", "final_report"]
    assert stages[2].due_at == regulatory.add_months(sent, 1)
    handled = sent + datetime.timedelta(days=50)
    stages = regulatory.nis2_stages(regime="important", aware_at=aware, notification_sent_at=sent, ongoing=True,
                                    handled_at=handled)
    assert stages[3].due_at == regulatory.add_months(handled, 1)
    # Through the filings: the crisis is still open at final-report time.
    Crisis.objects.filter(pk=crisis.pk).update(declared_at=timezone.now() - datetime.timedelta(days=60))
    crisis.refresh_from_db()
    aware = crisis.declared_at
    notification_mark_sent(actor=director, crisis=crisis, kind="anssi", reference="EW", sent_at=aware + HOUR)
    notification_complement(actor=director, crisis=crisis, kind="anssi")
    notified = aware + 48 * HOUR
    notification_mark_sent(actor=director, crisis=crisis, kind="anssi", reference="N", sent_at=notified)
    clock = _clocks(crisis, now=notified)["anssi"]
    assert clock.next_stage.key == "progress_report" and clock.due_at == regulatory.add_months(notified, 1)
    progress = notification_complement(actor=director, crisis=crisis, kind="anssi")
    assert progress.data["stage"] == "progress_report"
    notification_mark_sent(actor=director, crisis=crisis, kind="anssi", reference="P",
                           sent_at=notified + datetime.timedelta(days=30))
    clock = _clocks(crisis, now=notified + datetime.timedelta(days=31))["anssi"]
    assert clock.pending and clock.next_stage.key == "final_report"
    # Ended (handled) now: the final report is due one month later.
    ended = timezone.now() - HOUR
    Crisis.objects.filter(pk=crisis.pk).update(closed_at=ended)
    crisis.refresh_from_db()
    clock = _clocks(crisis, now=ended)["anssi"]
    assert clock.due_at == regulatory.add_months(ended, 1) and not clock.overdue
    final = notification_complement(actor=director, crisis=crisis, kind="anssi")
    notification_mark_sent(actor=director, crisis=crisis, kind="anssi", reference="F")
    assert final.data["stage"] == "final_report" and not _clocks(crisis, now=ended)["anssi"].pending


def test_nis2_intermediate_report_on_request_is_due_by_the_requested_date(crisis, director):
    Crisis.objects.filter(pk=crisis.pk).update(declared_at=timezone.now() - datetime.timedelta(days=10))
    crisis.refresh_from_db()
    aware = crisis.declared_at
    stage = regulatory.nis2_intermediate_stage(regime="essential", requested_at=aware)
    assert stage.due_at == aware + datetime.timedelta(days=7)  # the data file's target when no date is asked
    notification_mark_sent(actor=director, crisis=crisis, kind="anssi", reference="EW", sent_at=aware + HOUR)
    with pytest.raises(ValidationError, match="follows the incident notification"):
        notification_complement(actor=director, crisis=crisis, kind="anssi", stage="intermediate_report")
    notification_complement(actor=director, crisis=crisis, kind="anssi")
    notification_mark_sent(actor=director, crisis=crisis, kind="anssi", reference="N", sent_at=aware + 2 * HOUR)
    asked = aware + datetime.timedelta(days=3)
    row = notification_complement(actor=director, crisis=crisis, kind="anssi", stage="intermediate_report",
                                  requested_due=asked)
    assert row.data["stage"] == "intermediate_report"
    clock = _clocks(crisis, now=aware + datetime.timedelta(days=4))["anssi"]
    assert clock.next_stage.key == f"intermediate_report:{row.filing}" and clock.due_at == asked
    assert [s.key for s in clock.stages][:3] == ["early_warning", "notification", f"intermediate_report:{row.filing}"]
    notification_mark_sent(actor=director, crisis=crisis, kind="anssi", reference="I", sent_at=aware + 3 * HOUR)
    clock = _clocks(crisis, now=aware + 3 * HOUR)["anssi"]
    assert clock.next_stage.key in {"final_report", "progress_report"}
    assert clock.due_at == regulatory.add_months(aware + 2 * HOUR, 1)


def test_the_intermediate_report_can_be_asked_from_the_page(crisis, director, world):
    Crisis.objects.filter(pk=crisis.pk).update(declared_at=timezone.now() - datetime.timedelta(days=10))
    crisis.refresh_from_db()
    aware = crisis.declared_at
    notification_mark_sent(actor=director, crisis=crisis, kind="anssi", reference="EW", sent_at=aware + HOUR)
    notification_complement(actor=director, crisis=crisis, kind="anssi")
    notification_mark_sent(actor=director, crisis=crisis, kind="anssi", reference="N", sent_at=aware + 2 * HOUR)
    client = verified_client(director)
    url = reverse("crisis:notification_form", args=[crisis.pk, "anssi"])
    assert 'value="intermediate_report"' in client.get(url).content.decode()
    client.post(url, {"complement": "1", "stage": "intermediate_report", "requested_due": "2031-01-02T10:00"})
    last = crisis.notifications.filter(kind="anssi").order_by("-filing").first()
    assert last.data["stage"] == "intermediate_report" and last.data["requested_due"].startswith("2031-01-02T10:00")
