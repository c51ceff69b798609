"""Dates as people read them: in the establishment's local time, French format.

Printed documents and exports (logbook, notifications, reports, CSV) are read by people,
sometimes in court: they show "05/12/2026 16:30:05", never a UTC ISO string. An
establishment overseas keeps its own clock, found from its postal code (971 Guadeloupe,
974 La Réunion…); everywhere else it is the platform's time zone (Europe/Paris). The
hash chain and the JSON exports keep UTC for machines."""

from __future__ import annotations

import contextlib
import datetime
import zoneinfo
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.utils import timezone

# Overseas departments and collectivities, by the first three digits of the postal code.
OVERSEAS_ZONES = {
    "971": "America/Guadeloupe", "972": "America/Martinique", "973": "America/Cayenne",
    "974": "Indian/Reunion", "975": "America/Miquelon", "976": "Indian/Mayotte",
    "977": "America/St_Barthelemy", "978": "America/Marigot", "986": "Pacific/Wallis",
    "987": "Pacific/Tahiti", "988": "Pacific/Noumea",
}


def establishment_zone(establishment: Any) -> zoneinfo.ZoneInfo:
    postal = str(getattr(establishment, "postal_code", "") or "").strip()
    name = OVERSEAS_ZONES.get(postal[:3], settings.TIME_ZONE)
    return zoneinfo.ZoneInfo(name)


@contextlib.contextmanager
def establishment_time(establishment: Any) -> Iterator[zoneinfo.ZoneInfo]:
    """Templates rendered inside show dates in the establishment's local time."""
    zone = establishment_zone(establishment)
    with timezone.override(zone):
        yield zone


def fr_datetime(value: datetime.datetime | None, zone: Any = None, *, seconds: bool = False) -> str:
    """"05/12/2026 16:30" (or with seconds) in `zone` (default: the active time zone)."""
    if value is None:
        return ""
    local = timezone.localtime(value, zone) if timezone.is_aware(value) else value
    return local.strftime("%d/%m/%Y %H:%M:%S" if seconds else "%d/%m/%Y %H:%M")
