"""The benchmarks are not run by the suite: this keeps their imports of test helpers and
of the package true when those move."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _imports() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(BENCH.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in {"tests", "planblanc"}:
                found.extend((path.name, node.module, alias.name) for alias in node.names)
    return found


def test_every_benchmark_import_exists() -> None:
    imports = _imports()
    assert len(imports) > 10
    missing = []
    for script, module, name in imports:
        try:
            imported = importlib.import_module(module)
            if not hasattr(imported, name):
                importlib.import_module(f"{module}.{name}")  # a submodule
        except ImportError as error:
            missing.append(f"{script}: from {module} import {name} ({error})")
    assert missing == []
