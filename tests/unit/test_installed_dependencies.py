"""A new user's install has everything the code imports, even imports inside functions.

Importing every module is not enough: `from datasets import Dataset` inside the fine-tuning
function only runs when someone trains. So every import statement of `indexing`, `bot` and
`workers`, at any depth, is resolved here against the installed packages.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("indexing", "bot", "workers")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name or None) of every import statement in the file."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found += [(node.lineno, base, alias.name) for alias in node.names]
    return found


SOURCES = sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py"))


def test_every_module_of_the_three_packages_is_checked():
    names = {_module_name(p) for p in SOURCES}
    assert {
        "indexing.learning.finetune",
        "bot.slack.listeners.events",
        "workers.tasks.answers",
    } <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_import_in_the_module_resolves(path: Path):
    missing = []
    for line, module, name in _imports(path):
        try:
            imported = importlib.import_module(module)
            if name and name != "*" and not hasattr(imported, name):
                importlib.import_module(f"{module}.{name}")
        except ImportError as err:
            missing.append(f"{path.relative_to(REPO)}:{line}: {module} {name or ''}: {err}")
    assert not missing, "\n".join(missing)
