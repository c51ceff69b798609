from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from planblanc.actors import SystemActor
from planblanc.readiness import ciso_assistant, services
from planblanc.readiness.loader import ReferentialFileError
from planblanc.readiness.models import AppliesTo, Referential, ReferentialOrigin

SAMPLE = Path(ciso_assistant.__file__).resolve().parent / "data" / "ciso_assistant" / "sample.yaml"
# The shared library files sit next to the repository: <repo>/../shared/fixtures/…
REPO = Path(__file__).resolve().parents[2]
LIBRARY = REPO.parent / "shared" / "fixtures" / "ciso-assistant-library"


def test_it_imports_our_sample_library(db: Any) -> None:
    referential, warnings = services.referential_import_ciso_assistant(path=SAMPLE, actor=SystemActor("test"))
    assert referential.slug == "ca-exemple-continuite"
    assert referential.version == "2"
    assert referential.origin == ReferentialOrigin.CISO_ASSISTANT
    themes = {t.code: sorted(t.measures.values_list("ref_id", flat=True)) for t in referential.themes.all()}
    # SAUV-2.1 (depth 3) belongs to the theme of its top-most ancestor.
    assert themes == {"SAUV": ["SAUV-1", "SAUV-2", "SAUV-2.1"], "CRISE": ["CRISE-1"], "_autres": ["REPRISE-1"]}
    assert referential.measures.get(ref_id="SAUV-2").levels == ["essentiel", "avance"]
    # The undefined group "expert" is dropped, the defined one kept.
    assert referential.measures.get(ref_id="CRISE-1").levels == ["essentiel"]
    # A node without a name takes its description as title.
    assert referential.measures.get(ref_id="SAUV-2.1").title.startswith("Le temps de restauration")
    assert [lv["code"] for lv in referential.levels] == ["essentiel", "avance"]
    levels = list(referential.scale.levels.order_by("position").values_list("label", "value"))
    assert levels == [
        ("Inexistant", Decimal("0")), ("Initialisé", Decimal("0.25")), ("Défini", Decimal("0.5")),
        ("Géré", Decimal("0.75")), ("Optimisé", Decimal("1")),
    ]


def test_it_reports_unknown_references_without_failing(db: Any) -> None:
    _referential, warnings = services.referential_import_ciso_assistant(path=SAMPLE)
    assert len(warnings) == 2
    assert any("unknown implementation group “expert”" in w and "CRISE-1" in w for w in warnings)
    assert any("unknown parent" in w and "exemple-continuite:reprise" in w for w in warnings)


def test_it_uses_the_compliance_scale_without_scores(db: Any) -> None:
    data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    del data["objects"]["framework"]["scores_definition"]
    spec, _warnings = ciso_assistant.parse_library(data, file="x.yaml")
    assert [(s.code, s.value) for s in spec.scale] == [
        ("non_compliant", Decimal(0)), ("partially_compliant", Decimal("0.5")), ("compliant", Decimal(1)),
    ]


def test_it_refuses_a_file_without_framework(db: Any) -> None:
    with pytest.raises(ReferentialFileError) as caught:
        ciso_assistant.parse_library({"objects": {"risk_matrix": {}}}, file="matrice.yaml")
    assert "matrice.yaml" in caught.value.messages[0]
    assert "not a CISO Assistant library" in caught.value.messages[0]


def test_it_reimports_without_duplicating(db: Any) -> None:
    services.referential_import_ciso_assistant(path=SAMPLE)
    services.referential_import_ciso_assistant(path=SAMPLE)
    assert Referential.objects.filter(slug="ca-exemple-continuite").count() == 1


LIBRARY_FILES = {
    # file: (slug, assessable requirements in the file, themes having measures)
    "anssi-guide-hygiene.yaml": ("ca-anssi-guide-hygiene", 61, 10),
    "ans-care-domaine2.yaml": ("ca-ans-care-domaine2", 13, 5),  # d2.o4 is a top-level requirement: its own theme
    "nis2-directive.yaml": ("ca-nis2-directive", 13, 1),
}


@pytest.mark.skipif(not LIBRARY.is_dir(), reason=f"CISO Assistant library files not present at {LIBRARY}")
@pytest.mark.parametrize("name", sorted(LIBRARY_FILES))
def test_it_imports_the_published_library_files(db: Any, name: str) -> None:
    path = LIBRARY / name
    if not path.exists():
        pytest.skip(f"{path} is not present")
    slug, measures, themes = LIBRARY_FILES[name]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    nodes = data["objects"]["framework"]["requirement_nodes"]
    assert sum(1 for n in nodes if n.get("assessable")) == measures
    referential, warnings = services.referential_import_ciso_assistant(
        path=path, applies_to=AppliesTo.ESSENTIAL_OPERATORS if "nis2" in name else AppliesTo.ALL,
    )
    assert referential.slug == slug
    assert referential.measures.count() == measures
    assert referential.themes.count() == themes
    assert warnings == []
    assert referential.scale.levels.count() == 3


@pytest.mark.skipif(not LIBRARY.is_dir(), reason=f"CISO Assistant library files not present at {LIBRARY}")
def test_it_keeps_the_hygiene_guide_levels(db: Any) -> None:
    referential, _ = services.referential_import_ciso_assistant(path=LIBRARY / "anssi-guide-hygiene.yaml")
    assert referential.measures.get(ref_id="1").levels == ["S"]
    assert referential.measures.get(ref_id="41.R").levels == ["R"]
    # 36, 36.R, 37, 37.R, 38.R, 39, 40
    assert referential.themes.get(code="IX").measures.count() == 7
