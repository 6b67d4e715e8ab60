"""docs/simulator.md documents every flag, every scenario key and every built-in scenario."""

from __future__ import annotations

import re
from pathlib import Path

import click

from simulator import scenario
from simulator.cli import simulate

DOC = (Path(__file__).resolve().parents[2] / "docs" / "simulator.md").read_text()


def _flags() -> set[str]:
    """Every spelling of every option ``tierwatch simulate`` takes, short ones included."""
    return {
        opt
        for param in simulate.params
        if isinstance(param, click.Option)
        for opt in (*param.opts, *param.secondary_opts)
    }


def _documented_flags() -> set[str]:
    """The flags named in the first column of the "Command line" section's table."""
    section = DOC.split("\n## Command line\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `-")]
    # A cell may hold an escaped pipe (`NAME\|FILE`), which does not end it.
    first_cells = [re.split(r"(?<!\\)\|", row)[1] for row in rows]
    return {flag for cell in first_cells for flag in re.findall(r"`(--?[a-z][a-z-]*)", cell)}


def test_every_flag_is_documented() -> None:
    undocumented = sorted(_flags() - _documented_flags())
    assert not undocumented, f"docs/simulator.md's Command line table lacks {undocumented}"


def test_the_flag_table_names_only_real_flags() -> None:
    unknown = sorted(_documented_flags() - _flags())
    assert not unknown, f"docs/simulator.md documents flags the command lacks: {unknown}"


def test_every_scenario_key_is_documented() -> None:
    keys = (
        scenario._TOP
        | scenario._ROLLOUT
        | scenario._DEGRADATION
        | {"outages_per_day", "median_duration"}
        | set(scenario.ATTEMPT_DIMENSIONS)
    )
    missing = sorted(key for key in keys if f"`{key}`" not in DOC and f"{key}:" not in DOC)
    assert missing == []


def test_every_built_in_scenario_is_described() -> None:
    missing = [name for name in scenario.builtin_scenarios() if f"| `{name}` |" not in DOC]
    assert missing == []
