"""Ingest benchmark: a tierwatch server in one process, a load generator in another.

The generator builds every OTLP protobuf request before the clock starts (500
spans each, five devices per request, realistic attributes over a few hundred
segments), then four concurrent senders post them. A 200 means stored, so the
clock stops at the last 200; the stored count is then checked against what was
sent. Reports spans stored per second, request latency percentiles and the
server's peak RSS.

    python benchmarks/ingest.py --backend sqlite
    python benchmarks/ingest.py --backend postgresql --spans 300000
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.scratch import scratch_database

DEVICE_MODELS = [f"model-{i:02d}" for i in range(24)]
APPS = [("camera-app", ["photo-tag", "ocr"]), ("assistant-app", ["speech", "assistant"])]
VERSIONS = ["2.1.0", "2.2.0", "2.3.0"]
REGIONS = ["eu-west", "us-east", "ap-south"]


def _kv(key: str, value: object) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def build_bodies(total_spans: int, spans_per_request: int, seed: int) -> list[bytes]:
    """Serialised export requests with unique ids, in time order over the last hour.

    Each request carries five devices' batches, as an edge gateway forwarding its
    devices would; a device runs one app version, one model version and its app's
    tasks, and its spans cover the few seconds since its previous export.
    """
    rng = random.Random(seed)
    requests = total_spans // spans_per_request
    per_resource = spans_per_request // 5
    now = time.time_ns()
    step = 3600 * 10**9 // max(requests, 1)
    bodies = []
    counter = 0
    for r in range(requests):
        window_start = now - 3600 * 10**9 + r * step
        request = ExportTraceServiceRequest()
        for _ in range(5):
            device = rng.randrange(20_000)
            device_rng = random.Random(device)
            app, tasks = device_rng.choice(APPS)
            version = VERSIONS[min(2, int(device_rng.random() * 3))]
            rs = ResourceSpans()
            rs.resource.attributes.extend(
                [
                    _kv("service.name", app),
                    _kv("service.version", device_rng.choice(["5.0", "5.1"])),
                    _kv("device.id", f"dev-{device}"),
                    _kv("device.model.identifier", device_rng.choice(DEVICE_MODELS)),
                    _kv("os.name", "android"),
                    _kv("hybrid.region", device_rng.choice(REGIONS)),
                    _kv("telemetry.sdk.name", "opentelemetry"),
                ]
            )
            spans = []
            for _ in range(per_resource):
                counter += 1
                tier = rng.choices(["device", "edge", "cloud"], weights=[6, 3, 1])[0]
                start = window_start + rng.randrange(step)
                latency = rng.lognormvariate({"device": 3.5, "edge": 4.0, "cloud": 5.0}[tier], 0.5)
                fallback = rng.random() < 0.1
                attrs = [
                    _kv("hybrid.tier", tier),
                    _kv("hybrid.task", rng.choice(tasks)),
                    _kv("hybrid.model.name", "tagger"),
                    _kv("hybrid.model.version", version),
                    _kv("hybrid.attempt", 1),
                    _kv("hybrid.route.reason", "policy"),
                    _kv("hybrid.fallback", fallback),
                    _kv("hybrid.confidence", rng.random()),
                    _kv("hybrid.privacy", "normal"),
                    _kv("hybrid.network", "online"),
                    _kv("hybrid.energy_mj", rng.uniform(1, 50)),
                    _kv("hybrid.thermal", "nominal"),
                ]
                if fallback:
                    attrs.append(_kv("hybrid.fallback.reason", "low_confidence"))
                spans.append(
                    Span(
                        trace_id=uuid.UUID(int=counter + (seed << 64)).bytes,
                        span_id=counter.to_bytes(8, "big"),
                        name="hybrid.inference",
                        start_time_unix_nano=start,
                        end_time_unix_nano=start + int(latency * 1e6),
                        attributes=attrs,
                        status=Status(code=Status.STATUS_CODE_UNSET),
                    )
                )
            rs.scope_spans.append(ScopeSpans(spans=spans))
            request.resource_spans.append(rs)
        bodies.append(request.SerializeToString())
    return bodies


def send_all(port: int, bodies: list[bytes], senders: int) -> tuple[float, list[float], int]:
    """Post every body from ``senders`` connections; return elapsed, latencies and retries."""
    queue = list(reversed(bodies))
    lock = threading.Lock()
    latencies: list[float] = []
    retries = [0]
    failures: list[str] = []

    def sender() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                body = queue.pop()
            while True:
                started = time.perf_counter()
                conn.request(
                    "POST",
                    "/v1/traces",
                    body=body,
                    headers={"Content-Type": "application/x-protobuf"},
                )
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    latencies.append(time.perf_counter() - started)
                    break
                if resp.status in (429, 503):
                    with lock:
                        retries[0] += 1
                    time.sleep(float(resp.getheader("Retry-After", "1")))
                    continue
                failures.append(f"HTTP {resp.status}")
                return
        conn.close()

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"requests failed: {failures[:3]}")
    return elapsed, latencies, retries[0]


def _wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("server exited during start-up")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    """Every process below ``pid`` (ingest workers, server workers), from /proc."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = task / "children"
        for child in children.read_text().split() if children.exists() else []:
            found.append(int(child))
            found.extend(_children(int(child)))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--spans", type=int, default=300_000, help="spans to send in all")
    parser.add_argument("--batch", type=int, default=500, help="spans per request")
    parser.add_argument("--senders", type=int, default=4, help="concurrent senders")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--port", type=int, default=14318)
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes (tierwatch serve --workers)"
    )
    parser.add_argument(
        "--ingest-workers",
        type=int,
        default=None,
        help="ingest worker processes of the server (collector.ingest_workers; "
        "default: unset, what plain tierwatch serve does)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    print(f"building {args.spans} spans in requests of {args.batch}...", file=sys.stderr)
    bodies = build_bodies(args.spans, args.batch, seed=7)
    sent = len(bodies) * args.batch
    log_path = Path(tempfile.mkdtemp(prefix="tierwatch-bench-")) / "server.log"
    with scratch_database(args.backend, args.postgres) as url, open(log_path, "wb") as log:
        env = {**os.environ, "TIERWATCH_DATABASE_URL": url}
        if args.ingest_workers is not None:
            env["TIERWATCH_COLLECTOR__INGEST_WORKERS"] = str(args.ingest_workers)
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tierwatch",
                "serve",
                "--dev",
                "--port",
                str(args.port),
                "--workers",
                str(args.workers),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            _wait_ready(args.port, server)
            # Warm up with one request outside the timing.
            send_all(args.port, bodies[:1], 1)
            pids = [server.pid, *_children(server.pid)]
            cpu_before = [_cpu_seconds(p) for p in pids]
            elapsed, latencies, retries = send_all(args.port, bodies[1:], args.senders)
            cpu_each = [
                _cpu_seconds(p) - before for p, before in zip(pids, cpu_before, strict=True)
            ]
            cpu = sum(cpu_each)
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
            conn.request("GET", "/api/v1/summary")
            stored = json.loads(conn.getresponse().read())["attempts"]
            rss_each = [_peak_rss_mb(pid) for pid in pids]
            rss = sum(rss_each)
        finally:
            server.terminate()
            server.wait(30)
    timed = sent - args.batch
    lat = np.array(latencies) * 1000
    figures = {
        "backend": args.backend,
        "workers": args.workers,
        "ingest_workers": args.ingest_workers,
        "spans_sent": sent,
        "spans_stored": stored,
        "seconds": round(elapsed, 2),
        "spans_per_second": round(timed / elapsed),
        "request_latency_ms": {
            "p50": round(float(np.percentile(lat, 50)), 1),
            "p95": round(float(np.percentile(lat, 95)), 1),
            "p99": round(float(np.percentile(lat, 99)), 1),
        },
        "retried_requests": retries,
        "server_cpu_us_per_span": round(cpu / (sent - args.batch) * 1e6, 1),
        "cpu_us_per_span_per_process": [round(c / (sent - args.batch) * 1e6, 1) for c in cpu_each],
        "server_peak_rss_mb": round(rss, 1),
        "peak_rss_mb_per_process": [round(r, 1) for r in rss_each],
    }
    if stored != sent:
        raise SystemExit(f"stored {stored} of {sent} spans")
    if args.json:
        print(json.dumps(figures))
    else:
        latency = figures["request_latency_ms"]
        print(
            f"{args.backend}: {figures['spans_per_second']:,} spans/s stored "
            f"({timed:,} spans in {elapsed:.1f} s, {args.workers} server process(es) with "
            f"{'default' if args.ingest_workers is None else args.ingest_workers} "
            "ingest worker(s), "
            f"{args.senders} senders, "
            f"{args.batch} spans/request); request latency p50 {latency['p50']} ms, "
            f"p95 {latency['p95']} ms, p99 {latency['p99']} ms; "
            f"server peak RSS {figures['server_peak_rss_mb']} MB in all "
            f"({' + '.join(str(r) for r in figures['peak_rss_mb_per_process'])}); "
            f"server CPU {figures['server_cpu_us_per_span']} us/span "
            f"({' + '.join(str(c) for c in figures['cpu_us_per_span_per_process'])}); "
            f"{retries} retried requests"
        )


if __name__ == "__main__":
    main()
