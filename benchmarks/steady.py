"""False alarms on a healthy fleet: a steady simulator run judged hour by hour.

Starts ``tierwatch serve --dev`` on a scratch SQLite store, backfills the
built-in ``steady`` scenario (a daily rhythm, two rollouts, offline spells, heat;
nothing degrades) through ``tierwatch simulate``, folds the hours with
``tierwatch db compact``, then asks ``GET /api/v1/health?window=1h`` without a
baseline (the best the history allows) at every hour of the last day and in
every grouping below. Every segment that was judged (not ``insufficient_data``)
counts; a flag is ``warn`` or ``degraded``, and each one is printed.

    .venv/bin/python benchmarks/steady.py --days 7 --rate 0.5
    .venv/bin/python benchmarks/steady.py --days 3 --rate 0.5 --hours 24

The history ends at ``--end`` (default: 04:00 UTC of today), so the judged hours
cross the 15:00 peak and the night's trough.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
TIERWATCH = [sys.executable, "-m", "tierwatch"]
#: The README's examples and the issue's groupings.
GROUPINGS = (
    "tier",
    "tier,task",
    "fleet,tier,task",
    "tier,node",
    "tier,device_model",
    "tier,device_model,model_version",
    "tier,task,model,model_version",
    "tier,region",
    "task,device_model",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def default_end() -> datetime:
    now = datetime.now(UTC)
    return now.replace(hour=4, minute=0, second=0, microsecond=0)


def wait_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"tierwatch serve exited with {server.returncode}")
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise SystemExit("tierwatch serve did not answer within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7, help="days of history (default 7)")
    parser.add_argument("--rate", type=float, default=0.5, help="requests a second (default 0.5)")
    parser.add_argument("--hours", type=int, default=24, help="hours judged, back from the end")
    parser.add_argument("--seed", type=int, default=None, help="the simulator's seed")
    parser.add_argument("--end", default=None, help="when the history ends, ISO (default 04:00Z)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the store in this folder")
    parser.add_argument(
        "--judge-only",
        action="store_true",
        help="judge the store kept in --keep again, without simulating",
    )
    args = parser.parse_args()
    if args.judge_only and not (args.keep and (args.keep / "steady.db").exists()):
        parser.error("--judge-only needs --keep FOLDER holding a store from an earlier run")

    end = datetime.fromisoformat(args.end.replace("Z", "+00:00")) if args.end else default_end()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="tierwatch-steady-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = f"sqlite:///{folder / 'steady.db'}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [*TIERWATCH, "serve", "--dev", "--port", str(port), "--db", db],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "serve.log", "wb"),  # noqa: SIM115 - lives as long as the server
    )
    try:
        wait_ready(url, server)
        if not args.judge_only:
            simulate_and_compact(args, end=end, url=url, db=db, folder=folder, env=env)
        print(f"judging {args.hours} hours ending {iso(end)} by {len(GROUPINGS)} groupings")
        judge(url, end=end, hours=args.hours)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def simulate_and_compact(
    args: argparse.Namespace, *, end: datetime, url: str, db: str, folder: Path, env: dict[str, str]
) -> None:
    """Backfill the steady fleet into the server, then fold its hours."""
    began = time.monotonic()
    simulate = [
        *TIERWATCH, "simulate", "--endpoint", url, "--scenario", "steady",
        "--backfill", f"{args.days * 24:g}h", "--rate", str(args.rate), "--end", iso(end),
        "--spool-dir", str(folder / "spool"), "--quiet",
    ]  # fmt: skip
    if args.seed is not None:
        simulate += ["--seed", str(args.seed)]
    subprocess.run(simulate, env=env, check=True)
    sent = time.monotonic() - began
    subprocess.run([*TIERWATCH, "db", "compact", "--db", db], env=env, check=True)
    print(
        f"steady: {args.days:g} days at {args.rate:g} requests/s ending {iso(end)}, "
        f"sent in {sent:.0f} s"
    )


def judge(url: str, *, end: datetime, hours: int) -> None:
    """Every judged segment of every grouping at each of ``hours`` hourly ends; the flags."""
    judged: Counter[str] = Counter()
    flagged: Counter[str] = Counter()
    baselines: Counter[str] = Counter()
    flags: list[str] = []
    for h in range(hours):
        at = end - timedelta(hours=h)
        for by in GROUPINGS:
            body = requests.get(
                f"{url}/api/v1/health",
                params={"window": "1h", "end": iso(at), "by": by},
                timeout=120,
            ).json()
            baselines[body["baseline"]["kind"]] += 1
            for segment in body["segments"]:
                if segment["status"] == "insufficient_data":
                    continue
                judged[by] += 1
                if segment["status"] in ("warn", "degraded"):
                    flagged[by] += 1
                    words = "; ".join(f["explanation"] for f in segment["findings"])
                    flags.append(f"{iso(at)} by {by}: {segment['key']} {words}")
    print(f"{'grouping':34} {'flagged / judged':>17}")
    for by in GROUPINGS:
        print(f"{by:34} {flagged[by]:>8} / {judged[by]:<7}")
    print(f"{'all':34} {sum(flagged.values()):>8} / {sum(judged.values()):<7}")
    print("reports by baseline: " + ", ".join(f"{k} {n}" for k, n in sorted(baselines.items())))
    for line in flags:
        print("  " + line)


if __name__ == "__main__":
    main()
