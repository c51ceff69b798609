"""Referential files: our YAML format, read into a `ReferentialSpec`, then written.

The contract for a referential format (ours here, CISO Assistant's in ciso_assistant.py,
any other one later): a module that turns a file into a `ReferentialSpec`, reporting
every problem of the file at once (`ReferentialFileError` with one message per
problem, naming the file and the entry), and never touching the database. Writing is
`services.referential_save_specs`, in one transaction: a set of files loads entirely or
not at all. Load with `planblanc referentials_load [paths…]` (no path: the bundled
files in readiness/data/referentials/).

Our format, version 1 (`format: 1`), in YAML (see data/referentials/README.md for an
annotated example):

    format: 1
    slug: hygiene-anssi              # identifier; with `version`, the upsert key
    version: "2017"                  # text: "2017", "1.2" …
    name: …
    description: …                   # optional
    source: …                        # where the measures come from (publisher, URL)
    applies_to: all                  # all | essential_operators | categories
    categories: [chu, ch]            # with applies_to: categories (directory categories)
    levels:                          # optional: the levels a measure may carry
      - {code: standard, label: Standard}
      - {code: reinforced, label: Renforcé}
    scale:                           # the answer scale, values between 0 and 1
      - {code: non_fait, label: Non fait, value: 0}
      - {code: partiel, label: Partiellement fait, value: 0.5}
      - {code: fait, label: Fait, value: 1}
    themes:
      - code: I
        title: Sensibiliser et former
        measures:
          - id: "1"                  # unique in the referential (the measure number)
            title: …
            description: …           # optional
            level: standard          # optional; one of `levels`
            weight: 1                # optional, > 0, default 1
            related: ["2"]           # optional: ids of other measures of this file

Unknown keys are refused, so a typo ("mesures:") is not silently ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from planblanc.directory.models import EstablishmentCategory
from planblanc.readiness.models import AppliesTo

FORMAT_VERSION = 1
BUNDLED_DIR = Path(__file__).resolve().parent / "data" / "referentials"
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")

TOP_KEYS = {"format", "slug", "version", "name", "description", "source", "applies_to", "categories",
            "levels", "scale", "themes"}
THEME_KEYS = {"code", "title", "measures"}
MEASURE_KEYS = {"id", "title", "description", "level", "weight", "related"}


@dataclass
class LevelSpec:
    code: str
    label: str


@dataclass
class ScaleLevelSpec:
    code: str
    label: str
    value: Decimal


@dataclass
class MeasureSpec:
    ref_id: str
    title: str
    description: str = ""
    levels: list[str] = field(default_factory=list)
    weight: Decimal = Decimal(1)
    urn: str = ""


@dataclass
class ThemeSpec:
    code: str
    title: str
    measures: list[MeasureSpec] = field(default_factory=list)


@dataclass
class ReferentialSpec:
    slug: str
    version: str
    name: str
    origin: str = "planblanc"  # ReferentialOrigin
    description: str = ""
    source: str = ""
    urn: str = ""
    applies_to: str = "all"  # AppliesTo
    categories: list[str] = field(default_factory=list)
    levels: list[LevelSpec] = field(default_factory=list)
    scale: list[ScaleLevelSpec] = field(default_factory=list)
    themes: list[ThemeSpec] = field(default_factory=list)
    file: str = ""

    @property
    def measure_count(self) -> int:
        return sum(len(theme.measures) for theme in self.themes)


class ReferentialFileError(ValidationError):
    """Everything wrong with one or several files, one message per problem."""


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    return str(value).strip()


class _Problems:
    def __init__(self, file: str) -> None:
        self.file = file
        self.messages: list[str] = []

    def add(self, entry: str, message: str) -> None:
        self.messages.append(
            _("%(file)s, %(entry)s: %(message)s") % {"file": self.file, "entry": entry, "message": message}
        )


# A referential library is a few hundred KB; CISO Assistant's largest is under 5 MB.
MAX_LIBRARY_BYTES = 20 * 1024 * 1024
# Aliases let a small YAML file describe an exponentially large tree ("billion laughs"):
# libraries use none, a few are tolerated.
MAX_YAML_ALIASES = 100


class _BoundedLoader(yaml.SafeLoader):
    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_YAML_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_YAML_ALIASES} aliases")
        return super().compose_node(parent, index)


def read_yaml(path: Path) -> Any:
    try:
        if path.stat().st_size > MAX_LIBRARY_BYTES:
            raise ReferentialFileError(
                _("%(file)s: larger than %(size)d MB, refused.") % {"file": path, "size": MAX_LIBRARY_BYTES // 2**20}
            )
        with path.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader, bounded
    except UnicodeDecodeError as exc:
        raise ReferentialFileError(_("%(file)s: not valid YAML (%(error)s).") % {"file": path, "error": exc}) from exc
    except OSError as exc:
        raise ReferentialFileError(
            _("%(file)s: cannot be read (%(error)s).") % {"file": path, "error": exc.strerror or exc}
        ) from exc
    except yaml.YAMLError as exc:
        raise ReferentialFileError(
            _("%(file)s: not valid YAML (%(error)s).") % {"file": path, "error": exc}
        ) from exc


def _unknown_keys(problems: _Problems, entry: str, item: dict, allowed: set[str]) -> None:
    for key in sorted(set(item) - allowed, key=str):
        problems.add(entry, _("unknown key “%(key)s”.") % {"key": key})


def cell_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def parse_referential(data: Any, *, file: str) -> ReferentialSpec:
    """Check a file in our format entirely and return its spec, or raise with every problem."""
    problems = _Problems(file)
    if not isinstance(data, dict):
        problems.add(_("top"), _("the file must be a mapping (key: value)."))
        raise ReferentialFileError(problems.messages)
    _unknown_keys(problems, _("top"), data, TOP_KEYS)
    if data.get("format") != FORMAT_VERSION:
        problems.add("format", _("expected “format: %(version)d”.") % {"version": FORMAT_VERSION})
    slug = cell_text(data.get("slug"))
    if not SLUG_RE.match(slug):
        problems.add("slug", _("an identifier of lower-case letters, digits and hyphens is required."))
    version = cell_text(data.get("version"))
    if not version or len(version) > 40:
        problems.add("version", _("a version of at most 40 characters is required."))
    name = cell_text(data.get("name"))
    if not name:
        problems.add("name", _("a name is required."))
    applies_to: str = cell_text(data.get("applies_to")) or "all"
    if applies_to not in AppliesTo.values:
        problems.add("applies_to", _("“%(value)s” is not one of %(choices)s.") % {
            "value": applies_to, "choices": ", ".join(AppliesTo.values)})
    categories = data.get("categories") or []
    if not isinstance(categories, list):
        problems.add("categories", _("a list is expected."))
        categories = []
    categories = [cell_text(c) for c in categories]
    for category in categories:
        if category not in EstablishmentCategory.values:
            problems.add("categories", _("unknown establishment category “%(value)s”.") % {"value": category})
    if applies_to == AppliesTo.CATEGORIES and not categories:
        problems.add("categories", _("applies_to: categories needs at least one category."))

    levels: list[LevelSpec] = []
    raw_levels = data.get("levels") or []
    if not isinstance(raw_levels, list):
        problems.add("levels", _("a list is expected."))
        raw_levels = []
    for index, item in enumerate(raw_levels, start=1):
        entry = _("level %(n)d") % {"n": index}
        if not isinstance(item, dict) or not cell_text(item.get("code")):
            problems.add(entry, _("a code is required."))
            continue
        code = cell_text(item["code"])
        if any(level.code == code for level in levels):
            problems.add(entry, _("level “%(code)s” appears twice.") % {"code": code})
        levels.append(LevelSpec(code=code, label=cell_text(item.get("label")) or code))
    level_codes = {level.code for level in levels}

    scale: list[ScaleLevelSpec] = []
    raw_scale = data.get("scale")
    if not isinstance(raw_scale, list) or not raw_scale:
        problems.add("scale", _("an answer scale (a list of levels with a value) is required."))
        raw_scale = []
    for index, item in enumerate(raw_scale, start=1):
        entry = _("scale level %(n)d") % {"n": index}
        if not isinstance(item, dict):
            problems.add(entry, _("a mapping with code, label and value is expected."))
            continue
        code = cell_text(item.get("code"))
        value = cell_decimal(item.get("value"))
        if not code:
            problems.add(entry, _("a code is required."))
        elif any(s.code == code for s in scale):
            problems.add(entry, _("answer level “%(code)s” appears twice.") % {"code": code})
        if value is None or not (0 <= value <= 1):
            problems.add(entry, _("the value must be a number between 0 and 1."))
            value = Decimal(0)
        scale.append(ScaleLevelSpec(code=code, label=cell_text(item.get("label")) or code, value=value))

    themes: list[ThemeSpec] = []
    raw_themes = data.get("themes")
    if not isinstance(raw_themes, list) or not raw_themes:
        problems.add("themes", _("at least one theme is required."))
        raw_themes = []
    seen_ids: set[str] = set()
    related: list[tuple[str, str]] = []
    for t_index, raw_theme in enumerate(raw_themes, start=1):
        t_entry = _("theme %(n)d") % {"n": t_index}
        if not isinstance(raw_theme, dict):
            problems.add(t_entry, _("a mapping is expected."))
            continue
        _unknown_keys(problems, t_entry, raw_theme, THEME_KEYS)
        code = cell_text(raw_theme.get("code"))
        if code:
            t_entry = _("theme “%(code)s”") % {"code": code}
        else:
            problems.add(t_entry, _("a code is required."))
        if any(theme.code == code for theme in themes):
            problems.add(t_entry, _("theme code “%(code)s” appears twice.") % {"code": code})
        if not cell_text(raw_theme.get("title")):
            problems.add(t_entry, _("a title is required."))
        theme = ThemeSpec(code=code, title=cell_text(raw_theme.get("title")))
        raw_measures = raw_theme.get("measures")
        if not isinstance(raw_measures, list) or not raw_measures:
            problems.add(t_entry, _("at least one measure is required."))
            raw_measures = []
        for m_index, raw in enumerate(raw_measures, start=1):
            m_entry = _("%(theme)s, measure %(n)d") % {"theme": t_entry, "n": m_index}
            if not isinstance(raw, dict):
                problems.add(m_entry, _("a mapping is expected."))
                continue
            ref_id = cell_text(raw.get("id"))
            if ref_id:
                m_entry = _("measure “%(id)s”") % {"id": ref_id}
            else:
                problems.add(m_entry, _("an id is required."))
            _unknown_keys(problems, m_entry, raw, MEASURE_KEYS)
            if ref_id and ref_id in seen_ids:
                problems.add(m_entry, _("duplicate measure id “%(id)s”.") % {"id": ref_id})
            seen_ids.add(ref_id)
            title = cell_text(raw.get("title"))
            if not title:
                problems.add(m_entry, _("a title is required."))
            elif len(title) > 500:
                problems.add(m_entry, _("the title is longer than 500 characters."))
            level = cell_text(raw.get("level"))
            if level and level not in level_codes:
                problems.add(m_entry, _("unknown level “%(level)s” (known: %(known)s).") % {
                    "level": level, "known": ", ".join(sorted(level_codes)) or "—"})
            weight = cell_decimal(raw.get("weight", 1))
            if weight is None or weight <= 0 or weight >= 10000:
                problems.add(m_entry, _("the weight must be a positive number."))
                weight = Decimal(1)
            refs = raw.get("related") or []
            if not isinstance(refs, list):
                problems.add(m_entry, _("“related” must be a list of measure ids."))
                refs = []
            related.extend((m_entry, cell_text(ref)) for ref in refs)
            theme.measures.append(MeasureSpec(
                ref_id=ref_id, title=title, description=cell_text(raw.get("description")),
                levels=[level] if level else [], weight=weight,
            ))
        themes.append(theme)
    for m_entry, ref in related:
        if ref not in seen_ids:
            problems.add(m_entry, _("broken reference: no measure “%(id)s” in this file.") % {"id": ref})

    if problems.messages:
        raise ReferentialFileError(problems.messages)
    return ReferentialSpec(
        slug=slug, version=version, name=name, description=cell_text(data.get("description")),
        source=cell_text(data.get("source")), applies_to=applies_to, categories=categories,
        levels=levels, scale=scale, themes=themes, file=file,
    )


def is_ciso_assistant_library(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("objects"), dict) and "framework" in data["objects"]


def bundled_paths() -> list[Path]:
    return sorted(BUNDLED_DIR.glob("*.yaml"))
