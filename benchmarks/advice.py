"""Benchmark: ``GET /api/v1/advice`` over a week of 10 million attempts.

Fills an empty store with the advice rollups that ``--attempts`` local attempts
over ``--hours`` hours fold into (per fleet, task, local tier, model, hour and
confidence bucket: realistic counts, labelled quality, fallbacks, cloud
outcomes and sparse latency histograms, written directly as the advice pass
would have written them), then times the what-if through the real app: the
week for one task of one fleet, and for one task over every fleet. It also
times the advice pass itself over one hour of raw attempts written through the
collector's store (``--fold-attempts``, the hour's share of the week).

    .venv/bin/python benchmarks/advice.py --backend sqlite
    .venv/bin/python benchmarks/advice.py --backend postgresql \
        --url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.advice_rollups import ADVICE_BUCKETS, fold_advice
from benchmarks.scratch import scratch_database
from collector import buckets
from collector.db import make_engine
from collector.normalise import AttemptRow, Batch
from collector.schema import ADVICE_ROLLUPS
from collector.store import Store
from tierwatch.app import create_app
from tierwatch.migrate import upgrade
from tierwatch.settings import load_settings

END = 1_764_000_000 // 3600 * 3600
THRESHOLD = 85
TIERS = ("device", "edge")


def _histogram(rng: np.random.Generator, count: int, median_ms: float) -> str:
    """A sparse latency histogram of ``count`` log-normal latencies around ``median_ms``."""
    if count <= 0:
        return "{}"
    values = rng.lognormal(np.log(median_ms), 0.35, size=min(count, 64))
    index = np.ceil(np.log(values) / np.log(buckets.GAMMA)).astype(int)
    found, counts = np.unique(index, return_counts=True)
    scaled = np.maximum(np.rint(counts * count / counts.sum()), 1).astype(int)
    return buckets.encode(dict(zip(found.tolist(), scaled.tolist(), strict=True)))


def advice_rows(args: argparse.Namespace) -> list[dict[str, object]]:
    """The advice rollups of the week: ``--attempts`` spread over keys, hours and confidence."""
    rng = np.random.default_rng(7)
    keys = [
        (f"fleet-{f}", f"task-{t}", tier, f"model-{t}-{tier}")
        for f in range(args.fleets)
        for t in range(args.tasks)
        for tier in TIERS
    ]
    # Confidence like a good local model's: Beta(8, 2), in 100 buckets.
    edges = np.linspace(0, 1, ADVICE_BUCKETS + 1)
    from scipy import stats

    shares = np.diff(stats.beta(8, 2).cdf(edges))
    per_cell = args.attempts / (len(keys) * args.hours)
    rows: list[dict[str, object]] = []
    for fleet, task, tier, model in keys:
        for h in range(args.hours):
            hour = END - (args.hours - h) * 3600
            counts = rng.poisson(per_cell * shares)
            for b in np.nonzero(counts)[0]:
                n = int(counts[b])
                c = (b + 0.5) / ADVICE_BUCKETS
                forced = int(rng.binomial(n, 0.08))
                governed = n - forced
                low = governed if b < THRESHOLD else 0
                labelled = int(rng.binomial(governed, 0.3 if b >= THRESHOLD else 1.0))
                right = int(rng.binomial(labelled, c))
                cloud_labelled = int(rng.binomial(low, 0.3))
                cloud_right = int(rng.binomial(cloud_labelled, 0.95))
                rows.append(
                    {
                        "fleet": fleet,
                        "task": task,
                        "tier": tier,
                        "model": model,
                        "hour": hour,
                        "bucket": int(b),
                        "attempts": n,
                        "forced": forced,
                        "low_confidence": low,
                        "local_quality_count": labelled,
                        "local_quality_sum": float(right),
                        "local_quality_sq_sum": float(right),
                        "local_latency_ms_sum": 80.0 * governed,
                        "energy_count": n if tier == "device" else 0,
                        "energy_mj_sum": 200.0 * n if tier == "device" else 0.0,
                        "local_input_tokens_sum": 0,
                        "local_output_tokens_sum": 0,
                        "escalated": low,
                        "cloud_quality_count": cloud_labelled,
                        "cloud_quality_sum": float(cloud_right),
                        "cloud_quality_sq_sum": float(cloud_right),
                        "cloud_energy_mj_sum": 0.0,
                        "cloud_input_tokens_sum": 0,
                        "cloud_output_tokens_sum": 0,
                        "forced_cloud": forced // 2,
                        "forced_quality_count": 0,
                        "forced_quality_sum": 0.0,
                        "forced_quality_sq_sum": 0.0,
                        "forced_energy_mj_sum": 0.0,
                        "forced_input_tokens_sum": 0,
                        "forced_output_tokens_sum": 0,
                        "local_latency_hist": _histogram(rng, governed, 80.0),
                        "cloud_latency_hist": _histogram(rng, low, 150.0),
                        "forced_latency_hist": _histogram(rng, forced, 400.0),
                    }
                )
    return rows


def fold_hour(url: str, attempts: int) -> tuple[float, int]:
    """Seconds the advice pass takes over one hour of ``attempts`` raw attempts."""
    engine = make_engine(url)
    rng = np.random.default_rng(3)
    hour = END
    rows: list[AttemptRow] = []
    import dataclasses

    from tests.analytics.attempts import BASE

    i = 0
    while len(rows) < attempts:
        trace = i.to_bytes(16, "big")
        at = hour * 1_000_000_000 + int(rng.integers(0, 3600 * 10**9))
        c = float(rng.beta(8, 2))
        low = c < THRESHOLD / 100
        rows.append(
            dataclasses.replace(
                BASE, trace_id=trace, span_id=(2 * i).to_bytes(8, "big"),
                start_time_unix_nano=at, confidence=c, fallback=low,
                fallback_reason="low_confidence" if low else None,
                quality=float(rng.random() < c) if low or rng.random() < 0.3 else None,
                latency_ms=float(rng.lognormal(np.log(80), 0.3)),
            )
        )  # fmt: skip
        if low:
            rows.append(
                dataclasses.replace(
                    BASE, trace_id=trace, span_id=(2 * i + 1).to_bytes(8, "big"),
                    start_time_unix_nano=at + 200_000_000, tier="cloud", confidence=None,
                    latency_ms=float(rng.lognormal(np.log(150), 0.3)), model="large",
                )
            )  # fmt: skip
        i += 1
    for start in range(0, len(rows), 20_000):
        Store(engine).write(Batch(attempts=rows[start : start + 20_000]), received_ns=hour * 10**9)
    began = time.perf_counter()
    folded = fold_advice(engine, now=hour + 2 * 3600)
    took = time.perf_counter() - began
    engine.dispose()
    assert folded == 1
    return took, len(rows)


def run(url: str, args: argparse.Namespace) -> None:
    engine = make_engine(url)
    upgrade(engine)
    began = time.perf_counter()
    rows = advice_rows(args)
    with engine.begin() as conn:
        for start in range(0, len(rows), 20_000):
            conn.execute(insert(ADVICE_ROLLUPS), rows[start : start + 20_000])
    total = sum(int(r["attempts"]) for r in rows)  # type: ignore[call-overload]
    print(
        f"store: {len(rows):,} advice rows for {total:,} attempts "
        f"({time.perf_counter() - began:.1f} s to build)"
    )
    # The app alone: no ingest workers, background passes or alert loop beside the requests.
    settings = load_settings(
        None,
        **{
            "database.url": url,
            "server.dev": True,
            "collector.ingest_workers": 0,
            "analytics.compaction_interval_seconds": 0,
            "server.prune_interval_seconds": 0,
            "alerts.enabled": False,
        },
    )
    app = create_app(settings, engine=engine, migrate=False)
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(END))
    queries = {
        "one fleet": f"/api/v1/advice?task=task-0&fleet=fleet-0&window=7d&end={end}"
        "&quality_floor=0.9",
        "every fleet": f"/api/v1/advice?task=task-0&window=7d&end={end}&quality_floor=0.9",
    }
    with TestClient(app) as client:
        for name, query in queries.items():
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                response = client.get(query)
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
            body = response.json()
            print(
                f"GET /api/v1/advice ({name}, {body['attempts']:,} attempts of task-0 on "
                f"{body['tier']}): first {times[0]:.3f} s, median {statistics.median(times):.3f} s "
                f"over {args.repeat}; recommended "
                f"{body['recommended']['threshold'] if body['recommended'] else None}"
            )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--attempts", type=int, default=10_000_000)
    parser.add_argument("--hours", type=int, default=168)
    parser.add_argument("--fleets", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--fold-attempts",
        type=int,
        default=60_000,
        help="Raw attempts in the hour the advice pass is timed on (0: skip).",
    )
    args = parser.parse_args()
    with scratch_database(args.backend, args.url) as url:
        run(url, args)
    if args.fold_attempts:
        with scratch_database(args.backend, args.url) as url:
            upgrade(make_engine(url))
            took, stored = fold_hour(url, args.fold_attempts)
            print(f"advice pass: one hour of {stored:,} raw attempts folded in {took:.2f} s")


if __name__ == "__main__":
    main()
