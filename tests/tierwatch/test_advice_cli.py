"""``tierwatch advise``: the what-if in the terminal, as JSON, and its one-line errors."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import Engine

from tests.analytics.advice_fleet import END_ISO, write_advice_fleet
from tierwatch.cli import main


def _advise(db_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["advise", "--end", END_ISO, "--db", db_url, *args])
    return result.exit_code, result.output


def test_advise_prints_the_curve_and_the_recommendation(db_url: str, engine: Engine) -> None:
    write_advice_fleet(engine)
    code, output = _advise(db_url, "--task", "photo-tag", "--quality-floor", "0.6")
    assert code == 0, output
    lines = output.splitlines()
    assert lines[:4] == [
        "advice for task photo-tag, tier device: 40 local attempts over 1 hour "
        "(0.0% fall back whatever the threshold)",
        "current threshold 0.26 (explains 100.0% of the recorded attempts)",
        "",
        "threshold  local cloud   quality  p95 ms  cost/1k  mJ/req coverage labelled",
    ]
    # every 0.05, and the current and recommended thresholds between them
    rows = [line.split()[0] for line in lines[4:] if line and line[0] == " "]
    assert rows == ["0.00", "0.05", "0.10", "0.15", "0.20", "0.25", "0.26",
                    *(f"{k / 100:.2f}" for k in range(30, 101, 5))]  # fmt: skip
    assert lines[9].endswith("measured       40 recommended")
    assert lines[10].endswith("measured       40 current")
    assert lines[-3] == (
        "recommended: threshold 0.25 is the cheapest that meets quality floor 0.6 (no prices: "
        "the fewest cloud escalations stand for cheapest): cloud escalation rate 0.0% against "
        "25.0% at the current 0.26, predicted quality 0.750"
    )
    assert lines[-2].startswith("note: where a confidence bucket has fewer than 20 escalations")
    assert lines[-1].startswith("note: where a confidence bucket has fewer than 5")


def test_advise_json_is_the_api_body(db_url: str, engine: Engine) -> None:
    write_advice_fleet(engine)
    code, output = _advise(db_url, "--task", "photo-tag", "--json")
    assert code == 0, output
    body = json.loads(output)
    assert (body["task"], body["tier"], body["current"]["threshold"]) == (
        "photo-tag",
        "device",
        0.26,
    )
    assert body["recommended"] is None
    assert body["reason"].startswith("no quality floor or latency objective for task photo-tag")


def test_advise_errors_are_one_line(db_url: str, engine: Engine) -> None:
    write_advice_fleet(engine)
    code, output = _advise(db_url, "--task", "doc-scan")
    assert (code, output) == (
        1,
        "tierwatch: error: no local attempts with a confidence for task 'doc-scan' in the "
        "window's folded hours; check --task and --window, or run `tierwatch db compact`\n",
    )
    code, output = _advise(db_url, "--task", "photo-tag", "--tier", "cloud")
    assert code == 2
    assert "'cloud' is not a local tier; use device or edge" in output
