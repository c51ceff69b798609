"""Awareness figures for the observatory: the share of staff trained in a year per
establishment, group (GHT) and region against the target, its trend over the years, and
the phishing drills' click and report rates.

Reads only, over the establishments the viewer may see. Staff trained are read from the
campaigns' counters (people assigned, people who completed every module: one row per
establishment and year), never by scanning millions of assignments. The drill rates
follow the observatory's anonymised rule: a count under 5 people (other than none) is
not shown, nor a rate over fewer than 5 people targeted."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.db.models import Count, Min, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc.awareness.models import Campaign, DrillTarget
from planblanc.directory.models import Establishment, Group, Region

# The observatory's anonymised rule: cells counting fewer than this are hidden.
ANONYMITY_THRESHOLD = 5
LEVELS = ("establishment", "group", "region")
CARE_AXIS3_FILE = Path(__file__).resolve().parent / "data" / "care_axis3.yaml"


@dataclass(frozen=True)
class TrainedRow:
    key: str
    label: str
    people: int
    trained: int
    establishments: int

    @property
    def percent(self) -> float | None:
        return round(100 * self.trained / self.people, 1) if self.people else None

    @property
    def meets_target(self) -> bool:
        return self.percent is not None and self.percent >= settings.AWARENESS_TARGET_PERCENT


@dataclass(frozen=True)
class PhishingRow:
    key: str
    label: str
    targeted: int
    clicked: int | None  # None: hidden (fewer than 5)
    reported: int | None

    def _rate(self, count: int | None) -> float | None:
        if count is None or self.targeted < ANONYMITY_THRESHOLD:
            return None
        return round(100 * count / self.targeted, 1)

    @property
    def click_rate(self) -> float | None:
        return self._rate(self.clicked)

    @property
    def report_rate(self) -> float | None:
        return self._rate(self.reported)


def _field(level: str) -> str:
    if level not in LEVELS:
        raise ValueError(level)
    return {"establishment": "establishment_id", "group": "establishment__group_id",
            "region": "establishment__region_id"}[level]


def _labels(level: str, keys: list[Any]) -> dict[Any, str]:
    ids = [key for key in keys if key is not None]
    models: dict[str, type[Establishment] | type[Group] | type[Region]] = {
        "establishment": Establishment, "group": Group, "region": Region}
    model = models[level]
    labels: dict[Any, str] = dict(model.objects.filter(pk__in=ids).values_list("pk", "name"))
    labels[None] = _("Outside any group") if level == "group" else "—"
    return labels


def trained_by(*, establishments: QuerySet[Establishment], year: int, level: str) -> list[TrainedRow]:
    """People assigned and trained in `year`, per establishment, group or region (by name)."""
    key = _field(level)
    rows = list(
        Campaign.objects.filter(year=year, establishment__in=establishments.values("pk"))
        .values(key).annotate(people=Sum("people"), trained=Sum("trained"),
                              establishments=Count("establishment", distinct=True))
        .order_by()
    )
    labels = _labels(level, [row[key] for row in rows])
    out = [
        TrainedRow(key=str(row[key] or ""), label=labels.get(row[key], str(row[key])), people=row["people"] or 0,
                   trained=row["trained"] or 0, establishments=row["establishments"])
        for row in rows
    ]
    return sorted(out, key=lambda row: row.label)


def trained_trend(*, establishments: QuerySet[Establishment], last_year: int, years: int = 5) -> list[TrainedRow]:
    """The share of staff trained, year by year, up to `last_year` (years with a campaign)."""
    rows = (
        Campaign.objects.filter(year__gt=last_year - years, year__lte=last_year,
                                establishment__in=establishments.values("pk"))
        .values("year").annotate(people=Sum("people"), trained=Sum("trained"),
                                 establishments=Count("establishment", distinct=True))
        .order_by("year")
    )
    return [TrainedRow(key=str(row["year"]), label=str(row["year"]), people=row["people"] or 0,
                       trained=row["trained"] or 0, establishments=row["establishments"]) for row in rows]


def _hidden(count: int) -> int | None:
    return None if 0 < count < ANONYMITY_THRESHOLD else count


def phishing_by(*, establishments: QuerySet[Establishment], year: int, level: str) -> list[PhishingRow]:
    """People targeted by the drills sent in `year`, how many clicked and how many reported,
    per establishment, group or region; small counts hidden (see the module's note)."""
    key = "drill__" + _field(level)
    # The calendar year where the platform's users are (a drill sent on 1 January at 00:30 in
    # Paris belongs to the new year), as every other yearly count of the observatory.
    tz = timezone.get_current_timezone()
    start = datetime.datetime(year, 1, 1, tzinfo=tz)
    end = datetime.datetime(year + 1, 1, 1, tzinfo=tz)
    rows = list(
        DrillTarget.objects.filter(drill__establishment__in=establishments.values("pk"),
                                   drill__sent_at__gte=start, drill__sent_at__lt=end)
        .values(key).annotate(targeted=Count("pk"), clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
                              reported=Count("pk", filter=Q(reported_at__isnull=False)))
        .order_by()
    )
    labels = _labels(level, [row[key] for row in rows])
    out = [
        PhishingRow(key=str(row[key] or ""), label=labels.get(row[key], str(row[key])), targeted=row["targeted"],
                    clicked=_hidden(row["clicked"]), reported=_hidden(row["reported"]))
        for row in rows
    ]
    return sorted(out, key=lambda row: row.label)


def first_year(*, establishments: QuerySet[Establishment]) -> int | None:
    return Campaign.objects.filter(establishment__in=establishments.values("pk")).aggregate(y=Min("year"))["y"]


# CaRE axis 3 ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CareMeasure:
    id: str
    title: str
    answer: str  # a scale code of the referential: non_fait | partiel | fait
    evidence: str


def care_axis3_spec() -> dict[str, Any]:
    """The measures of the CaRE referential's awareness theme (axis 3) that the platform's
    figures answer, and their thresholds (data/care_axis3.yaml)."""
    data = yaml.safe_load(CARE_AXIS3_FILE.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("measures"), list):
        raise ValueError(f"{CARE_AXIS3_FILE.name}: measures: a list is expected")
    for index, measure in enumerate(data["measures"]):
        unknown = set(measure) - {"id", "title", "figure", "done_at", "partial_at"}
        if unknown or measure.get("figure") not in ("trained_share", "drill_sent", "drill_report_rate"):
            raise ValueError(f"{CARE_AXIS3_FILE.name}: measures[{index}]: unknown key or figure")
    return data


def care_axis3(*, establishment: Establishment, year: int) -> list[CareMeasure]:
    """Suggested answers to the CaRE axis 3 measures for one establishment and year, with
    the figure behind each, for whoever keeps its self-assessment."""
    spec = care_axis3_spec()
    own = Establishment.objects.filter(pk=establishment.pk)
    trained = next(iter(trained_by(establishments=own, year=year, level="establishment")), None)
    drills = next(iter(phishing_by(establishments=own, year=year, level="establishment")), None)
    target = settings.AWARENESS_TARGET_PERCENT
    out = []
    for measure in spec["measures"]:
        figure = measure["figure"]
        done_at = measure.get("done_at", target)
        partial_at = measure.get("partial_at", 0)
        if figure == "trained_share":
            value = trained.percent if trained else None
            evidence = (_("%(share)s %% of staff trained in %(year)d (target %(target)d %%).")
                        % {"share": value, "year": year, "target": target}) if value is not None else \
                _("No campaign in %(year)d.") % {"year": year}
            done_at = target if measure.get("done_at") == "target" else done_at
        elif figure == "drill_sent":
            value = 100.0 if drills and drills.targeted else None
            evidence = (_("%(count)d people received a phishing drill in %(year)d.")
                        % {"count": drills.targeted, "year": year}) if drills else \
                _("No phishing drill in %(year)d.") % {"year": year}
        else:
            value = drills.report_rate if drills else None
            evidence = (_("%(rate)s %% of those targeted reported the drill message.") % {"rate": value}
                        if value is not None else _("Not enough people targeted to show a rate."))
        answer = "non_fait"
        if value is not None and value >= float(done_at):
            answer = "fait"
        elif value is not None and value > float(partial_at):
            answer = "partiel"
        out.append(CareMeasure(id=measure["id"], title=measure["title"], answer=answer, evidence=evidence))
    return out
