"""``tierwatch demo``: a server, a simulated fleet, a degradation and an alert, in one command.

It starts a local hook that prints the alerts it receives (after checking their
Standard Webhooks signature), a server on a fresh SQLite file with alerting
pointed at that hook and short windows, backfills two hours of the ``demo``
scenario so a baseline exists, then streams the fleet live; shortly after, one
hardware class on the new model version slows down, the device tier is flagged
on the dashboard, and the alert arrives.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from analytics.alerting.signing import BadSignature, generate_secret, verify

#: The demo's configuration: short windows so that a change shows within a minute or two.
CONFIG = """
[analytics]
default_window = "5m"
default_baseline = "2h"

[alerts]
evaluation_interval_seconds = 5
window = "2m"
baseline = "2h"
degraded_for = "0s"
delivery_interval_seconds = 1
repeat_interval = "1h"
# The demo's hook listens on loopback, which hooks reach only when allowed.
allowed_hosts = ["127.0.0.1"]

[[alerts.hooks]]
name = "demo"
kind = "webhook"
url = "{hook_url}"
secret = "{secret}"
"""


def _hook_handler(secret: str, out: Any) -> type[BaseHTTPRequestHandler]:
    class DemoHook(BaseHTTPRequestHandler):
        """Prints each notification it receives, once its signature checks out."""

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                verify(secret, dict(self.headers.items()), body, now=int(time.time()))
            except BadSignature as exc:
                self.send_response(401)
                self.end_headers()
                print(f"[hook] refused a notification: {exc}", file=out, flush=True)
                return
            self.send_response(204)
            self.end_headers()
            data = json.loads(body).get("data", {})
            print(
                f"[hook] ALERT {data.get('status', '?').upper()} ({data.get('severity')}): "
                f"{data.get('summary')}",
                file=out,
                flush=True,
            )

        def log_message(self, *args: Any) -> None:
            pass

    return DemoHook


@contextlib.contextmanager
def _hook(secret: str, out: Any) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _hook_handler(secret, out))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/alerts"
    finally:
        server.shutdown()


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server stopped while starting; see the lines above")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer on port {port} within {timeout:.0f} s")


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run_demo(*, port: int, database: Path, history: str, rate: float) -> int:
    """Run the demo until interrupted; return the exit status.

    History and live stream run at the same request rate: devices that worked
    harder live than in their history would heat up, and that would show as a
    change of its own.
    """
    out = sys.stdout
    # Stopped by a service manager or `kill`: stop the server and the simulator too.
    signal.signal(signal.SIGTERM, _interrupt)
    secret = generate_secret()
    for suffix in ("", "-wal", "-shm", "-writer.lock"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    tw = [sys.executable, "-m", "tierwatch"]
    with _hook(secret, out) as hook_url, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "demo.toml"
        config.write_text(CONFIG.format(hook_url=hook_url, secret=secret))
        env = {**os.environ, "TIERWATCH_CONFIG": str(config)}
        server = subprocess.Popen(
            [*tw, "serve", "--dev", "--port", str(port), "--db", f"sqlite:///{database}"], env=env
        )
        simulator: subprocess.Popen[bytes] | None = None
        try:
            _wait_ready(port, server)
            endpoint = f"http://127.0.0.1:{port}"
            print(f"[demo] backfilling {history} of fleet history...", file=out, flush=True)
            subprocess.run(
                [*tw, "simulate", "--endpoint", endpoint, "--scenario", "demo",
                 "--backfill", history, "--rate", str(rate), "--quiet"],
                env=env,
                check=True,
            )  # fmt: skip
            print(
                f"[demo] dashboard: {endpoint}/dashboard/\n"
                "[demo] streaming the fleet live; in 20 seconds tagger-mobile 3.2.0 slows "
                "down on galaxy-a14 phones. Ctrl-C stops the demo.",
                file=out,
                flush=True,
            )
            simulator = subprocess.Popen(
                [*tw, "simulate", "--endpoint", endpoint, "--scenario", "demo", "--live",
                 "--rate", str(rate), "--live-rate", str(rate)],
                env=env,
            )  # fmt: skip
            return simulator.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            for proc in (simulator, server):
                if proc is not None and proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
                    try:
                        proc.wait(20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
