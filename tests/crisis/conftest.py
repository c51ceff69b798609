"""An approved plan of the CHU (tests/plans/conftest.py) and its director, and a clean-up
for transactional tests: the logbook's triggers refuse the final wipe of the tables."""

from __future__ import annotations

from typing import Any

import pytest

from planblanc.plans.models import Plan, PlanVersion
from tests.plans.conftest import complete_plan, director  # noqa: F401 (fixtures)


@pytest.fixture
def approved_plan(complete_plan: Plan, director: Any) -> PlanVersion:  # noqa: F811
    from planblanc.plans.services import plan_approve

    return plan_approve(actor=director, plan=complete_plan, note="v1")


@pytest.fixture
def logbook_guards_allow_flush(transactional_db: Any) -> Any:
    """Request it in transactional tests that write crisis rows."""
    from django.db import connection

    from planblanc.crisis.db_guards import purge_logbook_for_tests

    yield
    purge_logbook_for_tests(connection)


@pytest.fixture(autouse=True)
def _english(english_messages: None) -> None:
    """Every test here reads the English messages."""

@pytest.fixture
def crisis(world: Any, director: Any, approved_plan: PlanVersion) -> Any:  # noqa: F811
    from planblanc.crisis.services import crisis_declare

    return crisis_declare(
        actor=director, establishment=world.chu, kind="ransomware", severity="major",
        first_facts="Écrans de rançon sur les postes des urgences.",
    )
