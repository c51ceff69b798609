"""Factories of the awareness: training campaigns with their assignments, and phishing
drills with their targets (invented data only)."""

from __future__ import annotations

import datetime

import factory

from planblanc.awareness.models import Assignment, Campaign, Drill, DrillTarget
from tests.support.factories.directory import EstablishmentFactory, PersonFactory


class AwarenessCampaignFactory(factory.django.DjangoModelFactory):
    """A training campaign (alert campaigns: AlertCampaignFactory)."""

    class Meta:
        model = Campaign

    establishment = factory.SubFactory(EstablishmentFactory)
    year = 2026
    title = factory.Sequence(lambda n: f"Sensibilisation {n}")
    deadline = datetime.date(2026, 12, 31)


class AssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Assignment

    campaign = factory.SubFactory(AwarenessCampaignFactory)
    person = factory.SubFactory(PersonFactory)
    module = "phishing"


class DrillFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Drill

    establishment = factory.SubFactory(EstablishmentFactory)
    template = "mot-de-passe"


class DrillTargetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DrillTarget

    drill = factory.SubFactory(DrillFactory)
    person = factory.SubFactory(PersonFactory)
