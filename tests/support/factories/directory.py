"""Factories of the directory: regions, groups, establishments, departments, people and
their functions (invented data only)."""

from __future__ import annotations

import factory

from planblanc.directory.models import (
    Department,
    Establishment,
    EstablishmentCategory,
    Function,
    Group,
    Membership,
    Person,
    Region,
)
from planblanc.directory.validators import finess_with_check_digit


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region

    code = factory.Sequence(lambda n: f"R{n:03d}")
    name = factory.Sequence(lambda n: f"Région {n}")


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group

    code = factory.Sequence(lambda n: f"GHT-{n:03d}")
    name = factory.Sequence(lambda n: f"GHT {n}")
    region = factory.SubFactory(RegionFactory)


class EstablishmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Establishment

    finess = factory.Sequence(lambda n: finess_with_check_digit(f"69{n:06d}"))
    name = factory.Sequence(lambda n: f"Établissement {n}")
    category = EstablishmentCategory.CH
    region = factory.SubFactory(RegionFactory)
    group = None


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    establishment = factory.SubFactory(EstablishmentFactory)
    kind = "emergency"
    name = factory.Sequence(lambda n: f"Service {n}")


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    first_name = "Camille"
    last_name = factory.Sequence(lambda n: f"Durand{n}")
    email = factory.Sequence(lambda n: f"personne{n}@hopital.example")
    mobile_phone = factory.Sequence(lambda n: f"+3363998{n % 10000:04d}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    person = factory.SubFactory(PersonFactory)
    establishment = factory.SubFactory(EstablishmentFactory)
    function = Function.STAFF
