"""``tierwatch report --cost``: the cost note in text, Markdown and JSON, and its mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.analytics.priced_fleet import END_ISO, write_priced_fleet
from tierwatch.cli import main

#: tests.analytics.priced_fleet.PRICES, as an operator writes them.
PRICES_TOML = """
[[costs]]
tier = "cloud"
per_call = 0.001
per_1k_input_tokens = 0.002
per_1k_output_tokens = 0.004

[[costs]]
tier = "cloud"
model = "gpt-large"
per_call = 0.01

[[costs]]
tier = "edge"
per_node_hour = 0.5

[[costs]]
tier = "device"
per_call = 0.0
"""
#: The same without the device's price.
NO_DEVICE_TOML = PRICES_TOML.rsplit("[[costs]]", 1)[0]
ARGS = ["report", "--cost", "--window", "2h", "--end", END_ISO]


def _run(tmp_path: Path, db_url: str, toml: str, *args: str) -> list[str]:
    config = tmp_path / "tierwatch.toml"
    config.write_text(toml)
    result = CliRunner().invoke(main, [*ARGS, *args, "--db", db_url, "--config", str(config)])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_cost_note_as_text(tmp_path: Path, db_url: str, engine: Engine) -> None:
    write_priced_fleet(engine)
    assert _run(tmp_path, db_url, PRICES_TOML) == [
        "costs 2025-01-02 10:00 .. 2025-01-02 12:00 UTC",
        "",
        "fleet fleet-a",
        "task   tier    requests  attempts  shadow    cost  per 1k requests  escalations  wasted  energy mJ/request",
        "chat   edge           4         4       0  0.8750         175.0000         0.0%   57.1%                  -",
        "chat   cloud          1         2       0  0.0110           2.2000         9.1%    0.0%                  -",
        "chat   all            5         6       0  0.8860         177.2000         0.1%   56.4%                  -",
        "tag    device         4         4       0  0.0000           0.0000            -       -               35.0",
        "tag    edge           0         1       0  0.1250          31.2500         0.0%    0.0%                  -",
        "tag    cloud          0         1       1  0.0080           2.0000        62.5%   37.5%                  -",
        "tag    all            4         6       1  0.1330          33.2500         3.8%    2.3%               35.0",
        "total                 9        12       1  1.0190         113.2222         0.6%   49.4%               15.6",
        "chat on the edge tier costs the most: 0.8750 of 1.0190 (86%), 57% on answers not served.",
    ]  # fmt: skip


def test_cost_note_as_markdown(tmp_path: Path, db_url: str, engine: Engine) -> None:
    write_priced_fleet(engine)
    lines = _run(tmp_path, db_url, NO_DEVICE_TOML, "--format", "markdown", "--fleet", "fleet-a")
    assert lines == [
        "# Costs, 2025-01-02 10:00 .. 2025-01-02 12:00 UTC",
        "",
        "## fleet-a",
        "",
        "| task | tier | requests | attempts | shadow | cost | per 1k requests | escalations | wasted | energy mJ/request |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        "| chat | edge | 4 | 4 | 0 | 0.8750 | 175.0000 | 0.0% | 57.1% | - |",
        "| chat | cloud | 1 | 2 | 0 | 0.0110 | 2.2000 | 9.1% | 0.0% | - |",
        "| chat | all | 5 | 6 | 0 | 0.8860 | 177.2000 | 0.1% | 56.4% | - |",
        "| tag | device | 4 | 4 | 0 | unknown | unknown | - | - | 35.0 |",
        "| tag | edge | 0 | 1 | 0 | 0.1250 | 31.2500 | 0.0% | 0.0% | - |",
        "| tag | cloud | 0 | 1 | 1 | 0.0080 | 2.0000 | 62.5% | 37.5% | - |",
        "| tag | all | 4 | 6 | 1 | unknown | unknown | - | - | 35.0 |",
        "| total |  | 9 | 12 | 1 | unknown | unknown | - | - | 15.6 |",
        "",
        "chat on the edge tier costs the most: 0.8750 (the total is unknown), 57% on answers not served.",
        "",
        "- No price for device: the cost of those attempts is unknown, and so is every total that holds them.",
    ]  # fmt: skip


def test_cost_json_is_the_costs_api(
    tmp_path: Path, db_url: str, engine: Engine, client: TestClient
) -> None:
    write_priced_fleet(engine)
    # the client's app has no prices: so has the command
    result = CliRunner().invoke(main, [*ARGS, "--json", "--db", db_url])
    assert result.exit_code == 0, result.output
    api = client.get(f"/api/v1/costs?window=2h&end={END_ISO}").json()
    assert result.output == json.dumps(api, indent=2) + "\n"


def test_no_attempts(tmp_path: Path, db_url: str, engine: Engine) -> None:
    assert _run(tmp_path, db_url, PRICES_TOML) == [
        "costs 2025-01-02 10:00 .. 2025-01-02 12:00 UTC",
        "",
        "no attempts in the window",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # the cost note has no baseline or grouping
        (["--cost", "--by", "tier"], "--by does not apply to --cost"),
        (["--cost", "--baseline", "1h"], "--baseline does not apply to --cost"),
        # the health table has one layout
        (["--format", "markdown"], "--format markdown applies to --cost and --fit-matrix only"),
    ],
)
def test_options_that_do_not_go_together(tmp_path: Path, args: list[str], message: str) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    result = CliRunner().invoke(main, ["report", *args, "--db", db], prog_name="tierwatch")
    assert result.exit_code == 2
    assert result.output == f"tierwatch: error: {message}; see 'tierwatch report --help'\n"


def test_a_bad_price_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "tierwatch.toml"
    config.write_text('[[costs]]\ntier = "edge"\nper_node_hour = -1\n')
    result = CliRunner().invoke(main, ["report", "--cost", "--config", str(config)])
    assert result.exit_code == 1
    assert result.output == (
        "tierwatch: error: invalid setting costs.0.per_node_hour: "
        "Input should be greater than or equal to 0\n"
    )
