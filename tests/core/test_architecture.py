"""The code's edges: no private name crosses a module, and an app is reached from other
apps only through the modules its `__init__` names. (Layers and the absence of import
cycles are import-linter's contracts, run by CI: pyproject.toml [tool.importlinter].)"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import planblanc

ROOT = Path(planblanc.__file__).parent
APPS = sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").exists() and not p.name.startswith("_"))


def _modules() -> Iterator[tuple[str, Path, ast.Module]]:
    for path in sorted(ROOT.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path, ast.parse(path.read_text(encoding="utf-8"))


def _imports(tree: ast.Module) -> Iterator[tuple[str, str]]:
    """(module, name) for `from module import name`; (module, "") for `import module`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield node.module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ""


def _app(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_it_imports_no_private_name_across_modules() -> None:
    found = [
        f"{me} imports {module}.{name}"
        for me, _path, tree in _modules()
        for module, name in _imports(tree)
        if module.startswith("planblanc") and module != me
        and name.startswith("_") and not name.startswith("__")
    ]
    assert found == []


def test_it_reaches_other_apps_only_through_their_public_modules() -> None:
    public = {app: set(getattr(importlib.import_module(f"planblanc.{app}"), "__all__", ())) for app in APPS}
    found = []
    for me, _path, tree in _modules():
        for module, name in _imports(tree):
            parts = module.split(".")
            if parts[0] != "planblanc" or len(parts) < 2 or parts[1] not in public or parts[1] == _app(me):
                continue
            # `from planblanc.app import module` or `from planblanc.app.module import name`.
            target = parts[2] if len(parts) > 2 else name
            if target not in public[parts[1]]:
                found.append(f"{me} imports planblanc.{parts[1]}.{target}")
    assert found == []


def test_it_names_the_public_surface_of_every_app() -> None:
    for app in APPS:
        package = importlib.import_module(f"planblanc.{app}")
        assert package.__doc__ and getattr(package, "__all__", None), app
        for module in package.__all__:
            assert (ROOT / app / f"{module}.py").exists() or (ROOT / app / module / "__init__.py").exists(), (
                app, module)
