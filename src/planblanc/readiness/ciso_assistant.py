"""Import of a framework from a CISO Assistant library file (intuitem's YAML format).

What we read from such a file (everything else is ignored):

    urn, ref_id, name, description, version, provider, packager, copyright
    objects:
      framework:
        urn, ref_id, name, description
        min_score, max_score              # optional, e.g. 0 and 100
        scores_definition:                # optional: [{score, name, description}]
        implementation_groups_definition: # optional: [{ref_id, name, description}]
        requirement_nodes:                # in order, a tree through parent_urn
          - urn, ref_id, name, description, parent_urn, depth,
            assessable,                   # only assessable nodes become measures
            implementation_groups         # ref_ids from the definition

Mapping to our model (same contract as loader.py: a `ReferentialSpec`, nothing written):

* slug "ca-" + the last part of the library's URN (else the framework's); version = the library's version;
* themes = the top-level nodes (no parent); a measure belongs to the theme of its
  top-most ancestor; a top-level assessable node is its own theme;
* a measure's id is the node's ref_id, or the last part of its URN when it has none;
  its levels are its implementation groups;
* the answer scale: with `scores_definition`, one level per score, worth
  (score − min_score) / (max_score − min_score); without, CISO Assistant's own
  compliance results: non conforme 0, partiellement conforme 0.5, conforme 1.

Unknown references — a parent_urn that is not in the file, an implementation group
that is not defined, a measure id met twice — are *reported* as warnings and the file
is imported anyway (the node goes under a theme "Autres", the group is dropped, the
second id gets a suffix). Only a file without `objects.framework.requirement_nodes`
is refused.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.text import slugify
from django.utils.translation import gettext as _

from planblanc.readiness.loader import (
    LevelSpec,
    MeasureSpec,
    ReferentialFileError,
    ReferentialSpec,
    ScaleLevelSpec,
    ThemeSpec,
    cell_decimal,
    cell_text,
)

DEFAULT_SCALE = [
    ScaleLevelSpec(code="non_compliant", label="Non conforme", value=Decimal(0)),
    ScaleLevelSpec(code="partially_compliant", label="Partiellement conforme", value=Decimal("0.5")),
    ScaleLevelSpec(code="compliant", label="Conforme", value=Decimal(1)),
]
ORPHANS_THEME = "_autres"


def _tail(urn: str) -> str:
    return urn.rsplit(":", 1)[-1] if urn else ""


def _scale(framework: dict, file: str, warnings: list[str]) -> list[ScaleLevelSpec]:
    definitions = framework.get("scores_definition")
    if not isinstance(definitions, list) or not definitions:
        return list(DEFAULT_SCALE)
    scores = [cell_decimal(item.get("score")) for item in definitions if isinstance(item, dict)]
    known = [s for s in scores if s is not None]
    low = cell_decimal(framework.get("min_score"))
    high = cell_decimal(framework.get("max_score"))
    low = min(known) if low is None and known else low
    high = max(known) if high is None and known else high
    if low is None or high is None or high <= low:
        warnings.append(_("%(file)s: unusable min_score/max_score; the compliance scale is used instead.")
                        % {"file": file})
        return list(DEFAULT_SCALE)
    scale: list[ScaleLevelSpec] = []
    for item in definitions:
        score = cell_decimal(item.get("score")) if isinstance(item, dict) else None
        if score is None or not (low <= score <= high):
            warnings.append(_("%(file)s: score %(score)s outside %(low)s–%(high)s ignored.")
                            % {"file": file, "score": item, "low": low, "high": high})
            continue
        code = f"score_{score.normalize()}"
        if any(s.code == code for s in scale):
            continue
        label = cell_text(item.get("name")) or str(score)
        scale.append(ScaleLevelSpec(code=code, label=label[:200], value=((score - low) / (high - low)).quantize(Decimal("0.0001"))))
    return scale or list(DEFAULT_SCALE)


def parse_library(data: Any, *, file: str, applies_to: str = "all") -> tuple[ReferentialSpec, list[str]]:
    """A CISO Assistant library → (spec, warnings). Raises only when there is no framework."""
    framework = (data.get("objects") or {}).get("framework") if isinstance(data, dict) else None
    nodes = framework.get("requirement_nodes") if isinstance(framework, dict) else None
    if not isinstance(framework, dict) or not isinstance(nodes, list):
        raise ReferentialFileError(
            _("%(file)s: not a CISO Assistant library (objects.framework.requirement_nodes is missing).")
            % {"file": file}
        )
    warnings: list[str] = []
    urn = cell_text(framework.get("urn")) or cell_text(data.get("urn"))
    # The library's URN names the file ("…:library:anssi-guide-hygiene"); the framework's
    # may be terse ("…:framework:ans-care:d2").
    slug_source = _tail(cell_text(data.get("urn"))) or _tail(urn) or cell_text(framework.get("ref_id")) or "framework"
    slug = ("ca-" + slugify(slug_source))[:100]
    groups: list[LevelSpec] = []
    for item in framework.get("implementation_groups_definition") or []:
        if isinstance(item, dict) and cell_text(item.get("ref_id")):
            groups.append(LevelSpec(code=cell_text(item["ref_id"]), label=cell_text(item.get("name")) or cell_text(item["ref_id"])))
    group_codes = {g.code for g in groups}

    by_urn: dict[str, dict] = {}
    for node in nodes:
        if isinstance(node, dict) and cell_text(node.get("urn")):
            by_urn[cell_text(node["urn"])] = node

    def top_of(node: dict, entry: str) -> str | None:
        """URN of the top-most ancestor, or None when the chain is broken."""
        current = node
        seen: set[str] = set()
        while True:
            parent = cell_text(current.get("parent_urn"))
            if not parent:
                return cell_text(current.get("urn"))
            if parent not in by_urn or parent in seen:
                warnings.append(_("%(file)s, %(entry)s: unknown parent “%(urn)s”; put under “Autres”.")
                                % {"file": file, "entry": entry, "urn": parent})
                return None
            seen.add(parent)
            current = by_urn[parent]

    themes: dict[str, ThemeSpec] = {}
    seen_ids: set[str] = set()
    for index, node in enumerate(nodes, start=1):
        if not isinstance(node, dict):
            warnings.append(_("%(file)s, node %(n)d: not a mapping; ignored.") % {"file": file, "n": index})
            continue
        node_urn = cell_text(node.get("urn"))
        ref_id = cell_text(node.get("ref_id")) or _tail(node_urn) or str(index)
        entry = _("node “%(id)s”") % {"id": ref_id}
        name = cell_text(node.get("name"))
        description = cell_text(node.get("description"))
        if not cell_text(node.get("parent_urn")) and node_urn:
            themes.setdefault(node_urn, ThemeSpec(code=ref_id[:100], title=(name or description or ref_id)[:500]))
        if not node.get("assessable"):
            continue
        top = top_of(node, entry)
        if top is None:
            theme = themes.setdefault(ORPHANS_THEME, ThemeSpec(code=ORPHANS_THEME, title="Autres"))
        else:
            theme = themes[top]
        if ref_id in seen_ids:
            new_id = f"{ref_id}~{index}"
            warnings.append(_("%(file)s, %(entry)s: id met twice; imported as “%(new)s”.")
                            % {"file": file, "entry": entry, "new": new_id})
            ref_id = new_id
        seen_ids.add(ref_id)
        levels = []
        for group in node.get("implementation_groups") or []:
            code = cell_text(group)
            if code in group_codes:
                levels.append(code)
            else:
                warnings.append(_("%(file)s, %(entry)s: unknown implementation group “%(group)s”; ignored.")
                                % {"file": file, "entry": entry, "group": code})
        title = name or (description[:200] + ("…" if len(description) > 200 else "")) or ref_id
        theme.measures.append(MeasureSpec(
            ref_id=ref_id[:100], title=title[:500], description=description if description != title else "",
            levels=levels, urn=node_urn[:300],
        ))
    # Theme codes must be unique too; a top-level node without ref_id uses its URN tail.
    used: set[str] = set()
    kept: list[ThemeSpec] = []
    for theme in themes.values():
        if not theme.measures:
            continue
        while theme.code in used:
            theme.code = f"{theme.code}~"
        used.add(theme.code)
        kept.append(theme)
    if not kept:
        warnings.append(_("%(file)s: no assessable requirement found.") % {"file": file})
    provider = cell_text(data.get("provider"))
    packager = cell_text(data.get("packager"))
    source = " · ".join(p for p in (provider, packager and f"CISO Assistant ({packager})", cell_text(data.get("copyright"))) if p)
    spec = ReferentialSpec(
        slug=slug, version=cell_text(data.get("version")) or "1", name=(cell_text(framework.get("name")) or slug)[:300],
        origin="ciso_assistant", description=cell_text(framework.get("description")),
        source=source[:500], urn=urn[:300], applies_to=applies_to, levels=groups,
        scale=_scale(framework, file, warnings), themes=kept, file=file,
    )
    return spec, warnings
