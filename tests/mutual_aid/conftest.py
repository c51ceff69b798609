"""The world of tests/conftest.py with the CHU in crisis, people holding the group CISO
and regional officer roles (so that alerts have someone to reach), and an open regional
crisis cell in region A."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from planblanc.crisis.models import Crisis
from planblanc.directory.models import Function
from tests.support.factories import CrisisFactory, MembershipFactory, PersonFactory


@pytest.fixture(autouse=True)
def _english() -> Any:
    from django.utils import translation

    with translation.override("en"):
        yield


@dataclass
class Aid:
    world: Any
    crisis: Any
    regional: Any
    ciso_person: Any
    officer_person: Any


def declare(establishment: Any, *, is_exercise: bool = False) -> Crisis:
    return CrisisFactory(establishment=establishment, first_facts="Rançongiciel aux urgences.", is_exercise=is_exercise)


@pytest.fixture
def aid(world: Any) -> Aid:
    from planblanc.mutual_aid.services import regional_crisis_open

    ciso_person = PersonFactory(last_name="Rssi", user=world.group_ciso)
    MembershipFactory(establishment=world.ch, person=ciso_person, function=Function.CISO)
    officer_person = PersonFactory(last_name="Ars", user=world.regional_officer)
    MembershipFactory(establishment=world.ehpad, person=officer_person, function=Function.STAFF)
    crisis = declare(world.chu)
    regional = regional_crisis_open(actor=world.regional_officer, region=world.region_a, title="Cyberattaque CHU A",
                                    link=[crisis])
    return Aid(world=world, crisis=crisis, regional=regional, ciso_person=ciso_person, officer_person=officer_person)


def request_data(**overrides: Any) -> dict[str, Any]:
    data = {"target_kind": "group", "kind": "equipment", "what": "PC autonomes", "quantity": 20,
            "urgency": "urgent", "deliver_to": "CHU A, hall des urgences", "details": "Postes hors domaine"}
    data.update(overrides)
    return data


@pytest.fixture
def logbook_guards_allow_flush(transactional_db: Any) -> Any:
    """Request it in transactional tests that write crisis rows."""
    from django.db import connection

    from planblanc.crisis.db_guards import purge_logbook_for_tests

    yield
    purge_logbook_for_tests(connection)
