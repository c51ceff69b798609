"""Build the subset of Bootstrap's stylesheet that the pages use.

Bootstrap's full stylesheet is 232 kB (31 kB compressed); on a phone at 400 kb/s, that
alone costs most of a second before the crisis console can show. The pages use a small
part of it. This keeps every rule whose selector names only classes found somewhere in
the templates, the Python code or the scripts of the package (plus the families that
templates build from variables, such as ``alert-{{ level }}``), and every rule without a
class (elements, ``:root`` variables, ``@keyframes``).

    .venv/bin/python scripts/build_css.py          # writes the subset
    .venv/bin/python scripts/build_css.py --check  # exit 1 if the subset is stale

``tests/core/test_css_subset.py`` fails when a page starts using a Bootstrap class that
the committed subset lacks: run this script and commit the result.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tinycss2

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "planblanc"
FULL = PACKAGE / "static" / "vendor" / "bootstrap" / "bootstrap.min.css"
SUBSET = PACKAGE / "static" / "vendor" / "bootstrap" / "bootstrap.subset.min.css"
# Class families that templates build from a variable (alert-{{ level }}, btn-{{ kind }},
# text-bg-… from a state): kept whole.
FAMILIES = ("alert-", "btn-", "text-bg-", "bg-", "text-", "badge")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_CLASS = re.compile(r"\.((?:[A-Za-z0-9_-]|\\.)+)")
_PARENS = re.compile(r"\([^()]*\)")


def used_words() -> set[str]:
    """Every word of the package's templates, Python code and own scripts."""
    words: set[str] = set()
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix not in {".html", ".py", ".js", ".txt"} or "vendor" in path.parts or "migrations" in path.parts:
            continue
        words.update(_WORD.findall(path.read_text(encoding="utf-8", errors="replace")))
    return words


def _kept(selector: str, words: set[str]) -> bool:
    # Classes inside :not(…), :is(…), :has(…) do not decide whether the rule can match.
    outer = selector
    while _PARENS.search(outer):
        outer = _PARENS.sub("", outer)
    for name in _CLASS.findall(outer):
        name = name.replace("\\", "")
        if name not in words and not name.startswith(FAMILIES):
            return False
    return True


def _split_selectors(prelude: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in prelude:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def _rules(nodes: list, words: set[str]) -> str:
    out: list[str] = []
    for node in nodes:
        if node.type == "qualified-rule":
            selectors = [s for s in _split_selectors(tinycss2.serialize(node.prelude)) if _kept(s, words)]
            if selectors:
                out.append(",".join(selectors) + "{" + tinycss2.serialize(node.content).strip() + "}")
        elif node.type == "at-rule":
            head = "@" + node.at_keyword + tinycss2.serialize(node.prelude)
            if node.content is None:
                out.append(head.strip() + ";")
            elif node.lower_at_keyword in {"media", "supports", "layer", "container"}:
                inner = _rules(tinycss2.parse_rule_list(node.content, skip_comments=True, skip_whitespace=True), words)
                if inner:
                    out.append(head.strip() + "{" + inner + "}")
            else:  # @keyframes, @font-face, @page…: kept as they are
                out.append(head.strip() + "{" + tinycss2.serialize(node.content).strip() + "}")
    return "".join(out)


def build() -> str:
    source = FULL.read_text(encoding="utf-8")
    banner = source[: source.index("*/") + 2] if source.startswith("/*") else ""
    nodes = tinycss2.parse_stylesheet(source, skip_comments=True, skip_whitespace=True)
    note = "/* Subset of the stylesheet above for Plan Blanc Numérique's pages: scripts/build_css.py */"
    return banner + "\n" + note + "\n" + _rules(nodes, used_words()) + "\n"


def main() -> int:
    text = build()
    if "--check" in sys.argv[1:]:
        if not SUBSET.exists() or SUBSET.read_text(encoding="utf-8") != text:
            print(f"{SUBSET.relative_to(ROOT)} is stale: run .venv/bin/python scripts/build_css.py", file=sys.stderr)
            return 1
        return 0
    SUBSET.write_text(text, encoding="utf-8")
    print(f"{SUBSET.relative_to(ROOT)}: {len(text.encode()):,} bytes (full stylesheet {FULL.stat().st_size:,})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
