"""Soak benchmark: a real ``tierwatch serve`` under steady traffic, floods and reports, for a while.

Starts ``tierwatch serve --dev`` on a scratch database (SQLite by default), then
for ``--minutes`` runs at once:

- the simulator streaming live (``tierwatch simulate --live``) at ``--live-rate``
  requests per second from ``--devices`` devices;
- a flood sender: ``--flood-senders`` connections posting prebuilt 500-span
  exports as fast as answered, for ``--flood-seconds`` of every minute, to
  provoke 429/503 refusals;
- a health report (``GET /api/v1/health?window=1h&by=tier,node``) every 30 s.

Every 10 s it samples the RSS of the server's process tree (from /proc) and the
stored attempt count (``/api/v1/summary``). It prints a table per minute (RSS,
spans stored per second, refusals, report latency) and a verdict on memory
growth: the slope of a least-squares line through the RSS samples of the last
two thirds of the run (the first third is warm-up).

    python benchmarks/soak.py                 # 30 minutes on SQLite
    python benchmarks/soak.py --minutes 5 --backend postgresql
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.ingest import _children, _wait_ready, build_bodies
from benchmarks.scratch import scratch_database

SAMPLE_SECONDS = 10.0
REPORT_SECONDS = 30.0


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and every process below it, in MiB."""
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue  # a worker that ended between listing and reading
    return total / 1024


def _get(port: int, path: str, timeout: float = 120) -> tuple[int, bytes, float]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        return answer.status, answer.read(), time.perf_counter() - started
    finally:
        conn.close()


@dataclass
class Flood:
    """Counts of the flood sender's answers."""

    sent: int = 0
    stored: int = 0
    refused: int = 0
    other: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def flood(
    port: int, bodies: list[bytes], counts: Flood, stop: threading.Event, *, on: float
) -> None:
    """Post bodies one after another for ``on`` seconds of every minute until ``stop``."""
    i = 0
    while not stop.is_set():
        if time.time() % 60 >= on:
            stop.wait(0.5)
            continue
        body = bodies[i % len(bodies)]
        i += 1
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
            status = conn.getresponse().status
            conn.close()
        except OSError:
            status = 0
        with counts.lock:
            counts.sent += 1
            if status == 200:
                counts.stored += 1
            elif status in (429, 503):
                counts.refused += 1
            else:
                counts.other += 1


@dataclass
class Sample:
    t: float
    rss_mb: float
    attempts: int
    refused: int


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0, help="how long (default 30)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "TIERWATCH_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--port", type=int, default=14330)
    parser.add_argument("--devices", type=int, default=150, help="simulated devices")
    parser.add_argument("--live-rate", type=float, default=5.0, help="simulator requests/s")
    parser.add_argument(
        "--flood-senders", type=int, default=96, help="more than 4 processing + 64 queued"
    )
    parser.add_argument("--flood-seconds", type=float, default=15.0, help="of every minute")
    parser.add_argument("--json", action="store_true", help="also print the samples as JSON")
    args = parser.parse_args()

    bodies = build_bodies(40_000, 500, seed=7)
    with (
        scratch_database(args.backend, args.postgres_url) as url,
        tempfile.TemporaryDirectory(prefix="tierwatch-soak-") as tmp,
    ):
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tierwatch",
                "serve",
                "--dev",
                "--port",
                str(args.port),
                "--db",
                url,
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(Path(tmp) / "server.log", "wb"),  # noqa: SIM115
        )
        try:
            _wait_ready(args.port, server)
            _run(args, server, bodies, tmp)
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()


