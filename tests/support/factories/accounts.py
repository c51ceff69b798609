"""Factories of the accounts: logins and their roles."""

from __future__ import annotations

import factory

from planblanc.accounts.models import RoleAssignment, User
from planblanc.tenancy import Role


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@planblanc.example")
    password = factory.django.Password("correct horse battery staple")


class RoleAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoleAssignment

    user = factory.SubFactory(UserFactory)
    # The one role that needs no scope; pass role= and its scope for any other.
    role = Role.NATIONAL_ADMIN
