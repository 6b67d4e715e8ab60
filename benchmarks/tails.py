"""How many attempts above a percentile a test of it needs: false flags against power.

Twenty steady segments and one whose latency tail widens (p95 and p99 up, p50
nearly unchanged) are judged over a 5-minute window against the 2 hours before
it, cut into slices (what a young fleet, or the demo, is judged against), for
several window sizes and values of ``analytics.min_tail_attempts``. Prints, per
setting, how often the widened tail was found and how many steady segments got
a p95 or p99 finding.

Two fleets: ``independent``, where every attempt is drawn on its own, and
``clustered``, where a window's attempts come from about one device per 4.5
attempts, each device making a log-normally spread share of them, and 1.5% of
devices sit on a slow network that makes their attempts 3.5 times slower (about
how the demo's edge tier behaves: a few hot phones on a poor signal send many
slow requests at once). The clustered fleet is the one the minimum is picked on.

    .venv/bin/python benchmarks/tails.py --seeds 30
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.aggregates import combine
from analytics.config import AnalyticsSettings
from analytics.health import evaluate_health, plan_for
from analytics.judge import Observed
from tests.analytics.synthetic import (
    Profile,
    sample_aggregates,
    segment_key,
    segments_frame,
)

KEYS = [segment_key(device_model=f"class-{i}") for i in range(20)]
SEGMENTS = segments_frame(KEYS)
WIDENED = int(SEGMENTS.index[0])
TAILS = ("latency_p95_ms", "latency_p99_ms")
SLICES = 24
END = datetime(2025, 1, 2, 12, tzinfo=UTC)


def profile(n: int, *, clustered: bool, widened: bool = False) -> Profile:
    """A steady (or widened-tail) segment of ``n`` attempts a window."""
    sigma = 0.75 if widened else 0.5
    if not clustered:
        return Profile(attempts=n, latency_sigma=sigma)
    return Profile(
        attempts=n,
        latency_sigma=sigma,
        sources=max(round(n / 4.5), 1),
        slow_sources=0.015,
        slow_factor=3.5,
        source_activity_sigma=1.1,
    )


def tally(n: int, tail: int, *, clustered: bool, seeds: int) -> Counter[str]:
    """Found and falsely flagged tails over ``seeds`` reports."""
    settings = AnalyticsSettings(
        min_tail_attempts=tail, default_window="5m", default_baseline="2h", drift_after=None
    )
    plan = plan_for(END, window=timedelta(minutes=5), baseline=None, settings=settings)
    assert len(plan.slices) == SLICES
    out: Counter[str] = Counter()
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        window = {i: profile(n, clustered=clustered) for i in SEGMENTS.index}
        window[WIDENED] = profile(n, clustered=clustered, widened=True)
        slices = tuple(
            sample_aggregates({i: profile(n, clustered=clustered) for i in SEGMENTS.index}, rng)
            for _ in range(SLICES)
        )
        observed = Observed(
            SEGMENTS,
            sample_aggregates(window, rng),
            combine(slices),
            slices=slices,
        )
        report = evaluate_health(
            observed, plan, by=("device_model",), fleet=None, settings=settings
        )
        for segment in report.segments:
            hit = any(f.metric in TAILS and f.direction == "worse" for f in segment.findings)
            if segment.key["device_model"] == KEYS[0]["device_model"]:
                out["found"] += hit
            else:
                out["steady"] += 1
                out["flagged"] += hit
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--tails", type=int, nargs="+", default=[5, 10, 20, 30, 40])
    args = parser.parse_args()
    print(f"{'fleet':>11} {'window attempts':>15} {'min_tail':>8} {'found':>7} {'flagged':>10}")
    for clustered in (False, True):
        for n in (200, 500, 1000, 3000):
            for tail in args.tails:
                t = tally(n, tail, clustered=clustered, seeds=args.seeds)
                fleet = "clustered" if clustered else "independent"
                found = f"{t['found']}/{args.seeds}"
                flagged = f"{t['flagged']}/{t['steady']}"
                print(f"{fleet:>11} {n:>15} {tail:>8} {found:>7} {flagged:>10}", flush=True)


if __name__ == "__main__":
    main()
