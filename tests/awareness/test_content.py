"""The training modules as data: the bundled catalogue is complete and valid in both
languages, and a broken module file is refused, naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from planblanc.awareness.audiences import (
    Audience,
    audiences_for,
    audiences_of_memberships,
    modules_for,
)
from planblanc.awareness.content import (
    BUNDLED_DIR,
    ModuleFileError,
    catalogue,
    module_load,
    modules_load,
)
from planblanc.directory.models import DepartmentKind, Function


@pytest.fixture(autouse=True)
def _english(english_messages: None) -> None:
    """The assertions read the English messages."""


REQUIRED = {"ransom-note", "phishing", "passwords", "usb-devices", "degraded-mode", "reporting",
            "health-data", "remote-work"}


def test_the_bundled_catalogue_holds_the_eight_modules_in_french_and_english() -> None:
    modules = modules_load()
    assert {module.slug for module in modules} >= REQUIRED
    for module in modules:
        assert 5 <= module.minutes <= 10
        assert module.title.get("fr") != module.title.get("en")
        assert len(module.questions) > module.quiz_size or module.quiz_size == len(module.questions)
        for question in module.questions:
            assert any(answer.correct for answer in question.answers)
            assert all(answer.explanation.fr and answer.explanation.en for answer in question.answers)


def test_a_quiz_is_drawn_from_the_bank_and_scored_on_exact_answers() -> None:
    module = next(m for m in catalogue() if m.slug == "ransom-note")
    first = module.draw(seed="a")
    assert len(first) == module.quiz_size
    assert [q.id for q in first] == [q.id for q in module.draw(seed="a")]
    right = {q.id: {i for i, a in enumerate(q.answers) if a.correct} for q in first}
    assert module.score(right) == (100, True)
    wrong = {q.id: {i for i, a in enumerate(q.answers) if not a.correct} for q in first}
    assert module.score(wrong) == (0, False)


def _write(tmp_path: Path, data: dict, name: str = "ransom-note") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _good() -> dict:
    return yaml.safe_load((BUNDLED_DIR / "ransom-note.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("breakage", "field"),
    [
        (lambda d: d["title"].pop("en"), "title.en"),
        (lambda d: d.__setitem__("mesures", []), "mesures"),
        (lambda d: d.__setitem__("minutes", 45), "minutes"),
        (lambda d: d.__setitem__("audiences", ["everyone"]), "audiences[0]"),
        (lambda d: d["questions"][1]["answers"][0].__setitem__("correct", False), "questions[1]"),
        (lambda d: d["questions"][0]["answers"][1].pop("explanation"), "questions[0].answers[1].explanation"),
        (lambda d: d.__setitem__("quiz_size", 9), "quiz_size"),
        (lambda d: d["questions"][2].__setitem__("id", d["questions"][0]["id"]), "duplicate id"),
        (lambda d: d.__setitem__("slug", "other-slug"), "slug"),
    ],
)
def test_a_broken_module_file_is_refused_naming_the_file_and_the_field(
    tmp_path: Path, breakage, field: str
) -> None:
    data = _good()
    breakage(data)
    path = _write(tmp_path, data)
    with pytest.raises(ModuleFileError) as caught:
        module_load(path)
    message = str(caught.value)
    assert message.startswith("ransom-note.yaml: ")
    assert field in message


def test_one_broken_file_refuses_the_whole_directory(tmp_path: Path) -> None:
    _write(tmp_path, _good())
    (tmp_path / "broken.yaml").write_text("slug: [unclosed", encoding="utf-8")
    with pytest.raises(ModuleFileError, match="broken.yaml: not valid YAML"):
        modules_load(tmp_path)


def test_an_oversized_module_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("# " + "x" * 300_000, encoding="utf-8")
    with pytest.raises(ModuleFileError, match="huge.yaml: the file is larger"):
        module_load(path)


def test_audiences_come_from_functions_and_departments() -> None:
    assert audiences_for(Function.STAFF, DepartmentKind.ADMISSIONS) == {Audience.ALL}
    assert audiences_for(Function.STAFF, DepartmentKind.EMERGENCY) == {Audience.ALL, Audience.CARE}
    assert Audience.MANAGERS in audiences_for(Function.DEPARTMENT_HEAD, DepartmentKind.SURGERY)
    assert Audience.IT in audiences_for(Function.STAFF, DepartmentKind.IT)
    assert Audience.CRISIS in audiences_for(Function.CRISIS_CELL, None)
    both = audiences_of_memberships([(Function.STAFF, DepartmentKind.MATERNITY), (Function.IT_STAFF, None)])
    assert {Audience.CARE, Audience.IT} <= both


def test_a_secretary_and_a_nurse_are_assigned_different_modules() -> None:
    secretary = {m.slug for m in modules_for(audiences_for(Function.STAFF, DepartmentKind.ADMISSIONS), catalogue())}
    nurse = {m.slug for m in modules_for(audiences_for(Function.STAFF, DepartmentKind.INTENSIVE_CARE), catalogue())}
    assert "degraded-mode" in nurse and "degraded-mode" not in secretary
    assert "phishing" in secretary and "phishing" in nurse
    assert "remote-work" not in nurse
