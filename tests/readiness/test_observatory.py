"""Observatory: regional and national dashboards, drill-down, exports, charts.

Data: region A has the CHU (priority), the CH, the EHPAD and six more nursing homes
("EHPAD A1".."A6", so that one cell counts at least five establishments); region B has
the clinic. Crises and exercises are written as rows (the data the observatory reads),
not through their services, which test their own rules.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from planblanc.crisis.models import Crisis
from planblanc.readiness import charts
from planblanc.readiness import observatory as obs
from planblanc.readiness.models import Assessment, Referential
from planblanc.tenancy import Role
from tests.conftest import verified_client
from tests.support.factories import (
    CrisisFactory,
    DepartmentStatusFactory,
    EstablishmentFactory,
    ExerciseFactory,
    GovernanceRecordFactory,
    RoleAssignmentFactory,
    UserFactory,
)

YEAR = timezone.localdate().year
SVG = "{http://www.w3.org/2000/svg}"


def at(month: int, day: int = 10) -> datetime.datetime:
    return datetime.datetime(YEAR, month, day, 10, 0, tzinfo=timezone.get_current_timezone())


@pytest.fixture
def data(world: Any, mini: Referential) -> dict[str, Any]:
    nursing_homes = [
        EstablishmentFactory(name=f"EHPAD A{i}", category="ehpad", region=world.region_a) for i in range(1, 7)
    ]
    # Scores: the CHU 85, the CH 45, the six nursing homes 10, the clinic (region B) 95.
    for establishment, score in [(world.chu, 85), (world.ch, 45), (world.clinic, 95)] + [
        (e, 10) for e in nursing_homes
    ]:
        Assessment.objects.create(establishment=establishment, referential=mini, score=Decimal(score),
                                  scored_at=timezone.now())
    world.clinic.is_priority = True
    world.clinic.save()
    # The CHU exercised in March; the clinic ran an exercise crisis (counts as exercised,
    # never as an incident).
    ExerciseFactory(establishment=world.chu, title="Rançongiciel", status="finished", planned_start=at(3))
    ExerciseFactory(establishment=world.ch, title="Annulé", status="cancelled", planned_start=at(3))
    CrisisFactory(establishment=world.clinic, is_exercise=True, declared_at=at(4))
    real = CrisisFactory(establishment=world.chu, severity="critical", declared_at=at(2))
    DepartmentStatusFactory(crisis=real, name="Urgences", status="degraded")
    CrisisFactory(establishment=world.clinic, kind="data_theft", severity="serious", declared_at=at(2, 20))
    GovernanceRecordFactory(establishment=world.chu, year=YEAR, it_budget=Decimal(1000), security_budget=Decimal(70))
    GovernanceRecordFactory(establishment=world.clinic, year=YEAR, it_budget=Decimal(1000),
                            security_budget=Decimal(10))
    return {"nursing_homes": nursing_homes}


@pytest.fixture
def english(client_for: Any) -> Any:
    """Pages in English (the msgids): the platform defaults to French."""

    def make(persona: str) -> Any:
        client = client_for(persona)
        client.cookies["planblanc_language"] = "en"
        return client

    return make


def region_url(world: Any, **params: str) -> str:
    url = reverse("readiness:observatory_region", args=[world.region_a.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def test_it_shows_a_regional_officer_only_their_region(english: Any, world: Any, data: Any) -> None:
    response = english("regional_officer").get(region_url(world))
    assert response.status_code == 200
    page = response.content.decode()
    assert "9 establishments in view" in page
    assert "Région B" not in page and "Clinique B" not in page
    # The clinic's category and its data-theft incident are region B's, not shown.
    assert "<th scope=\"row\">Private clinic</th>" not in page
    dashboard = response.context["dashboard"]
    assert dashboard.tables["maturity_category"].rows
    assert {row.label for row in dashboard.tables["maturity_category"].rows} == {
        "University hospital (CHU)", "Hospital (CH)", "Nursing home (EHPAD)"}
    incidents = dashboard.tables["incidents"]
    kinds = [key for key, _label in incidents.columns]
    totals = {kind: sum(row.cells[i].value or 0 for row in incidents.rows) for i, kind in enumerate(kinds)}
    assert totals["ransomware"] == 1 and totals["data_theft"] == 0
    # Priority establishments: only the CHU (the clinic is region B's), exercised.
    assert dashboard.progress.priority == 1 and dashboard.progress.exercised == 1


def test_it_refuses_other_regions_and_the_national_view_to_a_regional_officer(
    english: Any, world: Any, data: Any
) -> None:
    client = english("regional_officer")
    assert client.get(reverse("readiness:observatory_region", args=[world.region_b.pk])).status_code == 404
    assert client.get(reverse("readiness:observatory_national")).status_code == 403
    drill = reverse("readiness:observatory_drilldown") + f"?region={world.region_b.pk}&chart=maturity_category"
    assert client.get(drill).status_code == 404
    assert client.get(reverse("readiness:observatory_export_anonymised")).status_code == 403
    assert client.get(reverse("readiness:observatory")).status_code == 302


@pytest.mark.parametrize("persona", ["establishment_admin", "crisis_member", "auditor", "outsider_admin"])
def test_it_refuses_the_observatory_to_establishment_roles(
    english: Any, world: Any, data: Any, persona: str
) -> None:
    client = english(persona)
    for url in [reverse("readiness:observatory"), reverse("readiness:observatory_national"), region_url(world),
                reverse("readiness:observatory_export", args=["budget", "csv"]) + f"?region={world.region_a.pk}"]:
        assert client.get(url).status_code in (403, 404), url
    assert client.get(region_url(world)).status_code == 403


def test_it_shows_the_national_view_with_the_target_line(english: Any, world: Any, data: Any, settings: Any) -> None:
    settings.OBSERVATORY_EXERCISE_TARGET_PERCENT = 80
    settings.OBSERVATORY_EXERCISE_TARGET_DEADLINE = "2030-06-30"
    response = english("national_admin").get(reverse("readiness:observatory_national"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Target: 80 % by 30/06/2030" in page
    markup = re.search(r'<svg[^>]*aria-labelledby="chart-progress-title.*?</svg>', page, re.S)
    assert markup is not None
    progress_svg = ET.fromstring(markup[0])  # noqa: S314 — our own markup
    target = [line for line in progress_svg.iter(f"{SVG}line") if line.get("class") == "pb-target"]
    assert len(target) == 1
    # Both priority establishments (CHU: exercise, clinic: exercise crisis) exercised.
    dashboard = response.context["dashboard"]
    assert (dashboard.progress.priority, dashboard.progress.exercised) == (2, 2)
    assert dashboard.progress.shares[-1] == 100.0
    assert {row.label for row in dashboard.tables["maturity_region"].rows} == {"Région A", "Région B"}


def test_it_never_counts_an_exercise_crisis_as_an_incident(world: Any, data: Any) -> None:
    filters = obs.Filters.default()
    dashboard = obs.observatory_dashboard(user=world.national_admin, filters=filters, national=True)
    incidents = dashboard.tables["incidents"]
    assert sum(cell.value or 0 for row in incidents.rows for cell in row.cells) == 2
    degraded = {row.label: [c.value for c in row.cells] for row in dashboard.tables["degraded"].rows}
    assert degraded == {"Région A": [1, 1, 100.0], "Région B": [1, 0, 0.0]}


def test_it_drills_down_to_the_establishments_the_viewer_may_see(english: Any, world: Any, data: Any) -> None:
    url = reverse("readiness:observatory_drilldown")
    response = english("regional_officer").get(
        url, {"region": world.region_a.pk, "chart": "maturity_category", "group": "ehpad", "bucket": "0-20"})
    assert response.status_code == 200
    names = {e.name for e in response.context["page"].object_list}
    assert names == {f"EHPAD A{i}" for i in range(1, 7)}
    # A group CISO sees only the group's establishments behind the same figures.
    response = english("group_ciso").get(url, {"region": world.region_a.pk, "chart": "exercised",
                                                  "bucket": "priority"})
    assert {e.name for e in response.context["page"].object_list} == {"CHU A"}
    response = english("group_ciso").get(url, {"region": world.region_a.pk, "chart": "maturity_category",
                                                  "group": "ehpad", "bucket": "0-20"})
    assert list(response.context["page"].object_list) == []
    # The national admin's list of "priority" includes region B's clinic; the regional's never does.
    national = english("national_admin").get(url, {"chart": "exercised", "bucket": "exercised"})
    assert {e.name for e in national.context["page"].object_list} == {"CHU A", "Clinique B"}
    regional = english("regional_officer").get(url, {"region": world.region_a.pk, "chart": "incidents",
                                                        "group": f"{YEAR}-02-01", "bucket": "data_theft"})
    assert "Clinique B" not in regional.content.decode()


def test_it_suppresses_small_cells_and_names_nobody_in_the_anonymised_export(
    english: Any, world: Any, data: Any
) -> None:
    response = english("national_admin").get(reverse("readiness:observatory_export_anonymised"))
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    for name in ["CHU A", "CH A;", "EHPAD A", "Clinique B"]:
        assert name not in text
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    maturity = rows.index(["Maturity by category"])
    header = rows[maturity + 1]
    ehpad = next(row for row in rows[maturity:] if row[0] == "Nursing home (EHPAD)")
    # Seven nursing homes are in view: six score 10 (shown), one is not assessed (<5).
    assert ehpad[header.index("Score 0–20")] == "6"
    assert ehpad[header.index("Not assessed")] == obs.SUPPRESSED
    chu = next(row for row in rows[maturity:] if row[0] == "University hospital (CHU)")
    assert chu[header.index("Score 80–100")] == obs.SUPPRESSED
    assert "1" not in [cell for row in rows[2:] for cell in row[1:]]


def test_it_exports_each_table_as_csv_and_xlsx(english: Any, world: Any, data: Any) -> None:
    client = english("regional_officer")
    url = reverse("readiness:observatory_export", args=["maturity_category", "csv"])
    response = client.get(url, {"region": world.region_a.pk})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    header = rows[1]
    ehpad = next(row for row in rows if row[0] == "Nursing home (EHPAD)")
    assert ehpad[header.index("Score 0–20")] == "6"
    assert "Private clinic" not in response.content.decode("utf-8-sig")
    response = client.get(reverse("readiness:observatory_export", args=["maturity_category", "xlsx"]),
                          {"region": world.region_a.pk})
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.iter_rows(values_only=True))
    header = list(values[1])
    chu = next(row for row in values if row[0] == "University hospital (CHU)")
    assert chu[header.index("Score 80–100")] == 1
    assert client.get(reverse("readiness:observatory_export", args=["nope", "csv"]),
                      {"region": world.region_a.pk}).status_code == 404


def test_it_renders_well_formed_accessible_svg_charts(english: Any, world: Any, data: Any) -> None:
    page = english("national_admin").get(reverse("readiness:observatory_national")).content.decode()
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    assert len(svgs) >= 8
    for markup in svgs:
        root = ET.fromstring(markup)  # noqa: S314 — our own markup
        assert root.get("role") == "img"
        assert root.get("width") == "100%" and root.get("viewBox")
        assert "style" not in markup.split(">", 1)[0]
        title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
        assert title is not None and title.text and desc is not None and desc.text
        assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"


def test_it_escapes_chart_text_and_keeps_colours_readable() -> None:
    markup = charts.bar_chart(title="<script>", desc="a & b", labels=["<b>"], values=[50])
    root = ET.fromstring(markup)  # noqa: S314 — our own markup
    assert root.find(f"{SVG}title").text == "<script>"  # type: ignore[union-attr]
    assert "<script>" not in markup
    for colour in charts.PALETTE + [charts.NEUTRAL, charts.TARGET]:
        assert charts.contrast(colour) >= 3, colour


def test_it_computes_the_dashboard_in_a_bounded_number_of_queries(
    world: Any, data: Any, django_assert_max_num_queries: Any
) -> None:
    filters = obs.Filters.default()
    with django_assert_max_num_queries(20):
        obs.observatory_dashboard(user=world.national_admin, filters=filters, national=True)
    EstablishmentFactory.create_batch(30, region=world.region_b, category="clinic", is_priority=True)
    with django_assert_max_num_queries(20):
        dashboard = obs.observatory_dashboard(user=world.national_admin, filters=filters, national=True)
    assert dashboard.establishments == 40


def test_it_reads_a_past_period_from_the_daily_snapshots(world: Any, data: Any, mini: Referential) -> None:
    from planblanc.readiness.models import AssessmentSnapshot

    chu = Assessment.objects.get(establishment=world.chu)
    AssessmentSnapshot.objects.create(assessment=chu, day=datetime.date(YEAR - 2, 6, 1), score=Decimal(30))
    filters = obs.Filters(start=datetime.date(YEAR - 2, 1, 1), end=datetime.date(YEAR - 2, 12, 31))
    table = obs.observatory_dashboard(user=world.national_admin, filters=filters, national=True).tables[
        "maturity_category"]
    chu_row = next(row for row in table.rows if row.key == "chu")
    keys = [key for key, _label in table.columns]
    assert chu_row.cells[keys.index("20-40")].value == 1


def test_it_explains_a_bad_period(english: Any, world: Any, data: Any) -> None:
    response = english("national_admin").get(reverse("readiness:observatory_national"),
                                                 {"start": f"{YEAR}-06-01", "end": f"{YEAR}-01-01"})
    assert response.status_code == 200
    assert "The start of the period must come before its end." in response.content.decode()


def test_it_degrades_to_no_data_when_an_app_or_a_field_is_missing(world: Any) -> None:
    assert obs.model_or_none("nowhere", "Crisis", {"establishment"}) is None
    assert obs.model_or_none("crisis", "Crisis", {"establishment", "no_such_field"}) is None
    assert obs.model_or_none("crisis", "Crisis", {"establishment", "is_exercise"}) is Crisis


def test_it_keeps_the_plan_completeness_on_the_plan(world: Any) -> None:
    from planblanc.plans.selectors import plan_gaps
    from planblanc.plans.services import plan_create

    plan = plan_create(actor=world.establishment_admin, establishment=world.chu)
    plan.refresh_from_db()
    assert plan.completeness == plan_gaps(plan=plan).score
    assert plan.completeness_at is not None


def test_it_tells_an_uncomputed_plan_from_no_plan_and_refreshes_it(world: Any, data: Any) -> None:
    from django.core.management import call_command

    from planblanc.plans.models import Plan

    Plan.objects.create(establishment=world.ch)  # as if made before the column existed
    filters = obs.Filters.default()
    table = obs.observatory_dashboard(user=world.national_admin, filters=filters, national=True).tables["completeness"]
    keys = [key for key, _label in table.columns]
    assert table.rows[0].cells[keys.index(obs.UNKNOWN)].value == 1
    assert table.rows[0].cells[keys.index(obs.NONE)].value == 9
    call_command("observatory_refresh", stdout=io.StringIO())
    table = obs.observatory_dashboard(user=world.national_admin, filters=filters, national=True).tables["completeness"]
    assert table.rows[0].cells[keys.index(obs.UNKNOWN)].value == 0
    assert Plan.objects.get(establishment=world.ch).completeness is not None


def test_it_shows_the_observatory_in_the_menu_of_whoever_may_open_it(english: Any, world: Any, data: Any) -> None:
    """The menu asks the same rule as the page: a regional auditor opens the observatory
    of their region, so their menu leads there; an establishment's auditor has neither."""
    regional_auditor = UserFactory(username="regional_auditor")
    RoleAssignmentFactory(user=regional_auditor, role=Role.AUDITOR, region=world.region_a)
    client = verified_client(regional_auditor)
    client.cookies["planblanc_language"] = "en"
    observatory = reverse("readiness:observatory")
    assert client.get(region_url(world)).status_code == 200
    page = client.get(reverse("readiness:observatory_region", args=[world.region_a.pk])).content.decode()
    assert f'href="{observatory}">Observatory</a>' in page
    establishment_page = english("auditor").get(reverse("directory:establishment_list")).content.decode()
    assert f'href="{observatory}"' not in establishment_page
