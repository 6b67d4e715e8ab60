"""A real Alertmanager (Debian's prometheus-alertmanager) fed by an alertmanager hook.

Alertmanager runs on loopback with a short ``resolve_timeout`` and one webhook
receiver (a loopback recorder, so the test also sees what Alertmanager forwards).
A segment becomes degraded; evaluation and delivery passes run on the real
clock, a second apart. The alert must turn active in Alertmanager with the
segment's labels, stay active for longer than both the ``endsAt`` horizon and
``resolve_timeout`` while the segment stays degraded (tierwatch keeps sending it
with ``endsAt`` ahead), and leave the active alerts once the segment recovers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select

from analytics.alerting.queries import list_deliveries
from analytics.alerting.rules import fingerprint
from collector.schema import ATTEMPTS, ROLLUPS, SEGMENTS
from tests.analytics.alerting.receiver import Receiver, running
from tests.analytics.alerting.test_evaluator import Stack, stack_for
from tests.analytics.stored_fleet import write_fleet
from tests.conftest import free_port

pytestmark = pytest.mark.slow

BINARY = "prometheus-alertmanager"
RESOLVE_TIMEOUT_S = 10
#: Passes run every second or so; a re-send waits for the first pass after the
#: interval, and a pass on a busy machine takes a few seconds: the horizon leaves room.
RESEND_S = 3
#: endsAt lies three resend intervals ahead.
HORIZON_S = 3 * RESEND_S
#: How long the segment stays degraded while the test looks.
DEGRADED_S = max(RESOLVE_TIMEOUT_S, HORIZON_S) + 3
KEY = {"fleet": "fleet-a", "tier": "device", "task": "photo-tag"}
PUBLIC_URL = "https://tierwatch.example.com"


def _install() -> str | None:
    """The binary, installed with apt-get when missing (as CI's set-up does)."""
    found = shutil.which(BINARY)
    if found or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "prometheus-alertmanager"],
    ):
        subprocess.run(command, env=env, check=False, capture_output=True, timeout=600)
    return shutil.which(BINARY)


@dataclass
class Alertmanager:
    """A running Alertmanager and the receiver it forwards notifications to."""

    url: str
    tap: Receiver

    def active(self) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts``: the alerts Alertmanager holds as not ended."""
        query = f"{self.url}/api/v2/alerts?active=true&silenced=true&inhibited=true"
        with urllib.request.urlopen(query, timeout=5) as resp:
            alerts: list[dict[str, Any]] = json.load(resp)
        return alerts


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    binary = _install()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{BINARY} is missing and could not be installed")
        pytest.skip(f"{BINARY} is missing (apt-get install prometheus-alertmanager)")
    with running() as tap:
        config = tmp_path / "alertmanager.yml"
        config.write_text(
            f"""
global:
  resolve_timeout: {RESOLVE_TIMEOUT_S}s
route:
  receiver: tap
  group_by: [alertname, fleet]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: tap
    webhook_configs:
      - url: {tap.url}/forwarded
        send_resolved: true
