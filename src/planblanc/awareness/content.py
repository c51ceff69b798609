"""Training modules as data: one YAML file per module in awareness/data/modules/.

Every text is given in French first and English second (`{fr: …, en: …}`). A module is a
short lesson (5 to 10 minutes, a few sections readable on a phone) and a question bank;
each quiz draws `quiz_size` questions from the bank, and every answer carries its
explanation, shown after the answer is given. A module file is validated when loaded:
unknown keys are refused (a typo is not silently ignored) and a broken file raises
`ModuleFileError` naming the file and the field.

    format: 1
    slug: ransom-note                 # identifier, lower case and dashes
    order: 10                         # place in the catalogue
    minutes: 7                        # reading time, 5 to 10
    audiences: [all]                  # audiences.Audience values
    quiz_size: 4                      # questions per quiz, at most the bank's size
    pass_percent: 75                  # score needed to pass
    title: {fr: …, en: …}
    summary: {fr: …, en: …}
    sections:
      - heading: {fr: …, en: …}
        body: {fr: …, en: …}          # plain text, paragraphs separated by a blank line
    questions:
      - id: q1                        # unique in the module
        text: {fr: …, en: …}
        answers:                      # 2 to 5 answers, at least one right
          - text: {fr: …, en: …}
            correct: true
            explanation: {fr: …, en: …}
"""

from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import yaml
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from planblanc.awareness.audiences import Audience

FORMAT_VERSION = 1
BUNDLED_DIR = Path(__file__).resolve().parent / "data" / "modules"
MAX_FILE_BYTES = 200_000

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=6000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Translated(Strict):
    fr: Text
    en: Text

    def get(self, language: str | None = None) -> str:
        language = (language or get_language() or "fr")[:2]
        return self.en if language == "en" else self.fr


class SectionSpec(Strict):
    heading: Translated
    body: Translated


class AnswerSpec(Strict):
    text: Translated
    correct: bool = False
    explanation: Translated


class QuestionSpec(Strict):
    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,29}$")]
    text: Translated
    answers: Annotated[list[AnswerSpec], Field(min_length=2, max_length=5)]

    @model_validator(mode="after")
    def one_right_answer(self) -> QuestionSpec:
        if not any(answer.correct for answer in self.answers):
            raise ValueError("no answer is marked correct")
        return self


class ModuleSpec(Strict):
    format: Annotated[int, Field(ge=FORMAT_VERSION, le=FORMAT_VERSION)]
    slug: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,49}$")]
    order: int
    minutes: Annotated[int, Field(ge=5, le=10)]
    audiences: Annotated[list[Audience], Field(min_length=1)]
    quiz_size: Annotated[int, Field(ge=2, le=10)]
    pass_percent: Annotated[int, Field(ge=50, le=100)]
    title: Translated
    summary: Translated
    sections: Annotated[list[SectionSpec], Field(min_length=2, max_length=8)]
    questions: Annotated[list[QuestionSpec], Field(min_length=2, max_length=40)]

    @model_validator(mode="after")
    def bank_is_consistent(self) -> ModuleSpec:
        ids = [question.id for question in self.questions]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"questions: duplicate id {', '.join(duplicates)}")
        if self.quiz_size > len(self.questions):
            raise ValueError(f"quiz_size: {self.quiz_size} is more than the {len(self.questions)} questions of the bank")
        return self

    def question(self, question_id: str) -> QuestionSpec | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def draw(self, *, seed: str) -> list[QuestionSpec]:
        """`quiz_size` questions from the bank, in an order fixed by `seed` (one attempt)."""
        return random.Random(seed).sample(self.questions, self.quiz_size)

    def score(self, answers: dict[str, set[int]]) -> tuple[int, bool]:
        """Percentage of questions answered exactly right (every right answer, no wrong one)."""
        if not answers:
            return 0, False
        right = 0
        for question_id, chosen in answers.items():
            question = self.question(question_id)
            if question is None:
                continue
            expected = {i for i, answer in enumerate(question.answers) if answer.correct}
            right += chosen == expected
        percent = round(100 * right / len(answers))
        return percent, percent >= self.pass_percent


class ModuleFileError(ValueError):
    """A module file that cannot be used: every problem, each naming the file and the field."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(f"{path.name}: {problem}" for problem in problems))


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


def module_load(path: Path) -> ModuleSpec:
    """Read and validate one module file (bounded in size); raise ModuleFileError."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ModuleFileError(path, [_("the file is larger than %(size)s bytes") % {"size": MAX_FILE_BYTES}])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ModuleFileError(path, [_("not valid YAML: %(error)s") % {"error": exc}]) from exc
    if not isinstance(data, dict):
        raise ModuleFileError(path, [_("the file must hold one module (a mapping)")])
    try:
        module = ModuleSpec.model_validate(data)
    except ValidationError as exc:
        raise ModuleFileError(
            path, [f"{_location(error['loc'])}: {error['msg']}" for error in exc.errors()]
        ) from exc
    if module.slug != path.stem:
        raise ModuleFileError(path, [_("slug: %(slug)s differs from the file name") % {"slug": module.slug}])
    return module


def modules_load(directory: Path = BUNDLED_DIR) -> list[ModuleSpec]:
    """Every module file of a directory, in catalogue order; one broken file refuses all."""
    modules = [module_load(path) for path in sorted(directory.glob("*.yaml"))]
    return sorted(modules, key=lambda module: (module.order, module.slug))


@lru_cache(maxsize=1)
def catalogue() -> tuple[ModuleSpec, ...]:
    """The bundled modules, loaded once per process."""
    return tuple(modules_load())


def module_get(slug: str) -> ModuleSpec | None:
    return next((module for module in catalogue() if module.slug == slug), None)
