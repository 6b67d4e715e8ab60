"""docs/simulator.md documents every flag, every scenario key and every built-in scenario."""

from __future__ import annotations

from pathlib import Path

from simulator import scenario
from simulator.cli import simulate

DOC = (Path(__file__).resolve().parents[2] / "docs" / "simulator.md").read_text()


def test_every_flag_is_documented() -> None:
    flags = [opt for param in simulate.params for opt in param.opts if opt.startswith("--")]
    assert len(flags) == 13
    missing = [flag for flag in flags if f"`{flag}" not in DOC]
    assert missing == []


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
