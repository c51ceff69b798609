"""Create a regional exercise of N establishments, being prepared, in the database the
environment points to (used by the process test that kills the worker mid-way).

    python -m tests.exercises.regional_prepare_script 200
"""

from __future__ import annotations

import os
import sys


def create(count: int) -> int:
    from django.utils import timezone

    from planblanc.exercises import regional
    from planblanc.tenancy import Role
    from tests.factories import (
        EstablishmentFactory,
        RegionFactory,
        RoleAssignmentFactory,
        UserFactory,
    )

    region = RegionFactory(code="RP", name="Région de préparation")
    officer = UserFactory(username="ars-preparation")
    RoleAssignmentFactory(user=officer, role=Role.REGIONAL_OFFICER, region=region)
    officer = type(officer).objects.get(pk=officer.pk)
    establishments = [EstablishmentFactory(name=f"CH préparation {index:03d}", region=region)
                      for index in range(count)]
    item = regional.regional_exercise_create(
        actor=officer, title="Exercice régional — {etablissement}", establishments=establishments,
        planned_start=timezone.now(), kit_slug="debutant-rancongiciel")
    return item.pk


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planblanc.settings")
    import django

    django.setup()
    print(create(int(sys.argv[1])))
