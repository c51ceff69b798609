"""A plan with no blocking gap, built row by row (independent of the French template),
and a director login that may approve it."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from planblanc.directory.models import Function
from planblanc.plans.models import (
    AlertStep,
    CellKind,
    ContactKind,
    Criticality,
    CriticalProcess,
    ExternalContact,
    ITSystem,
    Plan,
    ReflexItem,
    ReflexSheet,
    Seat,
    SeatDeputy,
)
from planblanc.tenancy import Role
from tests.factories import MembershipFactory, PersonFactory, RoleAssignmentFactory, UserFactory


@pytest.fixture
def director(world: Any) -> Any:
    """The CHU's director: a person with Function.DIRECTOR and a login linked to them."""
    user = UserFactory(username="directeur")
    RoleAssignmentFactory(user=user, role=Role.ESTABLISHMENT_ADMIN, establishment=world.chu)
    person = PersonFactory(first_name="Diane", last_name="Directrice", user=user)
    MembershipFactory(person=person, establishment=world.chu, function=Function.DIRECTOR)
    return user


@pytest.fixture
def complete_plan(world: Any, director: Any) -> Plan:
    chu = world.chu
    plan = Plan.objects.create(
        establishment=chu, meeting_place="Salle de crise, bâtiment A", fallback_place="Salle du conseil, bâtiment B",
        bridge_phone="+33199000123", bridge_code="4242", briefing_rhythm="Toutes les 2 heures le premier jour",
    )
    deputy = PersonFactory(first_name="Paul", last_name="Adjoint", mobile_phone="+33639980777")
    MembershipFactory(person=deputy, establishment=chu, function=Function.DEPUTY_DIRECTOR)
    ciso = PersonFactory(first_name="Rita", last_name="Rssi", mobile_phone="+33639980778")
    MembershipFactory(person=ciso, establishment=chu, function=Function.CISO)
    director_person = director.person
    director_person.mobile_phone = "+33639980779"
    director_person.save()
    head = Seat.objects.create(plan=plan, cell=CellKind.STRATEGIC, title="Directeur de crise",
                               function=Function.DIRECTOR, holder=director_person, order=1)
    SeatDeputy.objects.create(seat=head, person=deputy, rank=1)
    security = Seat.objects.create(plan=plan, cell=CellKind.TECHNICAL, title="RSSI", function=Function.CISO,
                                   holder=ciso, order=1)
    SeatDeputy.objects.create(seat=security, person=deputy, rank=1)
    AlertStep.objects.create(plan=plan, order=1, from_seat=None, to_seat=security, means="phone")
    AlertStep.objects.create(plan=plan, order=2, from_seat=security, to_seat=head, means="phone", fallback_means="sms")
    sheet = ReflexSheet.objects.create(plan=plan, title="Fiche RSSI", owner_function=Function.CISO, order=1)
    ReflexItem.objects.create(sheet=sheet, phase="15min", order=1, text="Isoler les serveurs touchés")
    ReflexItem.objects.create(sheet=sheet, phase="1h", order=2, text="Déclarer l'incident au CERT Santé")
    sheet2 = ReflexSheet.objects.create(plan=plan, title="Fiche directeur", owner_function=Function.DIRECTOR, order=2)
    ReflexItem.objects.create(sheet=sheet2, phase="15min", order=1, text="Réunir la cellule de crise")
    system = ITSystem.objects.create(
        plan=plan, name="Dossier patient", criticality=Criticality.VITAL, has_offline_copy=True,
        last_restore_test=timezone.localdate() - datetime.timedelta(days=30), vendor="Éditeur",
        vendor_contact_24_7="+33199000124",
    )
    process = CriticalProcess.objects.create(
        plan=plan, name="Prise en charge aux urgences", max_tolerable_downtime=datetime.timedelta(hours=4),
        rto=datetime.timedelta(hours=2), rpo=datetime.timedelta(hours=1),
    )
    process.systems.add(system)
    ExternalContact.objects.create(plan=plan, kind=ContactKind.CERT_SANTE, organisation="CERT Santé",
                                   email="cert@sante.example")
    ExternalContact.objects.create(plan=plan, kind=ContactKind.ARS, organisation="ARS", phone="+33199000125")
    ExternalContact.objects.create(plan=plan, kind=ContactKind.ANSSI, organisation="ANSSI", phone="+33199000126")
    return plan
