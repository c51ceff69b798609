"""The kit library: ready-made exercises shipped as data (data/kits/*.yaml), the common
evaluation grid (data/grid.yaml) and the maturity questionnaire (data/questionnaire.yaml).

A kit file MUST give: slug, title, level (beginner/intermediate/confirmed),
duration_minutes, format, cells, summary, objectives (list), scenario (text), grid (list
of areas, each optionally with its own title) and injects. Each inject is written like
an inject of the JSON chronogramme format (data/chronogramme-format.md) with
`offset_minutes`, and is checked by the same reader when the kit loads: a kit with a bad
channel or a dependency cycle fails loudly in the tests, never in front of a user."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from planblanc.exercises.models import CriterionArea, MaturityLevel

LEVEL_ORDER = [MaturityLevel.BEGINNER, MaturityLevel.INTERMEDIATE, MaturityLevel.CONFIRMED]


@dataclass(frozen=True)
class GridCriterion:
    area: str
    title: str
    scale_max: int
    descriptors: list[dict[str, Any]]


@dataclass(frozen=True)
class Kit:
    slug: str
    title: str
    level: str
    duration_minutes: int
    format: str
    cells: list[str]
    summary: str
    objectives: list[str]
    scenario: str
    grid: list[GridCriterion]
    injects: list[dict[str, Any]] = field(repr=False)

    @property
    def level_label(self) -> str:
        return str(MaturityLevel(self.level).label)

    @property
    def duration_label(self) -> str:
        hours, minutes = divmod(self.duration_minutes, 60)
        return f"{hours} h {minutes:02d}" if minutes else f"{hours} h"

    def as_chronogramme(self) -> dict[str, Any]:
        """The kit's injects as a JSON chronogramme document."""
        return {
            "format": "planblanc-chronogramme",
            "format_version": 1,
            "title": self.title,
            "kit": self.slug,
            "maturity_level": self.level,
            "injects": self.injects,
        }


def _data_dir() -> Any:
    return resources.files("planblanc.exercises") / "data"


@functools.cache
def default_grid() -> dict[str, GridCriterion]:
    raw = yaml.safe_load((_data_dir() / "grid.yaml").read_text(encoding="utf-8"))
    grid = {}
    for item in raw["criteria"]:
        area = CriterionArea(item["area"])
        grid[area.value] = GridCriterion(
            area=area.value, title=item["title"], scale_max=int(item["scale_max"]), descriptors=item["descriptors"]
        )
    return grid


def _load_kit(raw: dict[str, Any]) -> Kit:
    base = default_grid()
    grid = []
    for entry in raw["grid"]:
        if isinstance(entry, str):
            entry = {"area": entry}
        criterion = base[CriterionArea(entry["area"]).value]
        grid.append(
            GridCriterion(
                area=criterion.area,
                title=entry.get("title", criterion.title),
                scale_max=criterion.scale_max,
                descriptors=criterion.descriptors,
            )
        )
    return Kit(
        slug=raw["slug"],
        title=raw["title"],
        level=MaturityLevel(raw["level"]).value,
        duration_minutes=int(raw["duration_minutes"]),
        format=raw["format"],
        cells=list(raw["cells"]),
        summary=raw["summary"].strip(),
        objectives=list(raw["objectives"]),
        scenario=raw["scenario"].strip(),
        grid=grid,
        injects=list(raw["injects"]),
    )


@functools.cache
def kits() -> dict[str, Kit]:
    """Every kit, by slug, easiest first."""
    loaded = []
    for item in sorted((_data_dir() / "kits").iterdir(), key=lambda p: p.name):
        if item.name.endswith(".yaml"):
            loaded.append(_load_kit(yaml.safe_load(item.read_text(encoding="utf-8"))))
    loaded.sort(key=lambda kit: (LEVEL_ORDER.index(MaturityLevel(kit.level)), kit.slug))
    return {kit.slug: kit for kit in loaded}


def kit_get(slug: str) -> Kit | None:
    return kits().get(slug)


@functools.cache
def questionnaire() -> dict[str, Any]:
    return yaml.safe_load((_data_dir() / "questionnaire.yaml").read_text(encoding="utf-8"))
