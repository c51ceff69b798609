"""Factories of the crisis console: a crisis, its logbook (written through the crisis
service, so that the chain of hashes holds), tasks, statuses, damage assessment,
notifications, indicators, communications, improvement actions and the staff
situation page (invented data only)."""

from __future__ import annotations

import datetime
from typing import Any

import factory
from django.utils import timezone

from planblanc.actors import SystemActor
from planblanc.crisis.models import (
    CommunicationDraft,
    Crisis,
    CrisisTask,
    DamageAssessment,
    DepartmentStatus,
    ImprovementAction,
    Indicator,
    LogbookEntry,
    RegulatoryNotification,
    StaffSituation,
    StixIdentity,
    SystemStatus,
)
from tests.support.factories.directory import EstablishmentFactory


class CrisisFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Crisis

    establishment = factory.SubFactory(EstablishmentFactory)
    kind = "ransomware"
    severity = "major"
    first_facts = "Écrans de rançon sur les postes des urgences."
    declared_by_label = "Directrice"


class LogbookEntryFactory(factory.django.DjangoModelFactory):
    """An entry appended by the crisis service (as another capability of the platform
    records an event): the logbook is append-only and chained, so no row is written
    around it. The crisis must be active."""

    class Meta:
        model = LogbookEntry

    crisis = factory.SubFactory(CrisisFactory)
    kind = "event"
    text = factory.Sequence(lambda n: f"Événement {n}")

    author_label = "Cellule de crise"

    @classmethod
    def _create(cls, model_class: Any, *args: Any, crisis: Crisis, kind: str, text: str, author_label: str,
                **kwargs: Any) -> Any:
        from planblanc.crisis.services import logbook_record_event

        return logbook_record_event(crisis=crisis, actor=kwargs.pop("actor", SystemActor("tests")),
                                    author_label=author_label, text=text, kind=kind)


class CrisisTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CrisisTask

    crisis = factory.SubFactory(CrisisFactory)
    title = factory.Sequence(lambda n: f"Tâche {n}")


class DepartmentStatusFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DepartmentStatus

    crisis = factory.SubFactory(CrisisFactory)
    name = factory.Sequence(lambda n: f"Service {n}")


class SystemStatusFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SystemStatus

    crisis = factory.SubFactory(CrisisFactory)
    name = factory.Sequence(lambda n: f"Logiciel {n}")


class DamageAssessmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DamageAssessment

    crisis = factory.SubFactory(CrisisFactory)
    encryption_scope = "Serveurs de fichiers"


class RegulatoryNotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RegulatoryNotification

    crisis = factory.SubFactory(CrisisFactory)
    kind = "anssi"


class IndicatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Indicator

    crisis = factory.SubFactory(CrisisFactory)
    kind = "ipv4"
    value = factory.Sequence(lambda n: f"203.0.113.{n % 250 + 1}")


class StixIdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StixIdentity

    establishment = factory.SubFactory(EstablishmentFactory)


class CommunicationDraftFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CommunicationDraft

    crisis = factory.SubFactory(CrisisFactory)
    template_key = "staff_first"
    audience = "staff"
    title = "Information du personnel"
    message_fr = "Passez aux procédures dégradées."


class ImprovementActionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImprovementAction

    crisis = factory.SubFactory(CrisisFactory)
    title = factory.Sequence(lambda n: f"Action d'amélioration {n}")
    owner_label = "RSSI"
    due_date = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=30))


class StaffSituationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffSituation

    crisis = factory.SubFactory(CrisisFactory)
    token = factory.Sequence(lambda n: f"situation-{n:08d}")
