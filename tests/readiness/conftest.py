"""Readiness fixtures: the bundled referentials, and a tiny hand-made referential whose
scores are easy to compute by hand."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from planblanc.actors import SystemActor
from planblanc.readiness import services
from planblanc.readiness.loader import (
    LevelSpec,
    MeasureSpec,
    ReferentialSpec,
    ScaleLevelSpec,
    ThemeSpec,
    bundled_paths,
)
from planblanc.readiness.models import Referential


@pytest.fixture(autouse=True)
def _english(english_messages: None) -> None:
    """Every test here reads the English messages."""

@pytest.fixture
def bundled(db: Any) -> dict[str, Referential]:
    referentials, _warnings = services.referentials_load(paths=bundled_paths(), actor=SystemActor("test"))
    return {r.slug: r for r in referentials}


def tiny_spec(**overrides: Any) -> ReferentialSpec:
    spec = ReferentialSpec(
        slug="mini", version="1", name="Mini référentiel",
        levels=[LevelSpec("standard", "Standard")],
        scale=[
            ScaleLevelSpec("non", "Non", Decimal(0)),
            ScaleLevelSpec("partiel", "Partiel", Decimal("0.5")),
            ScaleLevelSpec("oui", "Oui", Decimal(1)),
        ],
        themes=[
            ThemeSpec("A", "Thème A", [
                MeasureSpec("A1", "Mesure A1", weight=Decimal(1)),
                MeasureSpec("A2", "Mesure A2", weight=Decimal(1)),
            ]),
            ThemeSpec("B", "Thème B", [
                MeasureSpec("B1", "Mesure B1", weight=Decimal(2)),
                MeasureSpec("B2", "Mesure B2", weight=Decimal(4)),
            ]),
        ],
        file="mini.yaml",
    )
    for key, value in overrides.items():
        setattr(spec, key, value)
    return spec


@pytest.fixture
def mini(db: Any) -> Referential:
    (referential,) = services.referential_save_specs(specs=[tiny_spec()], actor=SystemActor("test"))
    return referential


@pytest.fixture
def chu_assessment(world: Any, mini: Referential) -> Any:
    return services.assessment_start(actor=world.establishment_admin, establishment=world.chu, referential=mini)
