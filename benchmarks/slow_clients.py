"""Slow-client benchmark: stalled uploads against plain ``tierwatch serve`` while a sender exports.

``--stalled`` connections each send the headers of an export and one byte of a
100 kB body, then wait (a phone on a bad network, or a slowloris). Meanwhile one
well-connected sender posts real OTLP protobuf exports (``--spans`` spans each)
one after another for ``--seconds``. Reports the sender's statuses and latency
percentiles, and what the stalled connections were answered and when.

    python benchmarks/slow_clients.py
    python benchmarks/slow_clients.py --stalled 64 --body-timeout 10 --seconds 20
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.ingest import _wait_ready, build_bodies


def stall(port: int, declared: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=120)
    sock.sendall(
        b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n"
        + f"Content-Length: {declared}\r\n\r\n".encode()
        + b"\x0a"
    )
    return sock


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stalled", type=int, default=64, help="stalled uploads held open")
    parser.add_argument("--seconds", type=float, default=15.0, help="how long the sender sends")
    parser.add_argument("--spans", type=int, default=50, help="spans per export of the sender")
    parser.add_argument(
        "--body-timeout", type=float, default=None, help="collector.body_timeout_seconds"
    )
    parser.add_argument("--port", type=int, default=14319)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    bodies = build_bodies(40_000, args.spans, seed=11)
    workdir = Path(tempfile.mkdtemp(prefix="tierwatch-slow-"))
    env = {**os.environ, "TIERWATCH_DATABASE_URL": f"sqlite:///{workdir / 'slow.db'}"}
    if args.body_timeout is not None:
        env["TIERWATCH_COLLECTOR__BODY_TIMEOUT_SECONDS"] = str(args.body_timeout)
    with open(workdir / "server.log", "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "tierwatch", "serve", "--dev", "--port", str(args.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        _wait_ready(args.port, server)
        opened = time.monotonic()
        sockets = [stall(args.port, 100_000) for _ in range(args.stalled)]
        stalled: list[tuple[int, float]] = []

        def read_answers() -> None:
            for sock in sockets:
                try:
                    head = sock.recv(64)
                    status = int(head.split()[1]) if head else 0
                except OSError:
                    status = 0
                stalled.append((status, time.monotonic() - opened))

        reader = threading.Thread(target=read_answers, daemon=True)
        reader.start()
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        deadline = time.monotonic() + args.seconds
        n = 0
        while time.monotonic() < deadline:
            body = bodies[n % len(bodies)]
            n += 1
            started = time.perf_counter()
            conn.request(
                "POST", "/v1/traces", body=body, headers={"Content-Type": "application/x-protobuf"}
            )
            resp = conn.getresponse()
            resp.read()
            latencies.append(time.perf_counter() - started)
            statuses[resp.status] += 1
        reader.join(5)
    finally:
        for sock in sockets:
            sock.close()
        server.terminate()
        server.wait(30)
    lat = np.array(latencies) * 1000
    answered = Counter(status for status, _ in stalled)
    figures = {
        "stalled": args.stalled,
        "body_timeout_seconds": args.body_timeout,
        "sender_requests": len(latencies),
        "sender_statuses": dict(statuses),
        "sender_latency_ms": {
            p: round(float(np.percentile(lat, q)), 1)
            for p, q in (("p50", 50), ("p99", 99), ("max", 100))
        },
        "stalled_answers": dict(answered),
        "stalled_answered_after_s": round(min((t for _, t in stalled), default=float("nan")), 2),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        latency = figures["sender_latency_ms"]
        print(
            f"{args.stalled} stalled uploads: the sender's {len(latencies)} exports of "
            f"{args.spans} spans answered {dict(statuses)}, latency p50 {latency['p50']} ms, "
            f"p99 {latency['p99']} ms, max {latency['max']} ms; stalled uploads answered "
            f"{dict(answered)}, the first after {figures['stalled_answered_after_s']} s"
        )


if __name__ == "__main__":
    main()
