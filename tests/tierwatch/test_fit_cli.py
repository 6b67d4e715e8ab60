"""``tierwatch report --fit-matrix``: the fit matrix as text, Markdown and JSON."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import Engine

from tests.analytics.stored_fleet import END_ISO, write_fleet
from tierwatch.cli import main


def _report(db_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["report", "--fit-matrix", "--end", END_ISO, "--db", db_url, *args]
    )
    return result.exit_code, result.output


def test_fit_matrix_text(db_url: str, engine: Engine) -> None:
    write_fleet(engine)
    code, output = _report(db_url)
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0] == "fit matrix, 2024-12-26 12:00 to 2025-01-02 12:00 UTC"
    assert lines[2].startswith("fleet    task       device p95 ms  edge p95 ms  cloud p95 ms")
    row = lines[3].split()
    assert row[:2] == ["fleet-a", "photo-tag"]
    # galaxies moved to 2.2.0 in the window: two device versions
    assert row[8:11] == ["2", "1", "2"]
    assert lines[3].endswith("edge with cloud fallback")
    assert lines[5] == (
        "photo-tag (fleet-a): edge with cloud fallback: edge is the fastest (no objectives "
        "for this task); no prices to compare"
    )


def test_fit_matrix_markdown_and_json(db_url: str, engine: Engine) -> None:
    write_fleet(engine)
    code, output = _report(db_url, "--format", "markdown")
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0] == "# Fit matrix, 2024-12-26 12:00 to 2025-01-02 12:00 UTC"
    assert lines[2].startswith("| fleet | task | device p95 ms |")
    assert lines[4].startswith("| fleet-a | photo-tag |")
    assert lines[6].startswith("- photo-tag (fleet-a): edge with cloud fallback")
    code, output = _report(db_url, "--json")
    body = json.loads(output)
    (task,) = body["tasks"]
    assert [t["tier"] for t in task["tiers"]] == ["device", "edge", "cloud"]
    assert task["tiers"][0]["attempts"] == 2800
    assert (task["placement"], task["sensitive_share"]) == ("edge with cloud fallback", 0.0)


def test_fit_matrix_is_one_report(db_url: str, engine: Engine) -> None:
    code, output = _report(db_url, "--cost")
    assert code == 2
    assert "--cost and --fit-matrix are two reports; ask for one" in output
    code, output = _report(db_url, "--by", "tier")
    assert code == 2
    assert "--by does not apply to --fit-matrix" in output


def test_fit_matrix_judges_against_the_tasks_objectives(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    write_fleet(engine)
    config = tmp_path / "tierwatch.toml"
    config.write_text(
        '[[objectives]]\nname = "tag-fast"\ntask = "photo-tag"\n'
        "latency = { threshold_ms = 300, target = 0.95 }\n"
    )
    code, output = _report(db_url, "--config", str(config))
    assert code == 0, output
    lines = output.splitlines()
    # the device's p95 (337 ms) misses 300 ms; the edge's and the cloud's (276 ms) meet it
    assert "337 slow" in lines[3] and "276 ok" in lines[3]
    assert lines[5] == (
        "photo-tag (fleet-a): edge with cloud fallback: device p95 337 ms misses the latency "
        "objective; edge is the fastest of the tiers that meet the objectives; no prices to "
        "compare"
    )
