"""CaRE domain 2: the thirteen prerequisites and objectives with their identifiers, what
each must show, the programme's windows and their state as of a day, shown with their
deadlines on the establishment's readiness page."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.urls import reverse

from planblanc.readiness.care import care_domain2, domain2_data

IDS = ["D2.P1", "D2.P2", "D2.O1.A", "D2.O1.B", "D2.O1.C", "D2.O1.D", "D2.O2.A", "D2.O2.B",
       "D2.O3.A", "D2.O3.B", "D2.O3.C", "D2.O3.D", "D2.O4"]


def test_it_loads_every_objective_with_its_identifier_and_evidence() -> None:
    domain = care_domain2(today=datetime.date(2026, 2, 1))
    assert [o.id for o in domain.objectives] == IDS
    assert all(o.evidence for o in domain.objectives)
    by_id = {o.id: o for o in domain.objectives}
    assert by_id["D2.P1"].is_prerequisite and not by_id["D2.O4"].is_prerequisite
    assert by_id["D2.P1"].since == datetime.date(2022, 7, 16)
    assert by_id["D2.O1.D"].window is not None and by_id["D2.O1.D"].window.key == "operational_phase"
    assert any("plan blanc" in e for e in by_id["D2.O1.B"].evidence)
    # Every source is cited in the data file.
    assert set(domain2_data()["sources"]) == {"identifiers", "calendar", "evidence"}


@pytest.mark.parametrize(("today", "candidacy", "declaration", "days_left"), [
    (datetime.date(2025, 8, 1), "upcoming", "upcoming", 32),
    (datetime.date(2025, 10, 1), "open", "upcoming", 30),
    (datetime.date(2026, 1, 16), "closed", "open", None),
])
def test_the_windows_have_their_state_and_deadline(today: datetime.date, candidacy: str, declaration: str,
                                                   days_left: int | None) -> None:
    windows = {w.key: w for w in care_domain2(today=today).windows}
    assert windows["candidacy"].state == candidacy
    assert windows["declaration"].state == declaration
    assert windows["candidacy"].closes == datetime.date(2025, 10, 31)
    if candidacy == "upcoming":
        assert windows["candidacy"].days_to_open == days_left
    else:
        assert windows["candidacy"].days_left == days_left
    # The declaration's closing date is not confirmed: no deadline is invented.
    assert windows["declaration"].closes is None and windows["declaration"].days_left is None


@pytest.mark.django_db
def test_the_readiness_page_shows_the_objectives_with_their_deadlines(client_for: Any, world: Any) -> None:
    page = client_for("establishment_admin").get(reverse("readiness:establishment", args=[world.chu.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    section = text.split('id="care-domain2"')[1].split("</section>")[0]
    for identifier in IDS:
        assert identifier in section
    assert "Déclaration d&#x27;atteinte des objectifs" in section or "Déclaration d'atteinte des objectifs" in section
    assert "31/10/2025" in section
