"""``tierwatch objectives``: the table and the JSON of the API, from the configuration file."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import Engine

from tests.analytics.objective_store import minute, segment
from tierwatch.cli import main

E = 1_741_608_000  # 2025-03-10T12:00:00Z
CONFIG = """
[[objectives]]
name = "tag-fast"
task = "photo-tag"
latency = { threshold_ms = 300, target = 0.9 }
availability = { target = 0.99 }
period = "1d"

[[objectives]]
name = "tag-robots"
task = "photo-tag"
fleet = "robots"
quality = { floor = 0.8 }

[[objectives]]
name = "caption"
task = "caption"
availability = { target = 0.995 }
"""


def _store(engine: Engine, tmp_path: Path) -> Path:
    with engine.begin() as conn:
        robots = segment(conn, fleet="robots", task="photo-tag")
        # an hour ago: 100 requests, 90 answered (80 within 300 ms), 4 qualities
        minute(conn, robots, E - 3600, requests=100, latencies=[100.0] * 80 + [900.0] * 10,
               qualities=[0.9, 0.95, 0.85, 0.9])  # fmt: skip
    config = tmp_path / "tw.toml"
    config.write_text(CONFIG)
    return config


def test_objectives_table(db_url: str, engine: Engine, tmp_path: Path) -> None:
    config = _store(engine, tmp_path)
    args = ["objectives", "--end", "2025-03-10T12:00:45Z", "--db", db_url, "--config", str(config)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert result.output == (
        "objectives at 2025-03-10 12:00 UTC\n"
        "\n"
        "status             objective   task       fleet    kind               target  period"
        "  SLI     budget left  burn 5m  burn 1h  burn 6h  burn 3d  alert\n"
        "degraded           tag-fast    photo-tag  (every)  latency <= 300 ms  90.00%  1d    "
        "  88.89%  -11.1%       -        1.11     1.11     1.11     ticket\n"
        "degraded           tag-fast    photo-tag  (every)  availability       99.00%  1d    "
        "  90.00%  -900.0%      -        10.00    10.00    10.00    ticket\n"
        "ok                 tag-robots  photo-tag  robots   quality            0.8     28d   "
        "  0.900   50.0%        -        0.50     0.50     0.50     -\n"
        "insufficient_data  caption     caption    (every)  availability       99.50%  28d   "
        "  -       -            -        -        -        -        -\n"
    )


def test_objectives_json_is_the_api(db_url: str, engine: Engine, tmp_path: Path) -> None:
    config = _store(engine, tmp_path)
    end = "2025-03-10T12:00:00Z"
    args = ["objectives", "--end", end, "--json", "--db", db_url, "--config", str(config)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["end"] == end
    assert [(o["name"], o["kind"], o["status"]) for o in body["objectives"]] == [
        ("tag-fast", "latency", "degraded"),
        ("tag-fast", "availability", "degraded"),
        ("tag-robots", "quality", "ok"),
        ("caption", "availability", "insufficient_data"),
    ]


def test_a_bad_end_is_one_line(db_url: str, engine: Engine) -> None:
    args = ["objectives", "--end", "noon", "--db", db_url]
    result = CliRunner().invoke(main, args, prog_name="tierwatch")
    assert result.exit_code == 2
    assert result.output == (
        "tierwatch: error: Invalid value for --end: invalid time 'noon': use ISO 8601, "
        "e.g. 2025-01-31T12:00:00Z; see 'tierwatch objectives --help'\n"
    )
