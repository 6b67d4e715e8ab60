"""The alerting commands, run as an operator runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from analytics.alerting.rules import fingerprint
from tests.analytics.alerting.receiver import Answer, Receiver
from tests.analytics.alerting.test_evaluator import KEY, stack_for
from tierwatch.cli import main

TOKEN = "t0k3n-from-the-environment"


def config(tmp_path: Path, receiver: Receiver, *, allowed: bool = True) -> str:
    path = tmp_path / "tw.toml"
    allow = 'allowed_hosts = ["127.0.0.1"]\n' if allowed else ""
    path.write_text(
        f"[alerts]\n{allow}"
        f'[[alerts.hooks]]\nname = "ops"\nkind = "alertmanager"\nurl = "{receiver.url}/am"\n'
        'headers = { Authorization = "Bearer ${AM_TOKEN}" }\n'
    )
    return str(path)


def test_alerts_and_deliveries_lists(db_url: str, engine: Engine, receiver: Receiver) -> None:
    for stack in stack_for(db_url, engine, receiver):
        stack.post(10, error=True)
        stack.evaluate(datetime.now(UTC))
    runner = CliRunner()
    result = runner.invoke(main, ["alerts", "list", "--db", db_url])
    assert result.exit_code == 0, result.output
    header, row = result.output.rstrip("\n").split("\n")
    assert header.split() == ["STATE", "SEVERITY", "RULE", "FINGERPRINT", "SINCE", "SUMMARY"]
    assert row.split()[:4] == ["firing", "warning", "high_errors", fingerprint("high_errors", KEY)]
    assert row.endswith(
        "error rate 100.0% > 50.0% in fleet=robots tier=device task=photo-tag over the last 15m (10 attempts)"
    )
    listed = json.loads(
        runner.invoke(
            main, ["alerts", "list", "--json", "--state", "firing", "--db", db_url]
        ).output
    )
    assert [(a["rule"], a["state"]) for a in listed] == [("high_errors", "firing")]
    assert (
        runner.invoke(main, ["alerts", "list", "--state", "resolved", "--db", db_url]).output
        == "no alerts\n"
    )
    bad = runner.invoke(main, ["alerts", "list", "--state", "burning", "--db", db_url])
    assert bad.exit_code == 2 and "unknown alert state 'burning'" in bad.output
    deliveries = runner.invoke(main, ["deliveries", "list", "--db", db_url])
    header, row = deliveries.output.rstrip("\n").split("\n")
    assert header.split() == [
        "ID",
        "STATUS",
        "HOOK",
        "EVENT",
        "FINGERPRINT",
        "ATTEMPTS",
        "CODE",
        "CREATED",
        "ERROR",
    ]
    assert row.split()[:7] == [
        "1",
        "pending",
        "ops",
        "firing",
        fingerprint("high_errors", KEY),
        "0",
        "-",
    ]
    assert (
        runner.invoke(main, ["deliveries", "list", "--status", "dead", "--db", db_url]).output
        == "no deliveries\n"
    )


def test_silence_create_list_expire(db_url: str) -> None:
    runner = CliRunner()
    created = runner.invoke(
        main,
        [
            "silence",
            "create",
            "--matcher",
            "tier=device",
            "--matcher",
            "alertname=~segment_.*",
            "--ends",
            "2h",
            "--comment",
            "rollout of 2.2.0",
            "--created-by",
            "ana",
            "--db",
            db_url,
        ],
    )
    assert created.exit_code == 0, created.output
    first, last = created.output.rstrip("\n").split("\n")
    assert first.startswith("created silence of tier=device, alertname=~segment_.* until ")
    assert last == "1"
    listed = (
        runner.invoke(main, ["silence", "list", "--db", db_url]).output.rstrip("\n").split("\n")
    )
    assert listed[0].split() == ["ID", "STATE", "MATCHERS", "ENDS", "BY", "COMMENT"]
    assert listed[1].split()[:4] == ["1", "active", "tier=device", "alertname=~segment_.*"]
    assert listed[1].endswith("ana  rollout of 2.2.0")
    assert (
        runner.invoke(main, ["silence", "expire", "1", "--db", db_url]).output
        == "silence 1 has ended\n"
    )
    assert (
        runner.invoke(main, ["silence", "list", "--active", "--db", db_url]).output
        == "no silences\n"
    )
    missing = runner.invoke(main, ["silence", "expire", "7", "--db", db_url])
    assert (missing.exit_code, missing.output) == (1, "tierwatch: error: no silence 7\n")


def test_silence_create_refuses_bad_input(db_url: str) -> None:
    runner = CliRunner()
    bad = runner.invoke(
        main,
        [
            "silence",
            "create",
            "--matcher",
            "tier",
            "--ends",
            "1h",
            "--comment",
            "x",
            "--db",
            db_url,
        ],
    )
    assert bad.exit_code == 2
    assert "invalid matcher 'tier'" in bad.output
    bad = runner.invoke(
        main,
        [
            "silence",
            "create",
            "--matcher",
            "tier=x",
            "--ends",
            "later",
            "--comment",
            "x",
            "--db",
            db_url,
        ],
    )
    assert bad.exit_code == 2
    assert "'later' is neither a duration (2h, 30m) nor an ISO 8601 time" in bad.output


def test_hook_list_and_test(
    tmp_path: Path, db_url: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AM_TOKEN", TOKEN)
    runner = CliRunner()
    cfg = config(tmp_path, receiver)
    listed = runner.invoke(main, ["--config", cfg, "hook", "list"]).output.rstrip("\n").split("\n")
    # the header's name is listed, never its value
    assert [line.split() for line in listed] == [
        ["NAME", "KIND", "HOST", "SIGNED", "HEADERS"],
        ["ops", "alertmanager", "127.0.0.1", "no", "Authorization"],
    ]
    result = runner.invoke(main, ["--config", cfg, "hook", "test", "ops", "--db", db_url])
    assert result.exit_code == 0, result.output
    (seen,) = receiver.requests
    assert (
        result.output == f"test notification {seen.webhook_id} to hook ops: delivered (HTTP 200)\n"
    )
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    (alert,) = json.loads(seen.body)
    assert (seen.path, alert["labels"]["alertname"]) == ("/am/api/v2/alerts", "tierwatch_test")
    deliveries = runner.invoke(main, ["deliveries", "list", "--json", "--db", db_url])
    assert TOKEN not in deliveries.output and TOKEN not in listed
    receiver.script = [Answer(200), Answer(410, body="gone")]
    failed = runner.invoke(main, ["--config", cfg, "hook", "test", "ops", "--db", db_url])
    assert failed.exit_code == 1
    assert failed.output.endswith(": failed (HTTP 410)\ntierwatch: error: HTTP 410: gone\n")
    unknown = runner.invoke(main, ["--config", cfg, "hook", "test", "nope", "--db", db_url])
    assert (unknown.exit_code, unknown.output) == (
        1,
        "tierwatch: error: unknown hook 'nope' (hooks: ops)\n",
    )


def test_refused_hook_is_a_failed_delivery(
    tmp_path: Path, db_url: str, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AM_TOKEN", TOKEN)
    runner = CliRunner()
    cfg = config(tmp_path, receiver, allowed=False)
    result = runner.invoke(main, ["--config", cfg, "hook", "test", "ops", "--db", db_url])
    refusal = (
        "refused: hook host 127.0.0.1 is a loopback address; hooks reach only public addresses "
        'unless alerts.allowed_hosts names the host, e.g. allowed_hosts = ["127.0.0.1"]'
    )
    assert result.exit_code == 1
    assert result.output.endswith(f": failed (no answer)\ntierwatch: error: {refusal}\n")
    assert receiver.requests == []
    listed = runner.invoke(main, ["deliveries", "list", "--db", db_url]).output
    _, row = listed.rstrip("\n").split("\n")
    assert row.split()[1:5] == ["failed", "ops", "test", "-"]
    assert row.endswith(refusal)


def test_every_command_has_an_example() -> None:
    runner = CliRunner()
    for command in (
        ["alerts", "list"],
        ["silence", "create"],
        ["silence", "list"],
        ["silence", "expire"],
        ["hook", "list"],
        ["hook", "test"],
        ["deliveries", "list"],
    ):
        result = runner.invoke(main, [*command, "--help"])
        assert result.exit_code == 0
        example = result.output.split("Example:")[1].split("Options:")[0]
        assert example.strip().startswith("tierwatch ") and " ".join(command) in example
