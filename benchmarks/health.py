"""Benchmark: a full health report over a store of 10 million attempts.

Fills an empty store with per-minute rollups worth ``--attempts`` attempts across
``--segments`` segments and ``--hours`` hours of history (the rollups are written
directly, as the collector would have rolled those attempts up: realistic
counts, sums and log-scale latency and confidence histograms; raw attempt rows
are not written, as a report never reads them). A few segments degrade in the
last hour, so findings and attribution run too. Then it folds closed hours into
hourly rollups (as the server does in the background) and times full reports:
every segment (``by`` all nine dimensions) and the default ``fleet,tier,task``,
1h window against a 24h baseline, all metrics, Benjamini-Hochberg over all tests.

    .venv/bin/python benchmarks/health.py --backend sqlite
    .venv/bin/python benchmarks/health.py --backend postgresql \
        --url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from scipy import stats
from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.compaction import compact
from analytics.config import AnalyticsSettings
from analytics.health import HealthReport, health_report
from benchmarks.scratch import scratch_database
from collector import buckets
from collector.db import make_engine
from collector.rollup import HISTOGRAM_COLUMNS, SUM_COLUMNS
from collector.schema import ROLLUPS, SEGMENT_DIMENSIONS, SEGMENTS
from tierwatch.migrate import upgrade

ALL_DIMENSIONS = list(SEGMENT_DIMENSIONS)
DEFAULT_BY = ["fleet", "tier", "task"]
LATENCY_BUCKETS = np.arange(buckets.MIN_LATENCY_BUCKET, buckets.MAX_LATENCY_BUCKET + 1)
_EDGES = buckets.GAMMA ** np.concatenate([[LATENCY_BUCKETS[0] - 1], LATENCY_BUCKETS])
COLUMNS = ["segment_id", "minute", "shadow", *SUM_COLUMNS, *HISTOGRAM_COLUMNS]


def segment_keys(count: int) -> list[dict[str, str]]:
    """``count`` (at most 288) distinct segments: fleets, tiers, tasks, regions, device models."""
    keys = []
    for i in range(count):
        tier = ("device", "device", "device", "device", "edge", "cloud")[i % 6]
        keys.append(
            {
                "fleet": f"fleet-{i % 2}",
                "tier": tier,
                "task": ("photo-tag", "speech", "search")[i % 3],
                "model": "tagger",
                "model_version": "2.2.0" if i % 5 == 0 else "2.1.0",
                "device_model": f"phone-{(i // 24) % 12}" if tier == "device" else "",
                "region": ("eu", "us", "apac", "latam")[(i // 6) % 4],
                "app_version": f"5.{i % 3}",
                "node": f"{tier}-{(i // 24) % 12}" if tier != "device" else "",
            }
        )
    return keys


def _sparse(counts: np.ndarray, offset: int) -> str:
    (nonzero,) = np.nonzero(counts)
    return "{" + ",".join(f'"{j + offset}":{counts[j]}' for j in nonzero) + "}"


def segment_rows(
    segment_id: int,
    *,
    rate: float,
    minutes: np.ndarray,
    degraded_from: int | None,
    rng: np.random.Generator,
) -> list[tuple]:
    """The rollup rows of one segment: one per minute."""
    m = len(minutes)
    n = rng.poisson(rate, m)
    bad = (minutes >= degraded_from) if degraded_from is not None else np.zeros(m, bool)
    error_p = np.where(bad, 0.06, 0.03)
    median = 80.0 * (1 + (segment_id % 9) / 3)
    medians = np.where(bad, median * 1.4, median)
    sigma = 0.55
    errors = rng.binomial(n, error_p)
    fallbacks = rng.binomial(n, 0.05)
    confidence_n = n
    quality_n = rng.binomial(n, 0.3)
    # Latency histograms: multinomial over the log-scale buckets of a log-normal.
    cdf_normal = stats.norm.cdf((np.log(_EDGES) - np.log(median)) / sigma)
    cdf_bad = stats.norm.cdf((np.log(_EDGES) - np.log(median * 1.4)) / sigma)
    p_normal, p_bad = np.diff(cdf_normal), np.diff(cdf_bad)
    p_normal, p_bad = p_normal / p_normal.sum(), p_bad / p_bad.sum()
    latency = np.where(bad[:, None], rng.multinomial(n, p_bad), rng.multinomial(n, p_normal))
    cprobs = np.diff(stats.beta.cdf(np.linspace(0, 1, 21), 16, 4))
    confidence = rng.multinomial(confidence_n, cprobs / cprobs.sum())
    mids = (np.arange(20) + 0.5) / 20
    rows = []
    offset = int(LATENCY_BUCKETS[0])
    # Keep only columns with any count, so that building the JSON is cheap.
    used = np.nonzero(latency.sum(axis=0))[0]
    for k in range(m):
        count = int(n[k])
        if count == 0:
            continue
        lat_row = np.zeros(len(LATENCY_BUCKETS), dtype=np.int64)
        lat_row[used] = latency[k, used]
        q_sum = quality_n[k] * 0.8
        rows.append(
            (
                segment_id,
                int(minutes[k]),
                False,
                count,  # attempts
                count,  # requests
                int(errors[k]),
                int(fallbacks[k]),
                int(fallbacks[k]),  # fallback_low_confidence
                0,
                0,
                0,
                0,
                0,
                0,
                0,  # fallback_other
                0,  # cloud_escalations
                0,  # sensitive
                0,  # privacy_violations
                0,  # offline
                0,  # thermal_throttled
                float(count * medians[k] * np.exp(sigma * sigma / 2)),
                int(confidence_n[k]),
                float(confidence[k] @ mids),
                float(confidence[k] @ (mids * mids)),
                int(quality_n[k]),
                float(q_sum),
                float(quality_n[k] * (0.64 + 0.01)),
                count,  # energy_count
                float(count * 4.2),  # energy_mj_sum
                float(count * (4.2 * 4.2 + 1.0)),  # energy_mj_sq_sum
                0,
                0,
                _sparse(lat_row, offset),
                _sparse(confidence[k], 0),
            )
        )
    return rows


def fill(engine, *, attempts: int, segments: int, hours: int, end_s: int, seed: int) -> int:
    """Write segments and minute rollups worth ``attempts`` attempts; return rollup rows."""
    rng = np.random.default_rng(seed)
    keys = segment_keys(segments)
    with engine.begin() as conn:
        conn.execute(insert(SEGMENTS), keys)
        ids = [row[0] for row in conn.execute(text("SELECT id FROM segments ORDER BY id"))]
    minutes = np.arange(end_s - hours * 3600, end_s, 60)
    # Busy and quiet segments: log-normal weights that add up to the total.
    weights = rng.lognormal(0, 0.8, segments)
    rates = weights / weights.sum() * attempts / len(minutes)
    degraded_from = end_s - 3600
    total = 0
    postgres = engine.dialect.name == "postgresql"
    for index, (segment_id, rate) in enumerate(zip(ids, rates, strict=True)):
        rows = segment_rows(
            segment_id,
            rate=float(rate),
            minutes=minutes,
            degraded_from=degraded_from if index % 40 == 7 else None,
            rng=rng,
        )
        total += len(rows)
        if postgres:
            raw = engine.raw_connection()
            try:
                cursor = raw.cursor()
                with cursor.copy(f"COPY rollups ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                raw.commit()
            finally:
                raw.close()
        else:
            with engine.begin() as conn:
                conn.execute(insert(ROLLUPS), [dict(zip(COLUMNS, r, strict=True)) for r in rows])
    return total


def attempts_stored(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT SUM(attempts) FROM rollups")).scalar() or 0)


def timed_report(engine, *, end: datetime, by: list[str], settings: AnalyticsSettings):
    start = time.perf_counter()
    with engine.connect() as conn:
        report = health_report(
            conn,
            end=end,
            window=timedelta(hours=1),
            baseline=None,
            by=by,
            fleet=None,
            settings=settings,
        )
    return time.perf_counter() - start, report


def describe(report: HealthReport) -> str:
    counts = report.status_counts()
    findings = sum(len(s.findings) for s in report.segments)
    return (
        f"{len(report.segments)} segments, {report.tests} tests, {findings} findings "
        f"({', '.join(f'{n} {k}' for k, n in counts.items())})"
    )


def run(url: str, args: argparse.Namespace) -> None:
    engine = make_engine(url)
    upgrade(engine)
    # End a few minutes into an hour, so that both windows have minute-rollup edges.
    end_s = 1_735_819_200 + 37 * 60
    end = datetime.fromtimestamp(end_s, tz=UTC)
    settings = AnalyticsSettings()
    print(f"backend {engine.dialect.name}")
    t0 = time.perf_counter()
    rows = fill(
        engine,
        attempts=args.attempts,
        segments=args.segments,
        hours=args.hours,
        end_s=end_s,
        seed=args.seed,
    )
    print(
        f"  filled {rows:,} minute rollups = {attempts_stored(engine):,} attempts, "
        f"{args.segments} segments, {args.hours} h, in {time.perf_counter() - t0:.1f} s"
    )
    uncompacted, _ = timed_report(engine, end=end, by=ALL_DIMENSIONS, settings=settings)
    print(f"  report before compaction (minute rollups only): {uncompacted:.2f} s")
    t0 = time.perf_counter()
    hours = compact(engine, now=end_s, grace_seconds=0)
    print(f"  compaction: {hours} hours folded in {time.perf_counter() - t0:.1f} s")
    # A report ending mid-hour reads minute rollups for every period's two partial hours;
    # one ending on the hour reads only hourly rows.
    on_the_hour = end.replace(minute=0)
    for moment, when in ((end, "ending at :37"), (on_the_hour, "ending on the hour")):
        for by in (ALL_DIMENSIONS, DEFAULT_BY):
            times = []
            report = None
            for _ in range(args.repeat):
                elapsed, report = timed_report(engine, end=moment, by=by, settings=settings)
                times.append(elapsed)
            assert report is not None
            label = (
                "every segment (by all 9 dimensions)"
                if by is ALL_DIMENSIONS
                else "by fleet,tier,task"
            )
            print(
                f"  report {label}, {when}: median {statistics.median(times):.3f} s, "
                f"max {max(times):.3f} s over {args.repeat} runs; {describe(report)}"
            )
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        timed_report(engine, end=end, by=ALL_DIMENSIONS, settings=settings)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
    tracemalloc.start()
    timed_report(engine, end=end, by=ALL_DIMENSIONS, settings=settings)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  peak memory of one report: {peak / 2**20:.1f} MiB allocated (tracemalloc); "
        f"process max RSS {rss:.0f} MiB"
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--attempts", type=int, default=10_000_000)
    parser.add_argument("--segments", type=int, default=240)
    parser.add_argument(
        "--hours", type=int, default=193, help="history: 8 days (calendar and drift) + 1h window"
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--profile", action="store_true", help="print where one full report spends its time"
    )
    args = parser.parse_args()
    with scratch_database(args.backend, args.url) as url:
        run(url, args)


if __name__ == "__main__":
    main()
