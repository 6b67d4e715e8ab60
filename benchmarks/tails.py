"""How many attempts above a percentile a test of it needs: false flags against power.

Twenty steady segments and one whose latency tail widens (p95 and p99 up, p50
nearly unchanged) are judged over a short window against a 2h baseline (the
period before it, as a young segment or an explicit baseline is) for several
window sizes and values of ``analytics.min_tail_attempts``. Prints, per setting,
how often the widened tail was found and how many steady segments got a p95 or
p99 finding.

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30)
    args = parser.parse_args()
    print(f"{'window attempts':>15} {'min_tail':>8} {'found':>7} {'steady flagged':>16}")
    for n in (200, 500, 1000, 3000):
        for tail in (1, 5, 10, 20):
            settings = AnalyticsSettings(min_tail_attempts=tail)
            plan = plan_for(
                datetime(2025, 1, 2, 12, tzinfo=UTC),
                window=timedelta(minutes=5),
                baseline=timedelta(hours=2),
                settings=settings,
            )
            tally: Counter[str] = Counter()
            for seed in range(args.seeds):
                rng = np.random.default_rng(seed)
                window = {i: Profile(attempts=n) for i in SEGMENTS.index}
                window[WIDENED] = Profile(attempts=n, latency_sigma=0.75)
                observed = Observed(
                    SEGMENTS,
                    sample_aggregates(window, rng),
                    sample_aggregates({i: Profile(attempts=n * 24) for i in SEGMENTS.index}, rng),
                )
                report = evaluate_health(
                    observed, plan, by=("device_model",), fleet=None, settings=settings
                )
                for segment in report.segments:
                    hit = any(
                        f.metric in TAILS and f.direction == "worse" for f in segment.findings
                    )
                    if segment.key["device_model"] == KEYS[0]["device_model"]:
                        tally["found"] += hit
                    else:
                        tally["steady"] += 1
                        tally["flagged"] += hit
            found = f"{tally['found']}/{args.seeds}"
            flagged = f"{tally['flagged']}/{tally['steady']}"
            print(f"{n:>15} {tail:>8} {found:>7} {flagged:>16}")


if __name__ == "__main__":
    main()
