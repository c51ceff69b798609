"""Configuration: every environment variable is read in settings.py, and the README's
table lists exactly those, each with a default and a meaning."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import planblanc

ROOT = Path(planblanc.__file__).parent
README = ROOT.parent.parent / "README.md"

# Reading the environment outside settings.py, for what is not configuration: the
# settings module's name at start-up, the environment handed to the demo's child
# processes, and the variable a `grant` operator names for a password.
NOT_CONFIGURATION = {"cli.py", "wsgi.py", "core/management/commands/demo.py", "accounts/management/commands/grant.py"}
# Still read outside settings, to move there: the backup command's key and passphrase
# variables (it also hands the environment to pg_dump).
TO_MOVE = {"core/backup.py"}


def _settings_variables() -> set[str]:
    source = (ROOT / "settings.py").read_text(encoding="utf-8")
    return set(re.findall(r"\benv_(?:str|bool|int|json|list)\(\s*\"([A-Z][A-Z0-9_]*)\"", source))


def _readme_variables() -> dict[str, tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \| ([^|]*) \| ([^|]*) \|$", section, flags=re.M)
    return {name: (default.strip(), meaning.strip()) for name, default, meaning in rows}


def test_it_lists_every_variable_the_settings_read_and_no_other() -> None:
    listed = _readme_variables()
    assert set(listed) == _settings_variables()
    assert all(default and meaning for default, meaning in listed.values())


def test_it_reads_the_environment_only_in_the_settings() -> None:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative == "settings.py" or relative in NOT_CONFIGURATION | TO_MOVE or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") and (
                isinstance(node.value, ast.Name) and node.value.id == "os"
            ):
                found.append(f"{relative}:{node.lineno}")
    assert found == []
