"""Found and false-flag rates of the health report over a week with a daily rhythm.

Draws every scenario of ``tests/analytics/week.py`` for many seeds, judges the
busiest hour of its last day by every grouping, and prints per scenario and
grouping how often the injected problem was found and what share of untouched
segments was flagged (warn or degraded).

    .venv/bin/python benchmarks/accuracy.py --seeds 40
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.config import AnalyticsSettings
from analytics.health import evaluate_health
from tests.analytics.week import GROUPINGS, HISTORY_DAYS, SCENARIOS, found, observe, touches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40, help="seeds per scenario (default 40)")
    parser.add_argument("--first-seed", type=int, default=1000, help="first seed (default 1000)")
    parser.add_argument(
        "--history-days",
        type=float,
        default=HISTORY_DAYS,
        help=f"days of data before the window ends (default {HISTORY_DAYS}; under 4 the "
        "calendar is too short and the period before the window is judged by its slices)",
    )
    args = parser.parse_args()
    settings = AnalyticsSettings()
    print(f"{'scenario':9} {'grouping':34} {'found':>8} {'flagged':>14}")
    for name, scenario in SCENARIOS.items():
        tallies = {by: Counter() for by in GROUPINGS}
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            observed, plan = observe(
                scenario, seed=seed, settings=settings, history_days=args.history_days
            )
            for by in GROUPINGS:
                report = evaluate_health(observed, plan, by=by, fleet=None, settings=settings)
                tally = tallies[by]
                tally["reports"] += 1
                tally["found"] += found(report, scenario)
                for segment in report.segments:
                    if not touches(segment.key, scenario.problem):
                        tally["untouched"] += 1
                        tally["flagged"] += segment.status in ("warn", "degraded")
        for by, t in tallies.items():
            shown = f"{t['found']}/{t['reports']}" if scenario.problem else "-"
            rate = t["flagged"] / max(t["untouched"], 1)
            flagged = f"{t['flagged']}/{t['untouched']} {rate:.1%}"
            print(f"{name:9} {','.join(by):34} {shown:>8} {flagged:>14}")


if __name__ == "__main__":
    main()
