"""``tierwatch report``: the same verdicts as the API, as a table or JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.analytics.stored_fleet import END_ISO, write_fleet
from tierwatch.cli import main

ARGS = ["--window", "1h", "--baseline", "2h", "--end", END_ISO, "--by", "tier,device_model"]


def test_report_json_is_the_health_api(db_url: str, engine: Engine, client: TestClient) -> None:
    write_fleet(engine)
    result = CliRunner().invoke(main, ["report", *ARGS, "--json", "--db", db_url])
    assert result.exit_code == 0, result.output
    api = client.get(
        f"/api/v1/health?window=1h&baseline=2h&end={END_ISO}&by=tier,device_model"
    ).json()
    # the same JSON, key for key and in the same order
    assert result.output == json.dumps(api, indent=2) + "\n"


def test_report_table(db_url: str, engine: Engine) -> None:
    write_fleet(engine)
    result = CliRunner().invoke(main, ["report", *ARGS, "--db", db_url])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "window 2025-01-02 11:00 .. 2025-01-02 12:00 UTC, "
        "baseline 2025-01-02 09:00 .. 2025-01-02 11:00 UTC"
    )
    assert lines[3].split() == [
        "status",
        "segment",
        "attempts",
        "errors",
        "fallbacks",
        "p95",
        "quality",
    ]
    assert lines[4].startswith("degraded  tier=device, device_model=galaxy-a14")
    assert any(
        line.startswith("  [degraded] tier=device, device_model=galaxy-a14: error rate ")
        for line in lines
    )
    assert "      explained by model_version=2.2.0 (" in result.output
    assert lines[-1] == "3 ok, 0 warn, 1 degraded, 0 insufficient_data"


def test_report_rejects_a_bad_dimension(db_url: str) -> None:
    result = CliRunner().invoke(main, ["report", "--by", "colour", "--db", db_url])
    assert result.exit_code == 2
    assert "unknown dimension 'colour'" in result.output


def test_db_compact(db_url: str, engine: Engine) -> None:
    write_fleet(engine)
    result = CliRunner().invoke(main, ["db", "compact", "--db", db_url])
    assert result.exit_code == 0, result.output
    # the fleet's three hours are long closed
    assert result.output == (
        "compacted 3 hours of rollups\nfolded 3 hours of attempts for advice\n"
    )


def test_db_assemble(db_url: str, engine: Engine) -> None:
    # three hours up to now: within the attempts' retention
    written = write_fleet(engine, end=datetime.now(UTC).replace(second=0, microsecond=0))
    result = CliRunner().invoke(main, ["db", "assemble", "--db", db_url])
    assert result.exit_code == 0, result.output
    # every stored attempt is merged once; a second run finds nothing queued
    assert result.output == f"assembled {len(written.rows)} attempts into requests\n"
    again = CliRunner().invoke(main, ["db", "assemble", "--db", db_url])
    assert again.output == "assembled 0 attempts into requests\n"
