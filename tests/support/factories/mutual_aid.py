"""Factories of the mutual aid: the catalogue of resources, help requests and the offers
that answer them, situation reports, regional crisis cells and their links, alerts and
on-call routes (invented data only)."""

from __future__ import annotations

import datetime

import factory
from django.utils import timezone

from planblanc.mutual_aid.models import (
    AidAlert,
    AidOffer,
    HelpRequest,
    RegionalCrisis,
    RegionalLink,
    Resource,
    ResponderRoute,
    SituationReport,
)
from tests.support.factories.crisis import CrisisFactory
from tests.support.factories.directory import EstablishmentFactory, RegionFactory


class AidResourceFactory(factory.django.DjangoModelFactory):
    """A resource of the mutual-aid catalogue, held by an establishment (the plan's own
    resources: PlanResourceFactory)."""

    class Meta:
        model = Resource

    establishment = factory.SubFactory(EstablishmentFactory)
    region = factory.SelfAttribute("establishment.region")
    kind = "equipment"
    name = factory.Sequence(lambda n: f"Routeur 4G {n}")
    quantity = 2


class HelpRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HelpRequest

    requester = factory.SubFactory(EstablishmentFactory)
    region = factory.SelfAttribute("requester.region")
    target_kind = "region"
    target_region = factory.SelfAttribute("region")
    kind = "equipment"
    what = "PC autonomes"
    quantity = 20
    urgency = "urgent"
    deliver_to = "Hall des urgences"
    created_by_label = "Cellule de crise"


class AidOfferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AidOffer

    request = factory.SubFactory(HelpRequestFactory)
    level = "region"
    offerer_region = factory.SelfAttribute("request.region")
    offerer_label = "ARS"
    what = "PC autonomes"
    quantity = 5
    created_by_label = "Officier régional"


class SituationReportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SituationReport

    crisis = factory.SubFactory(CrisisFactory)
    establishment = factory.SelfAttribute("crisis.establishment")
    region = factory.SelfAttribute("establishment.region")
    author_label = "Cellule de crise"
    ed_status = "open"
    next_report_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(hours=2))


class RegionalCrisisFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RegionalCrisis

    region = factory.SubFactory(RegionFactory)
    crisis = factory.SubFactory(CrisisFactory, establishment=None, region=factory.SelfAttribute("..region"))
    title = factory.Sequence(lambda n: f"Cyberattaque régionale {n}")
    opened_by_label = "Officier régional"


class RegionalLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RegionalLink

    regional_crisis = factory.SubFactory(RegionalCrisisFactory)
    crisis = factory.SubFactory(CrisisFactory, establishment__region=factory.SelfAttribute("...regional_crisis.region"))


class AidAlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AidAlert

    request = factory.SubFactory(HelpRequestFactory)
    region = factory.SelfAttribute("request.region")
    purpose = "new_request"
    audience = "Groupe"


class ResponderRouteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ResponderRoute

    region = factory.SubFactory(RegionFactory)
