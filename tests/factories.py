"""The directory and accounts factories under their first address; every app's
factories live in tests/support/factories/."""

from __future__ import annotations

from tests.support.factories.accounts import RoleAssignmentFactory, UserFactory
from tests.support.factories.directory import (
    DepartmentFactory,
    EstablishmentFactory,
    GroupFactory,
    MembershipFactory,
    PersonFactory,
    RegionFactory,
)

__all__ = [
    "DepartmentFactory", "EstablishmentFactory", "GroupFactory", "MembershipFactory", "PersonFactory",
    "RegionFactory", "RoleAssignmentFactory", "UserFactory",
]
