"""False alarms on the demo's untouched tiers: the demo's slowdown, replayed and judged every 10 s.

The demo slows tagger-mobile 3.2.0 on galaxy-a14 phones 20 seconds into its
live stream; nothing is done to the edge and the cloud. This benchmark replays
the demo as it runs, moved into the past: one ``tierwatch simulate`` process
backfills 2 hours of history, then, after a gap as long as the demo's backfill
takes (``--gap``), a second process with a fleet of its own sends what the
demo's live stream sends, ``--minutes`` of it, through the slowdown. Both go
through ``tierwatch serve`` for each seed. It then judges ``by tier`` and ``by
tier,task`` (what the demo's tier cards and its test read) with the demo's
settings (5-minute window, the 2 hours before it) at an end every 10 seconds of
the live part. It prints how many edge and cloud segment-reports were ``warn``
or ``degraded``, and each of them, and how long after the slowdown began the
device tier was first ``degraded``.

    .venv/bin/python benchmarks/demo_tiers.py --seeds 7 8 9 1 2 3 4
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.config import AnalyticsSettings  # noqa: E402
from analytics.health import health_report  # noqa: E402
from benchmarks.steady import free_port, iso, wait_ready  # noqa: E402
from collector.db import make_engine  # noqa: E402
from simulator.scenario import NS, parse_duration  # noqa: E402

TIERWATCH = [sys.executable, "-m", "tierwatch"]


def pinned(scenario: str, live_start: datetime) -> str:
    """The scenario with its relative moments fixed, the live stream starting at ``live_start``.

    The demo's two processes resolve ``-20h`` or ``+20s`` against their own
    start; pinned, both replay processes see the same rollouts and slowdown.
    """

    def fix(match: re.Match[str]) -> str:
        sign = -1 if match[2] == "-" else 1
        offset = timedelta(seconds=sign * parse_duration(match[3]) / NS)
        return f"{match[1]}{iso(live_start + offset)}"

    return re.sub(r"^(\s*(?:start|end): )([+-])(\S+)$", fix, scenario, flags=re.MULTILINE)


def replay(seed: int, *, end: datetime, minutes: int, gap: int, rate: float, folder: Path) -> str:
    """A store with the demo's history and its live stream, begun ``minutes`` before ``end``."""
    scenario = (ROOT / "simulator" / "scenarios" / "demo.yaml").read_text()
    assert "start: +20s" in scenario, "the demo's slowdown no longer starts at +20s"
    live_start = end - timedelta(minutes=minutes)
    path = folder / "demo-past.yaml"
    path.write_text(pinned(scenario, live_start))
    db = f"sqlite:///{folder / 'demo.db'}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [*TIERWATCH, "serve", "--dev", "--port", str(port), "--db", db],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_ready(url, server)
        # the demo's backfill, and its live stream: two processes, two fleets of the same seed
        for span, until in (
            (timedelta(hours=2), live_start - timedelta(seconds=gap)),
            (timedelta(minutes=minutes), end),
        ):
            subprocess.run(
                [*TIERWATCH, "simulate", "--endpoint", url, "--scenario", str(path),
                 "--backfill", f"{span.total_seconds():.0f}s", "--rate", str(rate),
                 "--seed", str(seed), "--end", iso(until), "--quiet",
                 "--spool-dir", str(folder / "spool")],
                env=env, check=True,
            )  # fmt: skip
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument(
        "--minutes", type=int, default=40, help="how long ago the live stream began"
    )
    parser.add_argument(
        "--end",
        type=lambda text: datetime.fromisoformat(text).astimezone(UTC),
        default=datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
        help="when the replay ends, ISO 8601 (traffic follows the time of day)",
    )
    parser.add_argument(
        "--gap", type=int, default=90, help="seconds between the history and the live stream"
    )
    parser.add_argument("--rate", type=float, default=10.0, help="requests a second (the demo's)")
    args = parser.parse_args()
    settings = AnalyticsSettings(default_window="5m", default_baseline="2h")
    tally: Counter[tuple[str, str]] = Counter()
    first: dict[int, float] = {}
    began = time.monotonic()
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix="tierwatch-demo-tiers-") as tmp:
            db = replay(
                seed, end=args.end, minutes=args.minutes, gap=args.gap, rate=args.rate,
                folder=Path(tmp),
            )  # fmt: skip
            engine = make_engine(db)
            # the slowdown begins 20 seconds into the live stream
            began_at = args.end - timedelta(minutes=args.minutes) + timedelta(seconds=20)
            for k in range(args.minutes * 6 - 1, -1, -1):
                at = args.end - timedelta(seconds=10 * k)
                with engine.connect() as conn:
                    for by in (("tier",), ("tier", "task")):
                        report = health_report(
                            conn, end=at, window=timedelta(minutes=5), baseline=None,
                            by=by, fleet=None, settings=settings,
                        )  # fmt: skip
                        for segment in report.segments:
                            tier = segment.key["tier"]
                            if tier == "device":
                                if by == ("tier",) and segment.status == "degraded":
                                    first.setdefault(seed, (at - began_at).total_seconds())
                                continue
                            tally[(tier, segment.status)] += 1
                            if segment.status in ("warn", "degraded"):
                                words = "; ".join(f.explanation for f in segment.findings)
                                print(
                                    f"seed {seed} {at:%H:%M:%S} {segment.key} "
                                    f"{segment.status}: {words}"
                                )
            engine.dispose()
    for tier in ("edge", "cloud"):
        judged = sum(n for (t, s), n in tally.items() if t == tier and s != "insufficient_data")
        flagged = tally[(tier, "warn")] + tally[(tier, "degraded")]
        print(f"{tier}: {flagged} flagged of {judged} judged segment-reports")
    times = ", ".join(f"seed {seed}: {first.get(seed, float('nan')):.0f} s" for seed in args.seeds)
    print(f"device tier first degraded after the slowdown began: {times}")
    print(f"{len(args.seeds)} seeds in {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
