"""A populated platform for the backup tests, in the database the environment points
to (the tests run backup and restore as other processes).

    python -m tests.core.backup_script populate      a crisis with a logbook, a campaign, uploads
    python -m tests.core.backup_script write SECONDS  append logbook entries for SECONDS
"""

from __future__ import annotations

import os
import sys
import time


def populate() -> int:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from planblanc.crisis.services import crisis_declare, logbook_append
    from planblanc.directory.models import Function
    from planblanc.tenancy import Role
    from tests.alerting.campaign_script import create
    from tests.factories import (
        EstablishmentFactory,
        MembershipFactory,
        PersonFactory,
        RoleAssignmentFactory,
        UserFactory,
    )

    establishment = EstablishmentFactory(name="CH de Sauvegarde")
    user = UserFactory(username="directrice.sauvegarde")
    RoleAssignmentFactory(user=user, role=Role.ESTABLISHMENT_ADMIN, establishment=establishment)
    person = PersonFactory(first_name="Diane", last_name="Directrice", user=user)
    MembershipFactory(person=person, establishment=establishment, function=Function.DIRECTOR)
    crisis = crisis_declare(
        actor=user, establishment=establishment, kind="ransomware", severity="major",
        first_facts="Écrans de rançon sur les postes des urgences.",
    )
    for index in range(100):
        logbook_append(actor=user, crisis=crisis, kind="event", text=f"Constat n° {index}")
    create(50)
    default_storage.save("backup-test/note.txt", ContentFile("Pièce jointe de test\n".encode()))
    return crisis.pk


def write(seconds: float) -> int:
    from planblanc.accounts.models import User
    from planblanc.crisis.models import Crisis
    from planblanc.crisis.services import logbook_append

    crisis = Crisis.objects.select_related("establishment").get(establishment__name="CH de Sauvegarde")
    user = User.objects.get(username="directrice.sauvegarde")
    deadline = time.monotonic() + seconds
    count = 0
    while time.monotonic() < deadline:
        logbook_append(actor=user, crisis=crisis, kind="event", text=f"Écrit pendant la sauvegarde {count}")
        count += 1
    return count


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planblanc.settings")
    import django

    django.setup()
    print(populate() if sys.argv[1] == "populate" else write(float(sys.argv[2])), flush=True)
