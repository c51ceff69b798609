"""Create an email campaign of N recipients in the database the environment points to
(used by the process tests and the bench, which run the worker as another process).

    python -m tests.alerting.campaign_script 2000 [domain]
"""

from __future__ import annotations

import os
import sys


def create(count: int, domain: str = "hopital.example") -> int:
    from planblanc.actors import SystemActor
    from planblanc.alerting.services import RecipientInput, campaign_create
    from planblanc.directory.models import Establishment, Region
    from planblanc.directory.validators import finess_with_check_digit

    region, _ = Region.objects.get_or_create(code="TST", defaults={"name": "Région de test"})
    establishment, _ = Establishment.objects.get_or_create(
        finess=finess_with_check_digit("69999999"),
        defaults={"name": "CH de test", "category": "ch", "region": region},
    )
    campaign = campaign_create(
        actor=SystemActor("test", sends_alerts=True), establishment=establishment, title="Cyberattaque: rejoignez la cellule",
        message_fr="Bonjour {name}, la cellule de crise se réunit salle B.",
        recipients=[RecipientInput(name=f"Agent {i}", email=f"agent{i}@{domain}") for i in range(count)],
    )
    return campaign.pk


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "planblanc.settings")
    import django

    django.setup()
    print(create(int(sys.argv[1]), *sys.argv[2:]))
