"""Media and social-network pressure: the simulated public feed of an exercise (posts,
journalists' calls, press articles), made of the injects of the feed channels once they
are fired, and the kit variables that put the establishment's own names in their text.

Kit texts name the establishment with `{etablissement}`, its city with `{ville}` and its
director with `{directeur}`; they are filled when a kit is copied into an exercise, so
that the text stays editable there."""

from __future__ import annotations

import re

from django.db.models import Q

from planblanc.directory.models import Establishment, Function, Membership
from planblanc.exercises.models import FEED_CHANNELS, ExerciseRun, InjectRun, InjectState

_VARIABLE = re.compile(r"\{(etablissement|ville|directeur)\}")


def kit_variables(establishment: Establishment) -> dict[str, str]:
    director = (Membership.objects.filter(establishment=establishment, function=Function.DIRECTOR)
                .select_related("person").order_by("id").first())
    return {
        "etablissement": establishment.name,
        "ville": establishment.city or establishment.name,
        "directeur": str(director.person) if director is not None else "la direction",
    }


def fill_variables(text: str, values: dict[str, str]) -> str:
    """Replace the known variables; any other brace is left as written."""
    return _VARIABLE.sub(lambda match: values.get(match.group(1), match.group(0)), text or "")


def feed(*, run: ExerciseRun, cell: str = "") -> list[InjectRun]:
    """The public feed as the players see it, latest first: fired injects of the feed
    channels, for their cell or for everyone."""
    rows = (InjectRun.objects.filter(run=run, state__in=(InjectState.SENT, InjectState.TAKEN),
                                     inject__channel__in=FEED_CHANNELS)
            .select_related("inject").prefetch_related("inject__files"))
    if cell:
        rows = rows.filter(Q(inject__target_cell="") | Q(inject__target_cell__iexact=cell))
    return list(rows.order_by("-fired_at", "-inject__number"))
