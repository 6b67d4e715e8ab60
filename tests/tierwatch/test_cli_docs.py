"""docs/cli.md names every command and global option of the ``tierwatch`` CLI."""

from __future__ import annotations

import re
from pathlib import Path

import click

from tierwatch.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _commands(group: click.Group, prefix: str = "tierwatch") -> list[str]:
    names = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            names += _commands(command, f"{prefix} {name}")
        else:
            names.append(f"{prefix} {name}")
    return names


def test_every_command_and_global_option_is_documented() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    documented = set()
    # `tierwatch group a\|b ...` documents tierwatch group a and tierwatch group b
    for span in re.findall(r"`(tierwatch [^`]+)`", text):
        words = span.split()
        for i in range(1, len(words)):
            for alternative in words[i].split("\\|"):
                documented.add(" ".join([*words[:i], alternative]))
    missing = [c for c in _commands(main) if c not in documented]
    assert missing == []
    for option in ("--config FILE", "--debug"):
        assert f"`{option}`" in text
