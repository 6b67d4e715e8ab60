"""`tierwatch demo` (what `make run` runs): the degraded tier is flagged and the alert arrives."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.slow


def test_demo_flags_the_degraded_tier_and_alerts_within_two_minutes(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tierwatch",
            "demo",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "demo.db"),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    alert = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("[hook] ALERT FIRING"):
                alert.set()

    reader = threading.Thread(target=read, daemon=True)
    started = time.monotonic()
    reader.start()
    try:
        assert alert.wait(150), "no alert within 150 s:\n" + "\n".join(lines)
        elapsed = time.monotonic() - started
        firing = next(line for line in lines if line.startswith("[hook] ALERT FIRING"))
        assert "fleet=demo tier=device" in firing
        assert f"[demo] dashboard: http://127.0.0.1:{port}/dashboard/" in lines
        # what the overview's tier cards read: the device tier's photo-tag task is degraded
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/v1/health?window=2m&baseline=2h&by=tier,task", timeout=30
        ) as resp:
            report = json.load(resp)
        degraded = {
            (s["key"]["tier"], s["key"]["task"])
            for s in report["segments"]
            if s["status"] == "degraded"
        }
        assert ("device", "photo-tag") in degraded
        assert not any(tier == "cloud" for tier, _ in degraded)
        # two minutes from the command to the alert, with a little slack for a busy machine
        assert elapsed < 150
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
