"""`tierwatch serve` as a process: --dev binds to loopback only and says so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import free_port, wait_until_serving


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on ``port`` (from /proc/net/tcp)."""
    addresses = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, port_hex = local.split(":")
        if state == "0A" and int(port_hex, 16) == port:
            raw = bytes.fromhex(address)[::-1]
            addresses.add(".".join(str(b) for b in raw))
    return addresses


def test_dev_binds_loopback_only_with_a_warning(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tierwatch",
            "serve",
            "--dev",
            "--host",
            "0.0.0.0",
            "--port",
            str(port),
            "--db",
            f"sqlite:///{tmp_path / 'dev.db'}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_serving(port, proc)
        assert _listening_addresses(port) == {"127.0.0.1"}
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=15)
    assert "--dev: authentication is OFF; binding to 127.0.0.1 instead of 0.0.0.0" in stderr
