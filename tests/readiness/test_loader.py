from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from planblanc.accounts.models import AuditEntry
from planblanc.readiness import services
from planblanc.readiness.loader import ReferentialFileError
from planblanc.readiness.models import AppliesTo, Measure, Referential, Theme

GOOD = """
format: 1
slug: essai
version: "1"
name: Essai
levels:
  - {code: standard, label: Standard}
scale:
  - {code: non, label: Non, value: 0}
  - {code: oui, label: Oui, value: 1}
themes:
  - code: T1
    title: Thème 1
    measures:
      - {id: "1", title: Première mesure, level: standard}
      - {id: "2", title: Deuxième mesure, related: ["1"]}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ReferentialFileError) as caught:
        services.referentials_load(paths=[write(tmp_path, "bad.yaml", text)])
    return caught.value.messages


def test_it_loads_the_bundled_referentials(bundled: dict[str, Referential]) -> None:
    assert set(bundled) == {"hygiene-anssi", "care", "gouvernance", "nis-ose"}
    hygiene = bundled["hygiene-anssi"]
    assert hygiene.measures.count() == 42
    assert hygiene.themes.count() == 10
    assert sorted(int(m) for m in hygiene.measures.values_list("ref_id", flat=True)) == list(range(1, 43))
    reinforced = {m.ref_id for m in hygiene.measures.all() if m.levels == ["reinforced"]}
    assert reinforced == {"38", "41", "42"}
    assert bundled["nis-ose"].applies_to == AppliesTo.ESSENTIAL_OPERATORS
    care_ids = set(bundled["care"].measures.values_list("ref_id", flat=True))
    assert {f"CONT-{n}" for n in range(1, 9)} <= care_ids
    assert AuditEntry.objects.filter(action="referential.load").count() == 4


def test_it_upserts_by_slug_and_version(db: Any, tmp_path: Path) -> None:
    path = write(tmp_path, "essai.yaml", GOOD)
    services.referentials_load(paths=[path])
    write(tmp_path, "essai.yaml", GOOD.replace("Première mesure", "Mesure renommée").replace(
        '      - {id: "2", title: Deuxième mesure, related: ["1"]}\n', ""))
    services.referentials_load(paths=[path])
    assert Referential.objects.filter(slug="essai").count() == 1
    referential = Referential.objects.get(slug="essai")
    assert list(referential.measures.values_list("ref_id", "title")) == [("1", "Mesure renommée")]
    services.referentials_load(paths=[write(tmp_path, "v2.yaml", GOOD.replace('version: "1"', 'version: "2"'))])
    assert Referential.objects.filter(slug="essai").count() == 2


def test_it_keeps_answered_measures_dropped_by_a_reload_inactive(world: Any, tmp_path: Path) -> None:
    path = write(tmp_path, "essai.yaml", GOOD)
    (referential,), _ = services.referentials_load(paths=[path])
    assessment = services.assessment_start(actor=world.establishment_admin, establishment=world.chu, referential=referential)
    measure = referential.measures.get(ref_id="2")
    services.answer_record(actor=world.establishment_admin, assessment=assessment, measure=measure, level_code="oui")
    write(tmp_path, "essai.yaml", GOOD.replace('      - {id: "2", title: Deuxième mesure, related: ["1"]}\n', ""))
    services.referentials_load(paths=[path])
    measure.refresh_from_db()
    assert measure.is_active is False
    assert services.assessment_compute_score(assessment=assessment).applicable == 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('{id: "2", title: Deuxième mesure', '{id: "1", title: Deuxième mesure'), "duplicate measure id “1”"),
        (("level: standard}", "level: expert}"), "unknown level “expert”"),
        (('related: ["1"]', 'related: ["99"]'), "broken reference: no measure “99”"),
        (("value: 1}", "value: 3}"), "the value must be a number between 0 and 1"),
        (("    measures:", "    mesures:"), "unknown key “mesures”"),
        (("applies_to", "applies_to"), None),
    ],
)
def test_it_refuses_a_bad_file_with_a_clear_message(db: Any, tmp_path: Path, change: tuple[str, str], expected: str | None) -> None:
    text = GOOD.replace(*change)
    if expected is None:  # the unchanged file loads
        services.referentials_load(paths=[write(tmp_path, "ok.yaml", text)])
        return
    with pytest.raises(ReferentialFileError) as caught:
        services.referentials_load(paths=[write(tmp_path, "bad.yaml", text)])
    joined = "\n".join(caught.value.messages)
    assert expected in joined
    assert "bad.yaml" in joined
    assert not Referential.objects.exists()


def test_it_names_the_entry_of_each_problem(db: Any, tmp_path: Path) -> None:
    messages = problems_of(tmp_path, GOOD.replace('{id: "2", title: Deuxième mesure, related: ["1"]}',
                                                   '{id: "1", title: "", level: expert}'))
    assert any("measure “1”" in m and "duplicate" in m for m in messages)
    assert any("measure “1”" in m and "a title is required" in m for m in messages)
    assert any("unknown level “expert”" in m for m in messages)


def test_it_loads_nothing_when_one_file_of_several_is_bad(db: Any, tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", GOOD)
    bad = write(tmp_path, "bad.yaml", GOOD.replace("slug: essai", "slug: autre").replace('related: ["1"]', 'related: ["X"]'))
    with pytest.raises(ReferentialFileError):
        services.referentials_load(paths=[good, bad])
    assert not Referential.objects.exists()
    assert not Theme.objects.exists() and not Measure.objects.exists()


def test_it_refuses_what_is_not_yaml_or_not_a_referential(db: Any, tmp_path: Path) -> None:
    assert "not valid YAML" in problems_of(tmp_path, "themes: [unclosed")[0]
    messages = problems_of(tmp_path, "- just\n- a list\n")
    assert "must be a mapping" in messages[0]
    messages = problems_of(tmp_path, "format: 1\nslug: Pas Un Slug\n")
    joined = "\n".join(messages)
    assert "identifier" in joined and "a name is required" in joined and "at least one theme" in joined


def test_it_refuses_the_same_slug_and_version_twice_in_one_load(db: Any, tmp_path: Path) -> None:
    with pytest.raises(ReferentialFileError) as caught:
        services.referentials_load(paths=[write(tmp_path, "a.yaml", GOOD), write(tmp_path, "b.yaml", GOOD)])
    assert "given by several files" in caught.value.messages[0]
    assert not Referential.objects.exists()


def test_it_reports_every_problem_from_the_command(db: Any, tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", GOOD.replace("level: standard}", "level: expert}"))
    with pytest.raises(CommandError) as caught:
        call_command("referentials_load", str(bad))
    assert "Nothing was loaded" in str(caught.value) and "expert" in str(caught.value)
    call_command("referentials_load")
    assert Referential.objects.count() == 4
