"""Benchmark: 50 objectives over 28 days of request rollups.

Fills an empty store with per-minute request rollups (written directly, as the
collector's assembler would have: counts, served qualities and end-to-end
latency histograms on the fixed log-scale buckets) for ``--tasks`` tasks in
``--fleets`` fleets, ``--segments`` first-tier segments each, one row per
segment every ``--every`` minutes over ``--days`` days. Then it times
:func:`analytics.objective_sums.objective_report` for 50 objectives (one per
fleet and task, latency, availability and quality each, 28-day periods): every
period and burn window is read by one grouped query per table. It does so on
minute rows only, then after folding closed hours into hourly request rollups
(as the server does in the background), ending on the hour and at :37.

    .venv/bin/python benchmarks/objectives.py --backend sqlite
    .venv/bin/python benchmarks/objectives.py --backend postgresql \
        --url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.config import Objective
from analytics.objective_sums import objective_report
from analytics.request_compaction import compact_requests
from benchmarks.scratch import scratch_database
from collector import buckets
from collector.db import make_engine
from collector.schema import REQUEST_ROLLUPS, SEGMENT_DIMENSIONS, SEGMENTS
from tierwatch.migrate import upgrade

END = 1_741_608_000  # 2025-03-10T12:00:00Z
_CHUNK = 20_000


def objectives(tasks: int, fleets: int) -> list[Objective]:
    """One objective per fleet and task, with all three kinds."""
    return [
        Objective.model_validate(
            {
                "name": f"o-{fleet}-{task}",
                "task": f"task-{task}",
                "fleet": f"fleet-{fleet}",
                "latency": {"threshold_ms": 300, "target": 0.95},
                "availability": {"target": 0.995},
                "quality": {"floor": 0.9},
                "period": "28d",
            }
        )
        for fleet in range(fleets)
        for task in range(tasks)
    ]


def fill(engine: Any, args: argparse.Namespace) -> int:
    """Write the segments and request rollups; return the rollup rows written."""
    rng = np.random.default_rng(args.seed)
    ids = []
    with engine.begin() as conn:
        for fleet in range(args.fleets):
            for task in range(args.tasks):
                for s in range(args.segments):
                    key = {d: "x" for d in SEGMENT_DIMENSIONS}
                    key |= {"fleet": f"fleet-{fleet}", "task": f"task-{task}", "node": f"n{s}"}
                    ids.append(conn.execute(insert(SEGMENTS).values(**key)).inserted_primary_key[0])
    minutes = np.arange(END - args.days * 86_400, END, 60 * args.every)
    # A few histogram shapes, reused: around 120 ms with a tail past 300 ms.
    shapes = []
    for _ in range(16):
        latencies = rng.lognormal(np.log(120), 0.5, size=20)
        histogram: dict[int, int] = {}
        for value in latencies:
            bucket = buckets.latency_bucket(float(value))
            histogram[bucket] = histogram.get(bucket, 0) + 1
        shapes.append(buckets.encode(histogram))
    written = 0
    batch: list[dict[str, object]] = []
    with engine.begin() as conn:
        for segment_id in ids:
            failed = rng.binomial(20, 0.004, size=len(minutes))
            shape = rng.integers(0, len(shapes), size=len(minutes))
            for i, minute in enumerate(minutes):
                batch.append(
                    {
                        "segment_id": segment_id,
                        "minute": int(minute),
                        "requests": 20,
                        "answered": 20 - int(failed[i]),
                        "failed": int(failed[i]),
                        "escalated": 0,
                        "served_device": 20 - int(failed[i]),
                        "served_edge": 0,
                        "served_cloud": 0,
                        "attempts_sum": 20,
                        "tiers_sum": 20,
                        "latency_ms_sum": 2400.0,
                        "latency_hist": shapes[shape[i]],
                        "quality_count": 5,
                        "quality_sum": 4.6,
                        "quality_sq_sum": 4.25,
                        "input_tokens_sum": 0,
                        "output_tokens_sum": 0,
                    }
                )
                if len(batch) >= _CHUNK:
                    conn.execute(insert(REQUEST_ROLLUPS), batch)
                    written += len(batch)
                    batch = []
        if batch:
            conn.execute(insert(REQUEST_ROLLUPS), batch)
            written += len(batch)
    return written


def run(url: str, args: argparse.Namespace) -> None:
    engine = make_engine(url)
    upgrade(engine)
    print(f"backend {engine.dialect.name}")
    t0 = time.perf_counter()
    rows = fill(engine, args)
    chosen = objectives(args.tasks, args.fleets)
    print(
        f"  filled {rows:,} request rollup rows ({args.tasks} tasks x {args.fleets} fleets x "
        f"{args.segments} segments, every {args.every} min over {args.days} days) "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    end = datetime.fromtimestamp(END, tz=UTC)
    timed(engine, chosen, end, args.repeat, "minute rows only (before compaction)")
    t0 = time.perf_counter()
    hours = compact_requests(engine, now=END, grace_seconds=0)
    print(f"  compaction: {hours} hours folded in {time.perf_counter() - t0:.1f} s")
    again = time.perf_counter()
    compact_requests(engine, now=END, grace_seconds=0)
    print(f"  a compaction pass with nothing to fold: {time.perf_counter() - again:.1f} s")
    if engine.dialect.name == "postgresql":
        # A long-lived store has planner statistics (autovacuum); a fresh bulk load has none.
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    # At :37 the last hour and the hours cut by the 5m and 30m edges are read by minute.
    for moment, when in ((end, "ending on the hour"), (end.replace(minute=37), "ending at :37")):
        timed(engine, chosen, moment, args.repeat, f"after compaction, {when}")
    engine.dispose()


def timed(engine: Any, chosen: list[Objective], end: datetime, repeat: int, label: str) -> None:
    """Time the objectives report ``repeat`` times and print the figures."""
    times = []
    report = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        with engine.connect() as conn:
            report = objective_report(conn, chosen, end=end)
        times.append(time.perf_counter() - t0)
    statuses = {s: sum(r.status == s for r in report) for s in sorted({r.status for r in report})}
    print(
        f"  {len(chosen)} objectives ({len(report)} rows), {label}: "
        f"median {statistics.median(times):.3f} s, max {max(times):.3f} s "
        f"over {repeat} runs; statuses {statuses}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--tasks", type=int, default=25)
    parser.add_argument("--fleets", type=int, default=2)
    parser.add_argument("--segments", type=int, default=1)
    parser.add_argument("--every", type=int, default=1, help="minutes between rows of a segment")
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with scratch_database(args.backend, args.url) as url:
        run(url, args)


if __name__ == "__main__":
    main()