"""
        )
        port = free_port()
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"Alertmanager did not start (exit code {proc.poll()})")
                time.sleep(0.1)
            yield Alertmanager(url=url, tap=tap)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def roll_back(engine: Engine) -> None:
    """The bad rollout is undone: the 2.2.0 attempts leave the store, the segment recovers."""
    with engine.begin() as conn:
        bad = select(SEGMENTS.c.id).where(SEGMENTS.c.model_version == "2.2.0")
        conn.execute(delete(ROLLUPS).where(ROLLUPS.c.segment_id.in_(bad)))
        conn.execute(delete(ATTEMPTS).where(ATTEMPTS.c.segment_id.in_(bad)))


def one_pass(stack: Stack) -> None:
    """An evaluation pass and a delivery pass, on the real clock."""
    now = datetime.now(UTC)
    assert stack.evaluate(now) is not None
    stack.deliver(datetime.now(UTC))


def ours(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in alerts if a["labels"].get("alertname") == "segment_degraded"]


# One real Alertmanager and one SQLite database: what is tested is the conversation.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_alert_stays_active_while_degraded_and_resolves_after(
    db_url: str, engine: Engine, receiver: Receiver, alertmanager: Alertmanager
) -> None:
    overrides = {
        "alerts.rules": [],
        "alerts.privacy_rule": False,
        "alerts.degraded_rule": True,
        "alerts.degraded_for": "0s",
        "alerts.baseline": "2h",
        "alerts.evaluation_interval_seconds": 1,
        "alerts.allowed_hosts": ["127.0.0.1"],
        "alerts.hooks": [
            {
                "name": "am",
                "kind": "alertmanager",
                "url": alertmanager.url,
                "resend_interval": f"{RESEND_S}s",
            }
        ],
        "server.public_url": PUBLIC_URL,
    }
    for stack in stack_for(db_url, engine, receiver, **overrides):
        # three hours ending at the next minute: the window hour holds the bad rollout
        now = datetime.now(UTC)
        write_fleet(engine, end=now.replace(second=0, microsecond=0) + timedelta(minutes=1))
        one_pass(stack)
        (alert,) = ours(alertmanager.active())
        fp = fingerprint("segment_degraded", KEY)
        assert alert["labels"] == {
            "alertname": "segment_degraded",
            "severity": "critical",
            **KEY,
            "tierwatch_rule": "segment_degraded",
            "tierwatch_fingerprint": fp,
        }
        assert alert["status"]["state"] == "active"
        assert alert["generatorURL"] == (
            f"{PUBLIC_URL}/api/v1/health?by=fleet,tier,task&fleet=fleet-a"
        )
        assert alert["annotations"]["summary"].startswith(
            "fleet=fleet-a tier=device task=photo-tag is degraded: "
        )
        # degraded for longer than the horizon and resolve_timeout: active at every look
        started = time.monotonic()
        while time.monotonic() - started < DEGRADED_S:
            time.sleep(1)
            one_pass(stack)
            (alert,) = ours(alertmanager.active())
            ends = datetime.fromisoformat(alert["endsAt"].replace("Z", "+00:00"))
            assert alert["status"]["state"] == "active"
            assert ends > datetime.now(UTC)
        # kept alive by batches, none lost or waiting; a re-send waits for the first pass
        # after the resend interval, so one goes every one to two intervals
        with engine.connect() as conn:
            sent = list_deliveries(conn, fleet="fleet-a")
        assert set(zip(sent["event"], sent["status"], strict=True)) == {("batch", "delivered")}
        assert len(sent) >= DEGRADED_S // (2 * RESEND_S)
        # Alertmanager told its receiver once: firing, with our labels (an alert that had
        # lapsed in between would have been forwarded as resolved, then firing again)
        firing = [json.loads(r.body) for r in alertmanager.tap.requests]
        assert [
            (n["status"], n["alerts"][0]["labels"]["tierwatch_fingerprint"]) for n in firing
        ] == [("firing", fp)]
        # the rollout is undone: the next pass resolves the alert, with its real end
        roll_back(engine)
        resolved_at = datetime.now(UTC)
        one_pass(stack)
        assert ours(alertmanager.active()) == []
        forwarded = alertmanager.tap.wait_for(2, timeout=10)
        last = json.loads(forwarded[-1].body)
        assert (last["status"], last["alerts"][0]["status"]) == ("resolved", "resolved")
        ended = datetime.fromisoformat(last["alerts"][0]["endsAt"].replace("Z", "+00:00"))
        assert resolved_at - timedelta(seconds=1) <= ended <= datetime.now(UTC)
        # and it stays resolved over further passes
        for _ in range(3):
            time.sleep(1)
            one_pass(stack)
            assert ours(alertmanager.active()) == []
