"""Every ``make`` target that README.md and CONTRIBUTING.md tell readers to run exists."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "CONTRIBUTING.md")
#: Fenced code blocks and inline code spans: commands are written in one or the other.
CODE = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
MAKE = re.compile(r"(?:^|[\s;&|(])make ([\w./-]+)", re.MULTILINE)


def _named_targets() -> dict[str, set[str]]:
    """The targets each document names after ``make`` in its code."""
    named: dict[str, set[str]] = {}
    for doc in DOCS:
        for code in CODE.findall((ROOT / doc).read_text()):
            for target in MAKE.findall(code):
                named.setdefault(target, set()).add(doc)
    return named


def test_every_make_target_in_the_docs_exists() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    named = _named_targets()
    # the README's two commands are found, so the search itself works
    assert {"run", "test"} <= named.keys()
    # `make -q` runs nothing; it exits with 2 only when there is no rule for the target
    missing = {
        target: sorted(docs)
        for target, docs in sorted(named.items())
        if subprocess.run(
            [make, "-q", "-C", str(ROOT), target], capture_output=True, check=False
        ).returncode
        == 2
    }
    assert not missing, f"targets named in the docs but missing from the Makefile: {missing}"
