"""``tierwatch simulate`` as a user runs it: output, refusals, and what reaches the server."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from fastapi import FastAPI
from sqlalchemy import Engine

from collector.auth import create_token
from simulator.cli import ProgressLine, describe
from simulator.run import Progress
from simulator.scenario import NS
from simulator.senders import SenderStats
from tests.conftest import LiveServer, free_port, make_settings
from tierwatch.app import create_app
from tierwatch.cli import main


def test_backfill_reports_what_it_sent(live_server: LiveServer, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            "--endpoint",
            live_server.url,
            "--backfill",
            "20m",
            "--devices",
            "12",
            "--seed",
            "5",
            "--rate",
            "1",
            "--end",
            "2025-11-24T16:00:00Z",
            "--spool-dir",
            str(tmp_path / "spool"),
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "simulating fleet 'demo' (scenario default, seed 5): 12 devices, 8 edge and cloud "
        f"nodes -> {live_server.url}/v1/traces"
    )
    assert lines[1].startswith("backfilled 2025-11-24T15:40:00Z .. 2025-11-24T16:00:00Z: ")
    summary = requests.get(f"{live_server.url}/api/v1/summary", timeout=5).json()
    assert lines[2].startswith(f"delivered {summary['attempts']:,} spans")
    assert 1300 < summary["requests"] < 1800  # one a second, at the busy time of day


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        # there must be something to do
        (
            [],
            2,
            "tierwatch: error: nothing to do: give --backfill DURATION, --live, or both; see 'tierwatch simulate --help'",
        ),
        # --duration limits the live stream
        (
            ["--backfill", "1h", "--duration", "5m"],
            2,
            "tierwatch: error: --duration limits the live stream; give --live too; see 'tierwatch simulate --help'",
        ),
        # a fixed end belongs to history only
        (
            ["--live", "--end", "2025-01-01T00:00:00Z"],
            2,
            "tierwatch: error: --end fixes the history in the past; it cannot go with --live; see 'tierwatch simulate --help'",
        ),
        # durations have units
        (
            ["--backfill", "24"],
            2,
            "tierwatch: error: Invalid value for '--backfill': not a duration: '24' (use e.g. 90s, "
            "15m, 1h30m, 1d); see 'tierwatch simulate --help'",
        ),
        # scenario errors name the file and the key
        (
            ["--backfill", "1h", "--scenario", "nope"],
            1,
            "tierwatch: error: no scenario file nope and no built-in scenario of that name (built-in: "
            "demo, edge-outage, input-shift, privacy-bug, regional-outage, steady, threshold-too-high)",
        ),
    ],
)
def test_refusals_say_what_to_do(arguments: list[str], code: int, message: str) -> None:
    result = CliRunner().invoke(main, ["simulate", *arguments], prog_name="tierwatch")
    assert result.exit_code == code
    assert result.output.splitlines() == [message]


def test_an_unreachable_endpoint_fails_before_anything_starts(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(
        main, ["simulate", "--endpoint", url, "--backfill", "1h", "--spool-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert result.output.startswith(f"tierwatch: error: cannot reach {url}/v1/traces: ")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def secured(db_url: str, engine: Engine) -> FastAPI:
    return create_app(make_settings(db_url, dev=False), engine=engine, migrate=False)


def test_a_wrong_token_is_refused_and_a_right_one_is_used(
    secured: FastAPI, engine: Engine, tmp_path: Path
) -> None:
    with LiveServer(secured) as server:
        base = ["simulate", "--endpoint", server.url, "--backfill", "5m", "--devices", "3", "-q"]
        base += ["--spool-dir", str(tmp_path)]
        wrong = CliRunner().invoke(main, [*base, "--token", "tw_nope"])
        assert wrong.exit_code == 1
        assert wrong.output == (
            f"tierwatch: error: {server.url}/v1/traces refused the token (401); give --token with an "
            "ingest token (tierwatch token create --fleet FLEET --role ingest), or run the "
            "server with --dev\n"
        )
        token = create_token(engine, fleet="robots", role="ingest")
        right = CliRunner().invoke(main, base, env={"TIERWATCH_TOKEN": token})
        assert right.exit_code == 0, right.output
        reader = create_token(engine, fleet="robots", role="read")
        summary = requests.get(
            f"{server.url}/api/v1/summary",
            headers={"Authorization": f"Bearer {reader}"},
            timeout=5,
        ).json()
    # the token decides the fleet, whatever the resource says
    assert list(summary["fleets"]) == ["robots"] and summary["attempts"] > 0


def _progress(phase: str, at: int, end: int | None) -> Progress:
    return Progress(
        phase=phase,
        at_ns=at,
        start_ns=1_764_000_000 * NS,
        end_ns=end,
        requests=1234,
        attempts=1500,
        senders=SenderStats(recorded=1500, handled=1400, delivered=1300, on_disk=40, lost=2),
        elapsed_s=3.0,
    )


def test_progress_lines() -> None:
    start = 1_764_000_000 * NS
    backfill = _progress("backfill", start + 1800 * NS, start + 3600 * NS)
    assert describe(backfill) == (
        "backfill 2025-11-24T16:30:00Z  50% | 1,234 requests, 1,500 attempts (500/s) "
        "| delivered 1,300, on disk 40, lost 2"
    )
    live = _progress("live", start + 3725 * NS, None)
    assert describe(live).startswith("live +1:02:05 | 1,234 requests")

    # Off a terminal, a line every few seconds and always the last one.
    stream = io.StringIO()
    line = ProgressLine(stream, every_s=60)
    line(backfill)
    line(backfill)
    line(_progress("backfill", start + 3600 * NS, start + 3600 * NS))
    assert stream.getvalue().count("\n") == 2


def test_sigterm_ends_the_live_stream_cleanly(live_server: LiveServer, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "tierwatch", "simulate", "--endpoint", live_server.url]
    command += ["--live", "--live-rate", "20", "--devices", "5", "--spool-dir", str(tmp_path)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    assert process.stderr.readline().startswith("simulating fleet 'demo'")
    time.sleep(2)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    streamed, delivered = out.splitlines()
    attempts = int(streamed.removeprefix("streamed live: ").removesuffix(" attempts"))
    assert attempts > 10
    summary = requests.get(f"{live_server.url}/api/v1/summary", timeout=5).json()
    assert delivered.startswith(f"delivered {summary['attempts']:,} spans")


def test_help_has_examples_and_names_the_built_in_scenarios() -> None:
    result = CliRunner().invoke(main, ["simulate", "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "Example: tierwatch simulate --scenario demo --backfill 24h --live" in text
    assert (
        "built-in one: demo, edge-outage, input-shift, privacy-bug, regional-outage, steady, threshold-too-high."
        in text
    )
