"""Factories of the plans: a plan and each of its parts (invented data only)."""

from __future__ import annotations

import factory
from django.utils import timezone

from planblanc.directory.models import Function
from planblanc.plans.models import (
    AlertStep,
    CriticalProcess,
    DegradedProcedure,
    ExternalContact,
    ITSystem,
    Plan,
    PlanExport,
    PlanVersion,
    ReflexItem,
    ReflexSheet,
    Resource,
    Seat,
    SeatDeputy,
)
from tests.support.factories.directory import EstablishmentFactory, PersonFactory


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan

    establishment = factory.SubFactory(EstablishmentFactory)
    meeting_place = "Salle de crise, bâtiment A"


class PlanVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlanVersion

    plan = factory.SubFactory(PlanFactory)
    number = factory.Sequence(lambda n: n + 1)
    snapshot = factory.LazyFunction(dict)
    snapshot_sha256 = "0" * 64
    approved_at = factory.LazyFunction(timezone.now)
    approved_by_label = "Directrice"


class SeatFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Seat

    plan = factory.SubFactory(PlanFactory)
    cell = "strategic"
    title = factory.Sequence(lambda n: f"Siège {n}")
    function = Function.DIRECTOR
    order = factory.Sequence(lambda n: n + 1)


class SeatDeputyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SeatDeputy

    seat = factory.SubFactory(SeatFactory)
    person = factory.SubFactory(PersonFactory)
    rank = 1


class AlertStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AlertStep

    plan = factory.SubFactory(PlanFactory)
    order = factory.Sequence(lambda n: n + 1)
    to_seat = factory.SubFactory(SeatFactory, plan=factory.SelfAttribute("..plan"))
    means = "phone"


class ReflexSheetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReflexSheet

    plan = factory.SubFactory(PlanFactory)
    title = factory.Sequence(lambda n: f"Fiche réflexe {n}")
    owner_function = Function.CISO
    order = factory.Sequence(lambda n: n + 1)


class ReflexItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReflexItem

    sheet = factory.SubFactory(ReflexSheetFactory)
    phase = "15min"
    order = factory.Sequence(lambda n: n + 1)
    text = "Isoler les serveurs touchés"


class DegradedProcedureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DegradedProcedure

    plan = factory.SubFactory(PlanFactory)
    department_kind = "emergency"
    title = factory.Sequence(lambda n: f"Procédure dégradée {n}")


class ITSystemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ITSystem

    plan = factory.SubFactory(PlanFactory)
    name = factory.Sequence(lambda n: f"Logiciel {n}")


class CriticalProcessFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CriticalProcess

    plan = factory.SubFactory(PlanFactory)
    name = factory.Sequence(lambda n: f"Processus {n}")


class ExternalContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExternalContact

    plan = factory.SubFactory(PlanFactory)
    kind = "ars"
    organisation = "ARS"
    phone = "+33199000125"


class PlanResourceFactory(factory.django.DjangoModelFactory):
    """A resource of the plan (paper forms, standalone PCs…); the mutual-aid catalogue
    has its own (AidResourceFactory)."""

    class Meta:
        model = Resource

    plan = factory.SubFactory(PlanFactory)
    kind = "paper_forms"
    location = "Armoire du PC crise"


class PlanExportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlanExport

    plan = factory.SubFactory(PlanFactory)
    kind = "pdf"
    by_label = "Directrice"
    sha256 = "0" * 64
    size_bytes = 1024
