"""The benchmarks are not run by the suite: this keeps their imports of test helpers, of
the package and of bench/common.py true when those move, and holds common.py's
percentile to the rule its docstring gives."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import math
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _scripts() -> list[Path]:
    return sorted(BENCH.glob("*.py"))


def _imports(roots: set[str]) -> list[tuple[str, str, str]]:
    found = []
    for path in _scripts():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in roots:
                found.extend((path.name, node.module, alias.name) for alias in node.names)
    return found


def _common() -> ModuleType:
    """bench/common.py, loaded from its file as the benches find it (bench/ on sys.path
    when a script runs), without putting bench/ on the suite's path."""
    spec = importlib.util.spec_from_file_location("bench_common", BENCH / "common.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_benchmark_import_exists() -> None:
    imports = _imports({"tests", "planblanc"})
    assert len(imports) > 10
    assert "common.py" in {script for script, _module, _name in imports}
    missing = []
    for script, module, name in imports:
        try:
            imported = importlib.import_module(module)
            if not hasattr(imported, name):
                importlib.import_module(f"{module}.{name}")  # a submodule
        except ImportError as error:
            missing.append(f"{script}: from {module} import {name} ({error})")
    assert missing == []


def test_it_finds_every_name_the_benchmarks_take_from_common() -> None:
    common = _common()
    imports = _imports({"common"})
    assert len({script for script, _module, _name in imports}) > 10
    assert [f"{script}: {name}" for script, _module, name in imports if not hasattr(common, name)] == []


def test_it_keeps_each_shared_helper_in_common_only() -> None:
    shared = {name for name in vars(_common()) if not name.startswith("_")}
    copies = []
    for path in _scripts():
        if path.name == "common.py":
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in shared:
                copies.append(f"{path.name}: {node.name}")
    assert copies == []


def test_it_takes_percentiles_by_nearest_rank() -> None:
    percentile = _common().percentile
    thousand = [float(n) for n in range(1000, 0, -1)]  # unsorted on purpose
    assert percentile(thousand, 99) == 990
    assert percentile(thousand, 99.9) == 999  # 99.9 × 1000 / 100 taken exactly, not 999.0000001
    assert percentile(thousand, 50) == 500
    assert percentile(thousand, 0) == 1
    assert percentile(thousand, 100) == 1000
    assert percentile(range(1, 26), 95) == 24  # ⌈23.75⌉: a measured value, not one drawn between two
    assert percentile(range(1, 41), 99) == 40  # fewer than 100 values: p99 is the maximum
    assert percentile([0.2, 0.1], 50) == 0.1
    assert math.isnan(percentile([], 99))
