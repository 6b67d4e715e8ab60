"""The components (collector, analytics, dashboard) never import the composition root."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMPONENTS = ("collector", "analytics", "dashboard")
COMPOSITION_ROOT = "tierwatch"


def upward_imports(source: str, path: str) -> list[str]:
    """``path:line: statement`` for each import of the composition root in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        # Compared by dotted parts: tierwatch_sdk is a package of its own and may be imported.
        if any(module.split(".")[0] == COMPOSITION_ROOT for module in modules):
            found.append(f"{path}:{node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # the package itself
        ("import tierwatch\n", ["m.py:1: import tierwatch"]),
        # a module of it, among other names
        ("import os, tierwatch.app\n", ["m.py:1: import os, tierwatch.app"]),
        # from-imports, also inside a function body
        (
            "def f():\n    from tierwatch.settings import Settings\n",
            ["m.py:2: from tierwatch.settings import Settings"],
        ),
        ("from tierwatch import settings\n", ["m.py:1: from tierwatch import settings"]),
        # the instrumentation helper is another package
        ("import tierwatch_sdk\nfrom tierwatch_sdk.spans import x\n", []),
        # relative imports and names that only start with the word
        ("from . import tierwatch\nimport tierwatchers\n", []),
    ],
)
def test_upward_imports_are_found(source: str, expected: list[str]) -> None:
    assert upward_imports(source, "m.py") == expected


def test_no_component_imports_the_composition_root() -> None:
    files = sorted(path for name in COMPONENTS for path in (ROOT / name).rglob("*.py"))
    assert len(files) > 50  # the walk found the packages
    offending = [
        line
        for path in files
        for line in upward_imports(path.read_text(), str(path.relative_to(ROOT)))
    ]
    # Each line names the file and line; pytest would shorten the list itself.
    assert offending == [], "\n".join(offending)
