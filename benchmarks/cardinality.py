"""Health reports over a store of 50,000 segments: time and peak memory of one request.

Builds a store such as a sender with a new ``hybrid.task`` and
``device.model.identifier`` on every span leaves behind (before limits, or from
before them): ``--segments`` device segments, each with its own task and device
model, with a few minutes of attempts in the window, the day before and the same
hour of seven earlier days. Then, for each ``by``, a fresh process answers one
``GET /api/v1/health?by=...`` through the app and reports its wall time, its
peak resident memory (``ru_maxrss``) and, in a second run, the peak of Python
allocations (tracemalloc).

    python benchmarks/cardinality.py
    python benchmarks/cardinality.py --segments 50000 --by tier,task --by tier,device_model
    python benchmarks/cardinality.py --code /path/to/other/checkout   # the same store, other code
    python benchmarks/cardinality.py --db sqlite:///card.db --end 2026-11-30T09:00:00Z  # keep it
"""

from __future__ import annotations

import argparse
import calendar
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The checkout whose code answers the reports (``--code``); this one by default.
CODE_VARIABLE = "TIERWATCH_BENCH_CODE"
sys.path.insert(0, os.environ.get(CODE_VARIABLE, str(ROOT)))

DAY = 86_400


def build(url: str, *, segments: int, end_s: int) -> int:
    """Write ``segments`` segments and their rollups; return the rollup rows written."""
    from sqlalchemy import insert

    from collector.db import make_engine
    from collector.rollup import HISTOGRAM_COLUMNS, SUM_COLUMNS
    from collector.schema import ROLLUPS, SEGMENTS
    from tierwatch.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    keys = [
        {
            "fleet": "acme",
            "tier": ("device", "device", "edge")[i % 3],
            "task": f"task-{i}",
            "model": "tagger",
            "model_version": "2.1.0",
            "device_model": f"build-{i}",
            "region": "eu",
            "app_version": "5.0",
            "node": "",
        }
        for i in range(segments)
    ]
    with engine.begin() as conn:
        for offset in range(0, segments, 5_000):
            conn.execute(insert(SEGMENTS), keys[offset : offset + 5_000])
    window = end_s - 3600
    # minutes with attempts: two in the window, two in the hour before, one at the same
    # hour of each of seven earlier days
    minutes = [window + 600, window + 1800, window - 1200, window - 2400]
    minutes += [window + 900 - d * DAY for d in range(1, 8)]
    rows = []
    for segment_id in range(1, segments + 1):
        for k, minute in enumerate(minutes):
            count = 3 + (segment_id + k) % 5
            row = dict.fromkeys(SUM_COLUMNS, 0)
            row.update(
                segment_id=segment_id,
                minute=minute,
                shadow=False,
                attempts=count,
                requests=count,
                errors=(segment_id + k) % 2,
                latency_ms_sum=40.0 * count,
                confidence_count=count,
                confidence_sum=0.8 * count,
                confidence_sq_sum=0.65 * count,
            )
            row[HISTOGRAM_COLUMNS[0]] = f'{{"{90 + (segment_id % 7)}":{count}}}'
            row[HISTOGRAM_COLUMNS[1]] = f'{{"16":{count}}}'
            rows.append(row)
    with engine.begin() as conn:
        for offset in range(0, len(rows), 20_000):
            conn.execute(insert(ROLLUPS), rows[offset : offset + 20_000])
    engine.dispose()
    return len(rows)


def measure(url: str, by: str, end: str, *, trace: bool) -> dict[str, object]:
    """One report through the app in this process: seconds, peak RSS, peak traced bytes."""
    from fastapi.testclient import TestClient

    from tierwatch.app import create_app
    from tierwatch.settings import load_settings

    settings = load_settings(
        None,
        **{
            "database.url": url,
            "server.dev": True,
            "collector.ingest_workers": 0,
            "alerts.enabled": False,
        },
    )
    app = create_app(settings, migrate=False)
    with TestClient(app) as client:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        answer = client.get(f"/api/v1/health?window=1h&by={by}&end={end}")
        seconds = time.perf_counter() - started
        peak_traced = tracemalloc.get_traced_memory()[1] if trace else None
        if trace:
            tracemalloc.stop()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    answer.raise_for_status()
    body = answer.json()
    return {
        "by": by,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(rss / 1024, 1),
        "rss_before_mb": round(before / 1024, 1),
        "peak_traced_mb": round(peak_traced / 2**20, 1) if peak_traced is not None else None,
        "segments_reported": len(body["segments"]),
        "warnings": body.get("warnings", []),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=50_000)
    parser.add_argument("--by", action="append", help="report dimensions (repeatable)")
    parser.add_argument("--code", help="measure with the tierwatch checkout in this folder")
    parser.add_argument("--db", help="an existing store built by this script (kept)")
    parser.add_argument(
        "--end",
        help="the hour the store ends at (with --db: when it was built), 2026-11-30T09:00:00Z",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--measure", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        url, by, end, trace = args.measure
        print(json.dumps(measure(url, by, end, trace=trace == "1")))
        return
    bys = args.by or ["tier,task", "tier,device_model"]
    if args.end:
        end_s = int(calendar.timegm(time.strptime(args.end, "%Y-%m-%dT%H:%M:%SZ"))) // 3600 * 3600
    else:
        end_s = int(time.time()) // 3600 * 3600
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end_s))
    with tempfile.TemporaryDirectory(prefix="tierwatch-card-") as tmp:
        url = args.db or f"sqlite:///{tmp}/card.db"
        if not args.db or not Path(url.removeprefix("sqlite:///")).exists():
            started = time.perf_counter()
            rows = build(url, segments=args.segments, end_s=end_s)
            print(
                f"built {args.segments:,} segments, {rows:,} rollup rows "
                f"in {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
        env = dict(os.environ)
        code = str(Path(args.code).resolve()) if args.code else str(ROOT)
        env["PYTHONPATH"] = code
        env[CODE_VARIABLE] = code
        results = []
        for by in bys:
            for trace in ("0", "1"):
                out = subprocess.run(
                    [sys.executable, __file__, "--measure", url, by, end, trace],
                    env=env,
                    cwd=code,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    if args.json:
        print(json.dumps(results))
        return
    for r in results:
        traced = f", peak traced {r['peak_traced_mb']} MB" if r["peak_traced_mb"] else ""
        print(
            f"by={r['by']}: {r['seconds']} s, peak RSS {r['peak_rss_mb']} MB "
            f"(before the request {r['rss_before_mb']} MB){traced}, "
            f"{r['segments_reported']} segments reported"
        )


if __name__ == "__main__":
    main()
