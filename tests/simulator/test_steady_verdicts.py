"""Nothing happens to the ``steady`` fleet, so nothing is flagged.

Four days of the built-in ``steady`` scenario (two rollouts, offline spells,
heat, a daily cycle; no degradation) go through the real SDK pipelines and
OTLP exporters into a live server and its store. The history ends at 04:00
UTC, so the last day holds the 15:00 peak and the night's trough. Reports at
several ends of that day, in every grouping the README and the issue name,
use the calendar baseline (at least three earlier days hold the same hours)
and find no segment ``warn`` or ``degraded``.

The rate is a quarter of the scenario's, so that the backfill takes well under
a minute; the busy segments still carry several hundred attempts an hour.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import Engine

from analytics.compaction import compact
from analytics.config import AnalyticsSettings
from analytics.health import HealthReport, health_report
from collector.db import make_engine
from simulator.run import Simulation
from simulator.scenario import NS, load_scenario
from tests.conftest import LiveServer, make_settings
from tierwatch.app import create_app
from tierwatch.migrate import upgrade

pytestmark = pytest.mark.slow

DAY = timedelta(days=1)
HISTORY = 4 * DAY
RATE = 0.25
#: The groupings judged: the issue's and the README's examples.
GROUPINGS = (
    ("tier",),
    ("fleet", "tier", "task"),
    ("tier", "node"),
    ("tier", "device_model"),
    ("tier", "device_model", "model_version"),
    ("tier", "task", "model", "model_version"),
)
#: Report ends, before the anchor: the end (its last hour is the night's quiet
#: one), midnight (reply-lm-1b 1.3.0 half rolled out), the busiest hour of the
#: day (traffic peaks at 15:00) and the early afternoon (tagger-mobile 3.2.0
#: five hours into its rollout).
ENDS = {
    "end": timedelta(0),
    "midnight": timedelta(hours=4),
    "busiest": timedelta(hours=12, minutes=30),
    "afternoon": timedelta(hours=15),
}


def last_four_am(now: datetime) -> datetime:
    """The latest 04:00 UTC at least ten minutes before ``now``: the daily cycle always
    sits the same way in the history, and the store's retention never touches it."""
    anchor = (now - timedelta(minutes=10)).replace(hour=4, minute=0, second=0, microsecond=0)
    return anchor if anchor <= now - timedelta(minutes=10) else anchor - DAY


@dataclass
class SteadyStore:
    engine: Engine
    url: str
    server: LiveServer
    anchor: datetime
    requests: int
    attempts: int


@pytest.fixture(scope="module")
def steady(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SteadyStore]:
    """Four days of the steady fleet in a SQLite store behind a live server.

    The server's own compaction is off while the history arrives and one pass
    runs once it is in, so that reports read hourly rollups as they do on a
    server that has been running (a pass in the middle of a long backfill loses
    hours; see ``test_backfill_compaction.py``).
    """
    tmp = tmp_path_factory.mktemp("steady")
    url = f"sqlite:///{tmp / 'steady.db'}"
    engine = make_engine(url)
    upgrade(engine)
    settings = make_settings(url, **{"analytics.compaction_interval_seconds": 0})
    app = create_app(settings, engine=engine, migrate=False)
    anchor = last_four_am(datetime.now(UTC))
    with LiveServer(app) as server:
        sim = Simulation(
            load_scenario("steady"),
            endpoint=server.url,
            spool_dir=tmp / "spool",
            rate=RATE,
            anchor_ns=int(anchor.timestamp()) * NS,
            history_ns=int(HISTORY.total_seconds()) * NS,
        )
        done = sim.backfill()
        sim.close()
        compact(engine, now=int(time.time()))
        yield SteadyStore(engine, url, server, anchor, done.requests, done.attempts)
    engine.dispose()


def judge(store: SteadyStore, end: datetime, by: tuple[str, ...]) -> HealthReport:
    """The report without a given baseline: the best one the history allows."""
    with store.engine.connect() as conn:
        return health_report(
            conn,
            end=end,
            window=timedelta(hours=1),
            baseline=None,
            by=by,
            fleet=None,
            settings=AnalyticsSettings(),
        )


def flagged(report: HealthReport) -> list[str]:
    return [
        f"{s.key} {s.status}: " + "; ".join(f.explanation for f in s.findings)
        for s in report.segments
        if s.status in ("warn", "degraded")
    ]


def test_a_steady_fleet_has_no_warn_or_degraded_segment_in_any_grouping(
    steady: SteadyStore,
) -> None:
    # a quarter of a request a second for four days; fallbacks and shadows add attempts
    assert 80_000 < steady.requests < 93_000
    assert steady.attempts > steady.requests
    flags = []
    judged = 0
    for name, before in ENDS.items():
        end = steady.anchor - before
        for by in GROUPINGS:
            report = judge(steady, end, by)
            # the store holds the same hours of at least three earlier days
            assert report.baseline.kind == "seasonal", (name, by, report.baseline)
            counts = report.status_counts()
            judged += counts["ok"]
            flags += [f"{name} ({end:%H:%M}) by {','.join(by)}: {f}" for f in flagged(report)]
    assert not flags, "\n".join(flags)
    # the reports judged segments, not only found too little data
    assert judged >= 40, judged


def test_the_api_and_the_report_command_default_to_the_calendar_baseline(
    steady: SteadyStore,
) -> None:
    end = steady.anchor.strftime("%Y-%m-%dT%H:%M:%SZ")
    body = requests.get(
        f"{steady.server.url}/api/v1/health", params={"by": "tier", "end": end}, timeout=60
    ).json()
    out = subprocess.run(
        [sys.executable, "-m", "tierwatch", "report", "--json", "--by", "tier", "--end", end,
         "--db", steady.url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert (body["baseline"]["kind"], json.loads(out)["baseline"]["kind"]) == (
        "seasonal",
        "seasonal",
    )