def _run(
    args: argparse.Namespace, server: subprocess.Popen[bytes], bodies: list[bytes], tmp: str
) -> None:
    seconds = args.minutes * 60
    simulator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tierwatch",
            "simulate",
            "--endpoint",
            f"http://127.0.0.1:{args.port}",
            "--live",
            "--duration",
            f"{int(seconds)}s",
            "--devices",
            str(args.devices),
            "--live-rate",
            str(args.live_rate),
            "--quiet",
            "--spool-dir",
            str(Path(tmp) / "spool"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(Path(tmp) / "simulate.log", "wb"),  # noqa: SIM115
    )
    stop = threading.Event()
    counts = Flood()
    senders = [
        threading.Thread(
            target=flood,
            # each sender starts at its own body, so senders rarely post the same one at once
            args=(args.port, bodies[i % len(bodies) :] + bodies[: i % len(bodies)], counts, stop),
            kwargs={"on": args.flood_seconds},
            daemon=True,
        )
        for i in range(args.flood_senders)
    ]
    for s in senders:
        s.start()
    samples: list[Sample] = []
    reports: list[tuple[float, float, int]] = []  # (t, seconds, status)
    start = time.monotonic()
    next_report = start
    try:
        while (now := time.monotonic()) - start < seconds:
            t = now - start
            if now >= next_report:
                status, _, took = _get(args.port, "/api/v1/health?window=1h&by=tier,node")
                reports.append((t, took, status))
                next_report += REPORT_SECONDS
            _, body, _ = _get(args.port, "/api/v1/summary")
            with counts.lock:
                refused = counts.refused
            samples.append(
                Sample(t, tree_rss_mb(server.pid), int(json.loads(body)["attempts"]), refused)
            )
            time.sleep(max(0.0, SAMPLE_SECONDS - (time.monotonic() - now)))
    finally:
        stop.set()
        simulator.terminate()
        simulator.wait(30)
        for s in senders:
            s.join(35)
    _print(args, samples, reports, counts)


def _print(
    args: argparse.Namespace,
    samples: list[Sample],
    reports: list[tuple[float, float, int]],
    counts: Flood,
) -> None:
    print(
        f"soak: {args.minutes:g} min on {args.backend}, simulator {args.live_rate:g} req/s from "
        f"{args.devices} devices, flood {args.flood_senders} senders for "
        f"{args.flood_seconds:g} s of every minute, report every {REPORT_SECONDS:g} s"
    )
    print(
        f"{'minute':>6} {'RSS MiB':>8} {'stored':>10} {'spans/s':>8} {'refused':>8} {'report s':>9}"
    )
    previous = samples[0]
    for minute in range(1, int(np.ceil(samples[-1].t / 60)) + 1):
        inside = [s for s in samples if minute * 60 - 60 <= s.t < minute * 60]
        if not inside:
            continue
        last = inside[-1]
        rate = (last.attempts - previous.attempts) / max(last.t - previous.t, 1e-9)
        took = [r[1] for r in reports if minute * 60 - 60 <= r[0] < minute * 60]
        print(
            f"{minute:>6} {max(s.rss_mb for s in inside):>8.0f} {last.attempts:>10,} "
            f"{rate:>8.0f} {last.refused - previous.refused:>8} "
            f"{(max(took) if took else float('nan')):>9.2f}"
        )
        previous = last
    t = np.array([s.t for s in samples])
    rss = np.array([s.rss_mb for s in samples])
    steady = t >= t[-1] / 3
    slope_per_hour = float(np.polyfit(t[steady], rss[steady], 1)[0] * 3600)
    growth = slope_per_hour * (t[-1] - t[steady][0]) / 3600
    latencies = np.array([r[1] for r in reports])
    failed = sum(1 for r in reports if r[2] != 200)
    elapsed = t[-1] - t[0]
    print(
        f"stored {samples[-1].attempts:,} attempts ({(samples[-1].attempts - samples[0].attempts) / elapsed:,.0f}/s); "  # noqa: E501
        f"flood: {counts.sent:,} posts, {counts.stored:,} stored, {counts.refused:,} refused "
        f"(429/503), {counts.other:,} other"
    )
    print(
        f"reports: {len(reports)}, {failed} not 200; latency median {np.median(latencies):.2f} s, "
        f"max {latencies.max():.2f} s, first {latencies[0]:.2f} s, last {latencies[-1]:.2f} s"
    )
    print(
        f"RSS: start {rss[0]:.0f} MiB, peak {rss.max():.0f} MiB, end {rss[-1]:.0f} MiB; "
        f"after warm-up slope {slope_per_hour:+.1f} MiB/h ({growth:+.1f} MiB over the steady part)"
    )
    # Growth under 5% of the steady level over the steady part is noise and caches filling.
    bounded = growth < 0.05 * float(np.mean(rss[steady]))
    print(
        "verdict: memory "
        + ("stable after warm-up" if bounded else "still growing after warm-up: look for a leak")
    )
    if args.json:
        print(json.dumps({"samples": [s.__dict__ for s in samples], "reports": reports}))


if __name__ == "__main__":
    main()
